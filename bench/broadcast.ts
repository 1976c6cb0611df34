/**
 * `npm run bench -- broadcast`: broadcast fan-out speed and AWS requests per recipient, on the
 * local engine (dynalite + change capture + stream consumers + in-process queues), with the
 * email provider stubbed at the adapter: a middleware on the SESv2 client answers `SendEmail`
 * itself, so `SesMailer` builds every request as on AWS but nothing reaches aws-ses-v2-local.
 *
 * Part A (end to end, run first on the small table): BENCH_E2E_RECIPIENTS (2,000) real profiles
 * with an email address, ingested over HTTP and evaluated into an audience by the stream router.
 * One "now" broadcast through the HTTP API, then everything it causes until it is `sent`:
 * fan-out, sender (claim, message log, rate limit, SendEmail, finish), SES feedback (Send and
 * Delivery events), the counters kept by the stream router, the outbox. Requests are counted:
 * - DynamoDB: on the capturing client the application uses, by operation and by the item they
 *   address (bench/lib/request-counter.ts); the change capture's own requests (raw client) are
 *   left out, as on AWS DynamoDB Streams does that work.
 * - SQS: every `Queue.send` is counted as the SqsQueue adapter issues it (SendMessageBatch of at
 *   most 10 entries and 256 KiB); feedback events count one SendMessage each (on AWS the
 *   EventBridge rule target puts each SES event on the queue); receives and deletes are
 *   estimated as a Lambda event source mapping makes them: one ReceiveMessage and one
 *   DeleteMessageBatch per full batch (send, feedback: 10; fan-out: 5), empty polls left out.
 * - SES: SendEmail calls on the SESv2 client. EventBridge PutEvents (outbox) as the adapter
 *   batches them (10 entries) is shown too.
 *
 * Part B (fan-out at scale): an audience defined through the API with a rule that matches
 * nobody, then BENCH_RECIPIENTS (100,000) member-shard items (`AUDM#<audience>#<shard>`, as
 * the router projects them from memberships) and the 16 shard counters written directly with
 * BatchWriteItem on the raw client (no stream records, no profiles): seeding 100,000 profiles
 * through ingestion and evaluation would take minutes on dynalite. A "now" broadcast is
 * created through the HTTP API; the time to enqueue all is from the POST until every shard's
 * fan-out is complete (`FANOUTDONE#`, `fanoutRemaining == 0`) and the send queue has received
 * every recipient. During part B the `send` messages go to a second LocalQueues without a
 * consumer (the real local enqueue: encoding, limits, storage; its `onSend` hook timestamps
 * them), so that no sender competes with the fan-out for the CPU; the broadcast is cancelled
 * afterwards.
 *
 * Settings (environment, optional): BENCH_RECIPIENTS (100000), BENCH_E2E_RECIPIENTS (2000),
 * BENCH_PARTS (a,b); BENCH_DEBUG=1 prints the sender's progress every 2 s during part A.
 */
import { randomUUID } from 'node:crypto';
import type { SendEmailCommandOutput } from '@aws-sdk/client-sesv2';
import { BatchWriteCommand, DynamoDBDocumentClient, type BatchWriteCommandOutput } from '@aws-sdk/lib-dynamodb';
import { handler as progressHandler } from '../functions/broadcast-progress/handler';
import { startLocalEngine, type LocalEngine } from '../infra/local/engine';
import { LocalQueues } from '../infra/local/queue';
import { AUDIENCE_SHARD_COUNT, COUNTER_SK, audienceShardPk, profilePk, shardOf } from '../shared/aws/dynamodb/keys';
import { GSI1 } from '../shared/aws/dynamodb/table-definition';
import { SQS_MAX_BATCH_ENTRIES, SQS_MAX_PAYLOAD_BYTES, encodeMessageBody } from '../shared/aws/sqs/queue';
import type { BusEvent, OutgoingMessage, QueueName } from '../shared/ports';
import { fixed, grid, machine, memory, pool, table, thousands } from './lib/report';
import { READ_OPERATIONS, RequestCounter, WRITE_OPERATIONS, diffCounts, diffSnapshots, sumOf, type CounterSnapshot, type Counts } from './lib/request-counter';

const RECIPIENTS = intSetting('BENCH_RECIPIENTS', 100_000);
const E2E_RECIPIENTS = intSetting('BENCH_E2E_RECIPIENTS', 2_000);
const PARTS = new Set((process.env.BENCH_PARTS ?? 'a,b').split(',').map((p) => p.trim()));
/** SPEC section 7 / issue 4: 100,000 recipients enqueued within this on the 2-core machine. */
const ENQUEUE_AIM_SECONDS = 60;
/** Lambda event source mapping batch sizes on AWS (infra/aws/constructs: SENDER/FEEDBACK/FANOUT_SETTINGS). */
const ESM_BATCH: Partial<Record<QueueName, number>> = { send: 10, feedback: 10, fanout: 5, backfill: 10, entry: 10 };
/** PutEvents takes at most 10 entries (shared/aws/eventbridge/event-bus.ts). */
const PUT_EVENTS_ENTRIES = 10;
const SEED_BATCH = 25;
const SEED_CONCURRENCY = 8;
const INGEST_BATCH = 100;
const INGEST_CONCURRENCY = 4;
const SETTLE_TIMEOUT_MS = 180_000;

function intSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

const runId = randomUUID().slice(0, 8);

// ---- HTTP -----------------------------------------------------------------------------------

interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

async function call(engine: LocalEngine, method: string, path: string, authorization: string, body?: unknown): Promise<ApiAnswer> {
  const response = await fetch(`${engine.url}${path}`, {
    method,
    headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const parsed: unknown = text === '' ? {} : JSON.parse(text);
  return { status: response.status, body: typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {} };
}

function api(engine: LocalEngine, method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  return call(engine, method, path, `Bearer ${engine.apiKey}`, body);
}

async function expectStatus(answer: Promise<ApiAnswer>, status: number, what: string): Promise<Record<string, unknown>> {
  const r = await answer;
  if (r.status !== status) throw new Error(`${what} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

function stringField(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string') throw new Error(`answer has no string "${field}": ${JSON.stringify(body)}`);
  return value;
}

function numberField(body: Record<string, unknown>, field: string): number {
  const value = body[field];
  return typeof value === 'number' ? value : Number.NaN;
}

function countsOf(broadcast: Record<string, unknown>): Record<string, unknown> {
  const counts = broadcast.counts;
  return typeof counts === 'object' && counts !== null ? (counts as Record<string, unknown>) : {};
}

async function createTemplate(engine: LocalEngine): Promise<string> {
  const body = await expectStatus(
    api(engine, 'POST', '/v1/templates', {
      name: `Bench ${runId}`,
      channel: 'email',
      subject: 'Hello {{ traits.firstName | default: "there" }}',
      html: '<h1>Hi {{ traits.firstName | default: "there" }}!</h1><p>Our news, for {{ userId }}.</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    }),
    201,
    'POST /v1/templates',
  );
  return stringField(body, 'id');
}

async function createAudience(engine: LocalEngine, name: string, tag: string): Promise<string> {
  const body = await expectStatus(api(engine, 'POST', '/v1/audiences', { name, rule: { trait: 'tag', op: 'eq', value: tag } }), 201, 'POST /v1/audiences');
  const id = stringField(body, 'id');
  await engine.settle(SETTLE_TIMEOUT_MS);
  // The backfill runs through the backfill queue (1 s delay locally): wait for it.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const view = await expectStatus(api(engine, 'GET', `/v1/audiences/${id}`), 200, 'GET /v1/audiences/{id}');
    if (view.status === 'ready') return id;
    if (Date.now() > deadline) throw new Error(`audience ${id} not ready: ${JSON.stringify(view)}`);
    await sleep(200);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- counting what AWS would be asked -----------------------------------------------------------

interface QueueTally {
  /** `Queue.send` invocations. */
  sends: number;
  messages: number;
  /** SendMessageBatch calls the SqsQueue adapter would make (10 entries, 256 KiB). */
  batchCalls: number;
}

type Tallies = Partial<Record<QueueName, QueueTally>>;

interface Tally {
  queues: Tallies;
  sesSendEmail: number;
  busPublishes: number;
  busEvents: number;
  putEventsCalls: number;
}

function emptyTally(): Tally {
  return { queues: {}, sesSendEmail: 0, busPublishes: 0, busEvents: 0, putEventsCalls: 0 };
}

function copyTally(t: Tally): Tally {
  const queues: Tallies = {};
  for (const [name, q] of Object.entries(t.queues) as Array<[QueueName, QueueTally]>) queues[name] = { ...q };
  return { ...t, queues };
}

function diffTally(after: Tally, before: Tally): Tally {
  const queues: Tallies = {};
  for (const [name, q] of Object.entries(after.queues) as Array<[QueueName, QueueTally]>) {
    const b = before.queues[name] ?? { sends: 0, messages: 0, batchCalls: 0 };
    queues[name] = { sends: q.sends - b.sends, messages: q.messages - b.messages, batchCalls: q.batchCalls - b.batchCalls };
  }
  return {
    queues,
    sesSendEmail: after.sesSendEmail - before.sesSendEmail,
    busPublishes: after.busPublishes - before.busPublishes,
    busEvents: after.busEvents - before.busEvents,
    putEventsCalls: after.putEventsCalls - before.putEventsCalls,
  };
}

/** SendMessageBatch calls for one `send`: greedy chunks of at most 10 entries and 256 KiB, as SqsQueue splits. */
function sendMessageBatchCalls(messages: readonly OutgoingMessage[]): number {
  let calls = 0;
  let count = 0;
  let bytes = 0;
  for (const message of messages) {
    const size = Buffer.byteLength(encodeMessageBody(message.body), 'utf8');
    if (count > 0 && (count >= SQS_MAX_BATCH_ENTRIES || bytes + size > SQS_MAX_PAYLOAD_BYTES)) {
      calls++;
      count = 0;
      bytes = 0;
    }
    count++;
    bytes += size;
  }
  return calls + (count > 0 ? 1 : 0);
}

/**
 * Where the fan-out's `send` messages go while part B runs: by default the engine's queue; during
 * part B, a queue without a consumer (so that the sender does not start on 100,000 messages).
 */
interface SendRedirect {
  target: LocalQueues | undefined;
}

/** Wraps `queues.send`, `bus.publish` and the SES client of the engine to count what AWS would be asked. */
function instrument(engine: LocalEngine, tally: Tally, redirect: SendRedirect): void {
  const queues = engine.queues;
  const send = queues.send.bind(queues);
  queues.send = async (queue: QueueName, messages: OutgoingMessage[]): Promise<void> => {
    const q = (tally.queues[queue] ??= { sends: 0, messages: 0, batchCalls: 0 });
    q.sends++;
    q.messages += messages.length;
    q.batchCalls += sendMessageBatchCalls(messages);
    if (queue === 'send' && redirect.target !== undefined) return redirect.target.send(queue, messages);
    return send(queue, messages);
  };

  const bus = engine.bus;
  const publish = bus.publish.bind(bus);
  bus.publish = async (events: BusEvent[]): Promise<void> => {
    tally.busPublishes++;
    tally.busEvents += events.length;
    tally.putEventsCalls += Math.ceil(events.length / PUT_EVENTS_ENTRIES);
    return publish(events);
  };

  // The provider stub: SendEmail is answered here, after SesMailer built the request.
  let sequence = 0;
  engine.ses.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'SendEmailCommand') return next(args);
      tally.sesSendEmail++;
      const output: SendEmailCommandOutput = { MessageId: `bench-${runId}-${(sequence++).toString(36)}`, $metadata: { httpStatusCode: 200 } };
      return { output, response: undefined };
    },
    { step: 'initialize', name: 'benchSesStub', priority: 'high' },
  );
}

// ---- DynamoDB requests by the item they address ---------------------------------------------------

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && 'S' in value && typeof value.S === 'string') return value.S;
  return undefined;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

/** The key a request addresses (first item of a batch), and the index it queries. */
function addressed(input: unknown): { pk?: string; sk?: string; index?: string } {
  const i = record(input);
  if (!i) return {};
  const direct = record(i.Key) ?? record(i.Item);
  if (direct) return { pk: text(direct.pk), sk: text(direct.sk) };
  const index = typeof i.IndexName === 'string' ? i.IndexName : undefined;
  const values = record(i.ExpressionAttributeValues);
  if (values) {
    const pk = text(values[':pk']) ?? text(values[':key']) ?? Object.values(values).map(text).find((v) => v !== undefined);
    return { pk, index };
  }
  const requestItems = record(i.RequestItems);
  if (requestItems) {
    const first = Object.values(requestItems)[0];
    const keys = record(first)?.Keys;
    const list: unknown[] = Array.isArray(keys) ? keys : Array.isArray(first) ? first : [];
    const head = record(list[0]);
    const item = record(head?.PutRequest) ? record(record(head?.PutRequest)?.Item) : record(head?.DeleteRequest) ? record(record(head?.DeleteRequest)?.Key) : head;
    return item ? { pk: text(item.pk), sk: text(item.sk) } : {};
  }
  const transact = Array.isArray(i.TransactItems) ? record(i.TransactItems[0]) : undefined;
  if (transact) {
    const op = Object.values(transact).map(record)[0];
    const key = record(op?.Key) ?? record(op?.Item);
    return key ? { pk: text(key.pk), sk: text(key.sk) } : {};
  }
  return {};
}

/** Label of a DynamoDB request: `<operation> <item kind>`. */
export function classifyDynamoRequest(operation: string, input: unknown): string {
  const { pk = '', sk, index } = addressed(input);
  let kind: string;
  if (index === GSI1.name && pk.startsWith('MSGID#')) kind = 'message log (GSI1 by message id)';
  else if (pk.startsWith('SEND#')) kind = sk === COUNTER_SK || operation === 'BatchGetItem' ? 'send counter' : 'send record';
  else if (pk.startsWith('USER#') || pk.startsWith('ANON#')) {
    if (sk === undefined) kind = 'profile partition';
    else if (sk === 'PROFILE') kind = 'profile';
    else if (sk.startsWith('MSG#')) kind = 'message log';
    else if (sk.startsWith('AUD#')) kind = 'membership';
    else if (sk.startsWith('EVT#')) kind = 'event';
    else kind = 'profile item';
  } else if (pk.startsWith('RATE#')) kind = 'rate-limit bucket';
  else if (pk.startsWith('BROADCAST#')) {
    if (sk === 'BROADCAST') kind = 'broadcast';
    else if (sk?.startsWith('FANOUTDONE#')) kind = 'fan-out shard done';
    else if (sk?.startsWith('FANOUT#')) kind = 'fan-out page marker';
    else kind = 'fan-out markers (count)';
  } else if (pk === 'BROADCASTS') kind = 'broadcast list';
  else if (pk.startsWith('OUTBOX#')) kind = 'outbox ledger';
  else if (pk.startsWith('SUPPRESS#')) kind = 'suppression list';
  else if (pk.startsWith('AUDM#')) kind = sk === COUNTER_SK || operation === 'BatchGetItem' ? 'audience shard counter' : 'audience shard members';
  else if (pk.startsWith('AUDIENCE#')) kind = 'audience';
  else if (pk === 'AUDIENCES') kind = 'audience list';
  else if (pk.startsWith('TEMPLATE#')) kind = 'template';
  else if (pk === 'TEMPLATES') kind = 'template list';
  else kind = pk === '' ? 'other' : pk.split('#')[0] ?? 'other';
  return `${operation} ${kind}`;
}

/** Which part of the pipeline issues a request (`<operation> <item kind>`), for the report. */
const STAGE_OF: Record<string, string> = {
  'Query audience shard members': 'fan-out (page of 500)',
  'PutItem fan-out page marker': 'fan-out (page done)',
  'PutItem fan-out shard done': 'fan-out (shard done)',
  'UpdateItem broadcast': 'fan-out (fanoutRemaining), API, completion',
  'GetItem broadcast': 'API, fan-out (per page), sender (cached 1 s), completion',
  'PutItem broadcast': 'API, completion',
  'GetItem send record': 'sender (claimed before?)',
  'PutItem send record': 'sender (claim)',
  'UpdateItem send record': 'sender (finish); feedback (finish again, delivery)',
  'GetItem profile': 'sender',
  'GetItem suppression list': 'sender',
  'UpdateItem rate-limit bucket': 'sender (account send rate)',
  'PutItem message log': 'sender',
  'UpdateItem message log': 'sender (provider id, status); feedback (status)',
  'Query message log (GSI1 by message id)': 'feedback (find the message)',
  'UpdateItem send counter': 'stream router (counts)',
  'BatchGetItem send counter': 'counts (API, completion)',
  'Query fan-out markers (count)': 'counts (API, completion)',
  'GetItem outbox ledger': 'outbox (published before?)',
  'PutItem outbox ledger': 'outbox (mark published)',
  'GetItem template': 'API, sender (cached 30 s)',
  'PutItem template': 'API (in use)',
  'GetItem audience': 'API',
  'PutItem audience': 'API (in use)',
  'Query broadcast list': 'completion',
};

/** Requests answered ConditionalCheckFailedException, by label (a failed conditional write still consumes write capacity). */
function countConditionalFailures(engine: LocalEngine, failures: Counts): void {
  engine.dynamo.client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (error instanceof Error && error.name === 'ConditionalCheckFailedException') {
          const label = classifyDynamoRequest((context.commandName ?? 'Unknown').replace(/Command$/, ''), args.input);
          failures[label] = (failures[label] ?? 0) + 1;
        }
        throw error;
      }
    },
    { step: 'initialize', name: 'benchConditionalFailures', priority: 'low' },
  );
}

// ---- part A: end to end -------------------------------------------------------------------------

interface PartA {
  recipients: number;
  seedSeconds: number;
  sendSeconds: number;
  /** Process CPU time during the send window, as a share of one core. */
  cpuShare: number;
  dynamo: CounterSnapshot;
  completion: CounterSnapshot;
  tally: Tally;
  completionTally: Tally;
  counts: Record<string, unknown>;
  status: string;
  /** Requests answered ConditionalCheckFailedException, by label. */
  conditionalFailures: Counts;
}

async function partA(engine: LocalEngine, counter: RequestCounter, failures: Counts, tally: Tally, template: string): Promise<PartA> {
  const tag = `e2e-${runId}`;
  const seedStarted = performance.now();
  const audience = await createAudience(engine, `Bench e2e ${runId}`, tag);
  const users = Array.from({ length: E2E_RECIPIENTS }, (_, i) => `e2e-${runId}-${i}`);
  const batches: string[][] = [];
  for (let i = 0; i < users.length; i += INGEST_BATCH) batches.push(users.slice(i, i + INGEST_BATCH));
  const basic = `Basic ${Buffer.from(`${engine.writeKey}:`).toString('base64')}`;
  await pool(batches, INGEST_CONCURRENCY, async (batch) => {
    const body = {
      batch: batch.map((userId, i) => ({
        type: 'identify',
        userId,
        traits: { tag, email: `${userId}@example.com`, firstName: `Bench${i}` },
        messageId: `seed-${userId}`,
        timestamp: new Date().toISOString(),
      })),
    };
    await expectStatus(call(engine, 'POST', '/v1/batch', basic, body), 200, 'POST /v1/batch');
  });
  await engine.settle(SETTLE_TIMEOUT_MS);
  const view = await expectStatus(api(engine, 'GET', `/v1/audiences/${audience}`), 200, 'GET /v1/audiences/{id}');
  if (numberField(view, 'size') !== E2E_RECIPIENTS) throw new Error(`audience has ${String(view.size)} members, expected ${E2E_RECIPIENTS}`);
  const seedSeconds = (performance.now() - seedStarted) / 1000;

  // Measured: from the POST until everything it caused has settled.
  const dynamoBefore = counter.snapshot();
  const failuresBefore = { ...failures };
  const tallyBefore = copyTally(tally);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const created = await expectStatus(api(engine, 'POST', '/v1/broadcasts', { name: `Bench e2e ${runId}`, audience, template }), 201, 'POST /v1/broadcasts');
  const id = stringField(created, 'id');
  const progress = process.env.BENCH_DEBUG
    ? setInterval(() => {
        const n = sumOf(counter.snapshot().requests);
        console.error(
          `[debug] ${fixed((performance.now() - started) / 1000, 1)} s: SendEmail ${tally.sesSendEmail}, send queue ${engine.queues.depth('send')}, ` +
            `feedback queue ${engine.queues.depth('feedback')}, DynamoDB requests ${n}`,
        );
      }, 2_000)
    : undefined;
  await engine.settle(SETTLE_TIMEOUT_MS);
  clearInterval(progress);
  const sendSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuShare = (cpu.user + cpu.system) / 1000 / (sendSeconds * 1000);
  const dynamoSent = counter.snapshot();
  const tallySent = copyTally(tally);
  // The completion check (AWS: the progress function, every minute), then its status event through the outbox.
  await progressHandler();
  await engine.settle(SETTLE_TIMEOUT_MS);
  const dynamoAfter = counter.snapshot();
  const tallyAfter = copyTally(tally);

  const done = await expectStatus(api(engine, 'GET', `/v1/broadcasts/${id}`), 200, 'GET /v1/broadcasts/{id}');
  return {
    recipients: E2E_RECIPIENTS,
    seedSeconds,
    sendSeconds,
    cpuShare,
    dynamo: diffSnapshots(dynamoAfter, dynamoBefore),
    completion: diffSnapshots(dynamoAfter, dynamoSent),
    tally: diffTally(tallyAfter, tallyBefore),
    completionTally: diffTally(tallyAfter, tallySent),
    counts: countsOf(done),
    status: String(done.status),
    conditionalFailures: diffCounts(failures, failuresBefore),
  };
}

// ---- part B: fan-out at scale ---------------------------------------------------------------------

interface PartB {
  recipients: number;
  seedSeconds: number;
  postMs: number;
  firstMessageMs: number;
  lastMessageMs: number;
  lastShardDoneMs: number;
  firstShardDoneMs: number;
  enqueueSeconds: number;
  enqueued: number;
  distinct: number;
  duplicates: number;
  pages: number;
  fanoutRemaining: number;
  counts: Record<string, unknown>;
  dynamo: CounterSnapshot;
  tally: Tally;
}

async function seedShardMembers(engine: LocalEngine, audience: string, count: number): Promise<void> {
  const documents = DynamoDBDocumentClient.from(engine.dynamo.rawClient);
  const table = engine.dynamo.tableName;
  const enteredAt = new Date().toISOString();
  const perShard = new Array<number>(AUDIENCE_SHARD_COUNT).fill(0);
  const items: Array<Record<string, unknown>> = [];
  for (let i = 0; i < count; i++) {
    // The item DynamoAudienceStore.putShardMember writes (the router's projection of a membership).
    const pk = profilePk({ kind: 'user', id: `fan-${runId}-${i}` });
    const shard = shardOf(pk, AUDIENCE_SHARD_COUNT);
    perShard[shard] = (perShard[shard] ?? 0) + 1;
    items.push({ pk: audienceShardPk(audience, shard), sk: pk, itemType: 'audienceMember', audienceId: audience, enteredAt });
  }
  // The shard counters the router would have kept (so that the audience reports its size).
  perShard.forEach((n, shard) => items.push({ pk: audienceShardPk(audience, shard), sk: COUNTER_SK, itemType: 'audienceCounter', audienceId: audience, count: n }));
  const batches: Array<Array<Record<string, unknown>>> = [];
  for (let i = 0; i < items.length; i += SEED_BATCH) batches.push(items.slice(i, i + SEED_BATCH));
  await pool(batches, SEED_CONCURRENCY, async (batch) => {
    let pending: Array<Record<string, unknown>> = batch.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 8) throw new Error('seeding: BatchWriteItem kept leaving items unprocessed');
      if (attempt > 0) await sleep(20 * 2 ** attempt);
      const out: BatchWriteCommandOutput = await documents.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
      pending = (out.UnprocessedItems?.[table] ?? []).map((r) => ({ ...r }));
    }
  });
}

async function partB(engine: LocalEngine, counter: RequestCounter, tally: Tally, redirect: SendRedirect, template: string): Promise<PartB> {
  // An audience nobody matches (trivial backfill), then its member shards written directly.
  const audience = await createAudience(engine, `Bench fan-out ${runId}`, `nobody-${runId}`);
  const seedStarted = performance.now();
  await seedShardMembers(engine, audience, RECIPIENTS);
  const seedSeconds = (performance.now() - seedStarted) / 1000;
  const view = await expectStatus(api(engine, 'GET', `/v1/audiences/${audience}`), 200, 'GET /v1/audiences/{id}');
  if (numberField(view, 'size') !== RECIPIENTS) throw new Error(`seeded audience reports ${String(view.size)} members, expected ${RECIPIENTS}`);
  await engine.settle(SETTLE_TIMEOUT_MS);

  // The send queue of part B: the real local queue code, without a consumer.
  const stamps: number[] = [];
  const recipients = new Set<string>();
  let duplicates = 0;
  const sink = new LocalQueues({
    onSend: (_queue, messages) => {
      const now = performance.now();
      for (const m of messages) {
        stamps.push(now);
        const parsed: unknown = JSON.parse(m.body);
        const profile = record(parsed)?.profile;
        const key = typeof profile === 'string' ? profile : m.body;
        if (recipients.has(key)) duplicates++;
        else recipients.add(key);
      }
    },
  });
  const shardDone: number[] = [];
  const store = engine.services.broadcasts;
  const completeFanoutShard = store.completeFanoutShard.bind(store);
  store.completeFanoutShard = async (id: string, shard: number): Promise<void> => {
    await completeFanoutShard(id, shard);
    shardDone.push(performance.now());
  };
  redirect.target = sink;

  const dynamoBefore = counter.snapshot();
  const tallyBefore = copyTally(tally);
  let id = '';
  const started = performance.now();
  let postMs = 0;
  try {
    const created = await expectStatus(api(engine, 'POST', '/v1/broadcasts', { name: `Bench fan-out ${runId}`, audience, template }), 201, 'POST /v1/broadcasts');
    postMs = performance.now() - started;
    id = stringField(created, 'id');
    const deadline = Date.now() + 300_000;
    while (!(stamps.length >= RECIPIENTS && shardDone.length >= AUDIENCE_SHARD_COUNT)) {
      if (Date.now() > deadline) throw new Error(`fan-out incomplete after 300 s: ${stamps.length} enqueued, ${shardDone.length} shards done`);
      await sleep(5);
    }
  } finally {
    redirect.target = undefined;
    store.completeFanoutShard = completeFanoutShard;
  }
  const finished = Math.max(stamps[stamps.length - 1] ?? started, ...shardDone);
  await engine.settle(SETTLE_TIMEOUT_MS);
  const dynamo = diffSnapshots(counter.snapshot(), dynamoBefore);
  const partTally = diffTally(tally, tallyBefore);

  const stored = await engine.services.broadcasts.get(id);
  const view2 = await expectStatus(api(engine, 'GET', `/v1/broadcasts/${id}`), 200, 'GET /v1/broadcasts/{id}');
  const enqueued = sink.depth('send');
  await expectStatus(api(engine, 'POST', `/v1/broadcasts/${id}/cancel`), 200, 'POST /v1/broadcasts/{id}/cancel');
  await sink.close();
  await engine.settle(SETTLE_TIMEOUT_MS);
  return {
    recipients: RECIPIENTS,
    seedSeconds,
    postMs,
    firstMessageMs: (stamps[0] ?? started) - started,
    lastMessageMs: (stamps[stamps.length - 1] ?? started) - started,
    firstShardDoneMs: Math.min(...shardDone) - started,
    lastShardDoneMs: Math.max(...shardDone) - started,
    enqueueSeconds: (finished - started) / 1000,
    enqueued,
    distinct: recipients.size,
    duplicates,
    pages: partTally.queues.send?.sends ?? 0,
    fanoutRemaining: stored?.fanoutRemaining ?? -1,
    counts: countsOf(view2),
    dynamo,
    tally: partTally,
  };
}

// ---- report -------------------------------------------------------------------------------------

function per1000(n: number, recipients: number): string {
  return fixed((n * 1000) / recipients, 1);
}

interface ServiceRow {
  service: string;
  request: string;
  count: number;
  note: string;
}

function serviceRows(dynamo: CounterSnapshot, tally: Tally): ServiceRow[] {
  const rows: ServiceRow[] = [];
  for (const [op, n] of Object.entries(dynamo.requests).sort(([a], [b]) => a.localeCompare(b))) {
    rows.push({ service: 'DynamoDB', request: op, count: n, note: READ_OPERATIONS.has(op) ? 'read' : WRITE_OPERATIONS.has(op) ? 'write' : '' });
  }
  for (const [queue, q] of Object.entries(tally.queues) as Array<[QueueName, QueueTally]>) {
    if (queue === 'feedback') {
      rows.push({ service: 'SQS', request: `SendMessage (${queue})`, count: q.messages, note: 'by the EventBridge rule, one per SES event' });
    } else {
      rows.push({ service: 'SQS', request: `SendMessageBatch (${queue})`, count: q.batchCalls, note: `${q.messages} messages in ${q.sends} Queue.send calls` });
    }
    const batch = ESM_BATCH[queue] ?? 10;
    const receives = Math.ceil(q.messages / batch);
    rows.push({ service: 'SQS', request: `ReceiveMessage (${queue})`, count: receives, note: `estimate: event source mapping, batches of ${batch}` });
    rows.push({ service: 'SQS', request: `DeleteMessageBatch (${queue})`, count: receives, note: 'estimate: one per batch received' });
  }
  rows.push({ service: 'SES', request: 'SendEmail', count: tally.sesSendEmail, note: 'stubbed at the SESv2 client' });
  rows.push({ service: 'EventBridge', request: 'PutEvents', count: tally.putEventsCalls, note: `${tally.busEvents} events (outbox), 10 per call` });
  return rows;
}

function serviceTotals(rows: readonly ServiceRow[]): Counts {
  const totals: Counts = {};
  for (const r of rows) totals[r.service] = (totals[r.service] ?? 0) + r.count;
  return totals;
}

function kindRows(snapshot: CounterSnapshot, failures: Counts, recipients: number): string[][] {
  return Object.entries(snapshot.kinds)
    .sort(([, a], [, b]) => b - a)
    .map(([label, n]) => {
      const space = label.indexOf(' ');
      const op = label.slice(0, space);
      const kind = label.slice(space + 1);
      const failed = failures[label] ?? 0;
      return [kind, op, STAGE_OF[label] ?? '', thousands(n), per1000(n, recipients), failed > 0 ? per1000(failed, recipients) : ''];
    });
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export async function run(): Promise<void> {
  const host = machine();
  const wholeStarted = performance.now();
  console.log(`broadcast benchmark — ${host.date}, node ${host.node}, ${host.cpus} × ${host.cpuModel}, ${host.platform}`);
  console.log(`email provider stubbed at the adapter (SendEmail answered by a middleware on the SESv2 client)\n`);

  const engine = await startLocalEngine({
    port: 0,
    dynamodbPort: 0,
    sesPort: 0,
    // The completion check runs when the benchmark asks (AWS: every minute), so it is counted apart.
    recheckIntervalMs: 0,
  });
  const counter = new RequestCounter('app', classifyDynamoRequest).install(engine.dynamo.client);
  const failures: Counts = {};
  countConditionalFailures(engine, failures);
  const tally = emptyTally();
  const redirect: SendRedirect = { target: undefined };
  instrument(engine, tally, redirect);
  try {
    const template = await createTemplate(engine);
    const a = PARTS.has('a') ? await partA(engine, counter, failures, tally, template) : undefined;
    const b = PARTS.has('b') ? await partB(engine, counter, tally, redirect, template) : undefined;
    const mem = memory();
    const wholeSeconds = (performance.now() - wholeStarted) / 1000;

    if (b) {
      const rate = b.enqueued / b.enqueueSeconds;
      console.log(
        table(`Fan-out of ${thousands(b.recipients)} recipients (audience member shards seeded directly, not through ingestion)`, [
          ['seeding (BatchWriteItem, raw client, not timed below)', `${fixed(b.seedSeconds, 1)} s`],
          ['POST /v1/broadcasts answered (201) after', `${thousands(b.postMs)} ms`],
          ['first send message enqueued after', `${thousands(b.firstMessageMs)} ms`],
          ['first / last shard fan-out complete after', `${fixed(b.firstShardDoneMs / 1000, 1)} s / ${fixed(b.lastShardDoneMs / 1000, 1)} s`],
          ['last send message enqueued after', `${fixed(b.lastMessageMs / 1000, 1)} s`],
          ['time to enqueue all (POST → all shards done and all enqueued)', `${fixed(b.enqueueSeconds, 1)} s (aim: < ${ENQUEUE_AIM_SECONDS} s: ${b.enqueueSeconds < ENQUEUE_AIM_SECONDS ? 'met' : 'MISSED'})`],
          ['enqueue rate', `${thousands(rate)} messages/s`],
          ['send messages on the queue / distinct recipients / duplicates', `${thousands(b.enqueued)} / ${thousands(b.distinct)} / ${b.duplicates}`],
          ['fan-out pages (Queue.send calls on send)', `${thousands(b.pages)} (pages of up to 500; local fan-out consumer: 2 at a time, batches of 5)`],
          ['fanoutRemaining / counts.recipients', `${b.fanoutRemaining} / ${String(b.counts.recipients)}`],
        ]),
      );
      console.log();
      const rows = serviceRows(b.dynamo, b.tally).filter((r) => r.count > 0 && r.service !== 'SES');
      console.log(
        grid(
          `Fan-out only: requests per 1,000 recipients (${thousands(b.recipients)} recipients; the sender was not running)`,
          ['service', 'request', 'total', 'per 1,000', 'note'],
          rows.map((r) => [r.service, r.request, thousands(r.count), per1000(r.count, b.recipients), r.note]),
          new Set([0, 1, 4]),
        ),
      );
      console.log();
    }

    if (a) {
      const rows = serviceRows(a.dynamo, a.tally);
      const totals = serviceTotals(rows);
      console.log(
        table(`End to end, ${thousands(a.recipients)} recipients (real profiles with an email, audience evaluated by the router)`, [
          ['seeding: audience + ingestion + evaluation (not measured)', `${fixed(a.seedSeconds, 1)} s`],
          ['POST /v1/broadcasts → everything settled', `${fixed(a.sendSeconds, 1)} s (${thousands(a.recipients / a.sendSeconds)} recipients/s locally, sender concurrency 4; process CPU ${thousands(a.cpuShare * 100)} % of one core)`],
          ['status / counts', `${a.status} / ${JSON.stringify(a.counts)}`],
          ['SES SendEmail calls', thousands(a.tally.sesSendEmail)],
        ]),
      );
      console.log();
      console.log(
        grid(
          `AWS requests per 1,000 recipients, by service (whole pipeline: API, fan-out, sender, feedback, counters, outbox, completion)`,
          ['service', 'request', 'total', 'per 1,000', 'note'],
          [
            ...rows.filter((r) => r.count > 0).map((r) => [r.service, r.request, thousands(r.count), per1000(r.count, a.recipients), r.note]),
            ...Object.entries(totals).map(([service, n]) => [`${service} (all)`, '', thousands(n), per1000(n, a.recipients), '']),
          ],
          new Set([0, 1, 4]),
        ),
      );
      const writes = sumOf(a.dynamo.requests, WRITE_OPERATIONS);
      const reads = sumOf(a.dynamo.requests, READ_OPERATIONS);
      console.log(`DynamoDB: ${per1000(reads, a.recipients)} reads and ${per1000(writes, a.recipients)} writes per 1,000 recipients` + (sumOf(a.dynamo.nested) > 0 ? ` (${sumOf(a.dynamo.nested)} nested capture calls not counted)` : ''));
      console.log(
        `of which the completion check + its status event (per run; AWS runs it every minute while sending): DynamoDB ${Object.entries(a.completion.requests)
          .map(([op, n]) => `${op} ${n}`)
          .join(', ')}; PutEvents ${a.completionTally.putEventsCalls}\n`,
      );
      console.log(
        grid(
          'DynamoDB requests per 1,000 recipients by item (end to end)',
          ['item', 'operation', 'issued by', 'total', 'per 1,000', 'of which condition failed'],
          kindRows(a.dynamo, a.conditionalFailures, a.recipients),
          new Set([0, 1, 2]),
        ),
      );
      console.log();
    }

    console.log(
      table('Memory and run time', [
        ['process RSS at end', `${mem.rssMiB} MiB (includes dynalite's in-memory table)`],
        ['V8 heap used / total at end', `${mem.heapUsedMiB} / ${mem.heapTotalMiB} MiB`],
        ['whole run', `${fixed(wholeSeconds, 1)} s`],
      ]),
    );

    const summary = {
      bench: 'broadcast',
      machine: host,
      fanout: b && {
        recipients: b.recipients,
        seededDirectly: true,
        seedSeconds: round(b.seedSeconds, 1),
        postMs: round(b.postMs, 0),
        firstMessageMs: round(b.firstMessageMs, 0),
        enqueueSeconds: round(b.enqueueSeconds, 2),
        messagesPerSecond: round(b.enqueued / b.enqueueSeconds, 0),
        enqueued: b.enqueued,
        distinct: b.distinct,
        duplicates: b.duplicates,
        pages: b.pages,
        dynamoPer1000: Object.fromEntries(Object.entries(b.dynamo.requests).map(([op, n]) => [op, round((n * 1000) / b.recipients, 2)])),
        sendMessageBatchPer1000: round(((b.tally.queues.send?.batchCalls ?? 0) * 1000) / b.recipients, 1),
      },
      endToEnd: a && {
        recipients: a.recipients,
        seconds: round(a.sendSeconds, 1),
        status: a.status,
        counts: a.counts,
        per1000: Object.fromEntries(serviceRows(a.dynamo, a.tally).map((r) => [`${r.service} ${r.request}`, round((r.count * 1000) / a.recipients, 1)])),
        totalsPer1000: Object.fromEntries(Object.entries(serviceTotals(serviceRows(a.dynamo, a.tally))).map(([s, n]) => [s, round((n * 1000) / a.recipients, 1)])),
        dynamoByItemPer1000: Object.fromEntries(Object.entries(a.dynamo.kinds).map(([k, n]) => [k, round((n * 1000) / a.recipients, 1)])),
        conditionFailedPer1000: Object.fromEntries(Object.entries(a.conditionalFailures).map(([k, n]) => [k, round((n * 1000) / a.recipients, 1)])),
      },
      memory: mem,
      wholeSeconds: round(wholeSeconds, 1),
    };
    console.log(`\n${JSON.stringify(summary)}`);
  } finally {
    await engine.close();
  }
}
