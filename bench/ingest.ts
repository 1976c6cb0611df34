/**
 * `npm run bench -- ingest`: ingestion throughput and DynamoDB requests per message, on the
 * local engine (dynalite + change capture + the stream consumer, as `npm start` runs them).
 *
 * 1. POST /v1/batch through the ingest Lambda handler, called in process (no HTTP).
 * 2. The same workload through the local HTTP server (fetch, HTTP Basic auth).
 * 3. DynamoDB requests per message, by operation, counted on the capturing client the
 *    application uses, for single-kind scenarios and the mixed workload.
 * 4. Time for the stream consumer to settle after each load, and process memory.
 *
 * Settings (environment, optional): BENCH_MESSAGES (default 16000 per throughput phase,
 * which keeps the whole run under about 2 minutes on 2 cores),
 * BENCH_USERS (1000), BENCH_BATCH (100), BENCH_CONCURRENCY (4).
 */
import { randomUUID } from 'node:crypto';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { handler as ingestHandler } from '../functions/ingest/handler';
import { startLocalEngine, type LocalEngine } from '../infra/local/engine';
import { toApiGatewayEvent } from '../infra/local/http-server';
import { localLambdaContext } from '../infra/local/lambda-context';
import {
  READ_OPERATIONS,
  RequestCounter,
  WRITE_OPERATIONS,
  diffSnapshots,
  readsOf,
  sumOf,
  writesOf,
  type CounterSnapshot,
  type Counts,
} from './lib/request-counter';
import { fixed, grid, machine, memory, pool, prng, table, thousands } from './lib/report';

const MESSAGES = intSetting('BENCH_MESSAGES', 16_000);
const USERS = intSetting('BENCH_USERS', 1_000);
const BATCH = intSetting('BENCH_BATCH', 100);
const CONCURRENCY = intSetting('BENCH_CONCURRENCY', 4);
/** Share of messages to a known user that are identify calls changing a trait (the rest are tracks). */
const IDENTIFY_SHARE = 0.25;
/** Messages per single-kind scenario. */
const SCENARIO_MESSAGES = 100;
/** The ingestion target: write requests per ingested message (the AWS cost driver). */
const MAX_WRITES_PER_MESSAGE = 2;

function intSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

type BatchMessage = Record<string, unknown> & { type: 'identify' | 'track'; messageId: string };

const runId = randomUUID().slice(0, 8);
let sequence = 0;
const messageId = (): string => `bench-${runId}-${(sequence++).toString(36)}`;

function track(ids: { userId?: string; anonymousId?: string }, n: number): BatchMessage {
  return {
    type: 'track',
    ...ids,
    event: 'Product Viewed',
    properties: { sku: `SKU-${n % 500}`, price: 10 + (n % 90), currency: 'EUR' },
    timestamp: new Date().toISOString(),
    messageId: messageId(),
  };
}

function identify(ids: { userId?: string; anonymousId?: string }, visits: number): BatchMessage {
  const who = ids.userId ?? ids.anonymousId ?? 'x';
  return {
    type: 'identify',
    ...ids,
    traits: { email: `${who}@example.com`, firstName: 'Bench', plan: visits > 5 ? 'pro' : 'free', visits },
    timestamp: new Date().toISOString(),
    messageId: messageId(),
  };
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The mixed workload: messages to `users` users picked at random; a user's first message is an
 * identify (a new profile), later ones are tracks, or identifies that change a trait.
 */
function mixedWorkload(prefix: string, total: number, seed: number): { messages: BatchMessage[]; mix: Counts } {
  const random = prng(seed);
  const visits = new Map<string, number>();
  const messages: BatchMessage[] = [];
  const mix: Counts = { 'new user (identify)': 0, 'track, known user': 0, 'identify changing traits': 0 };
  const bump = (key: string): void => {
    mix[key] = (mix[key] ?? 0) + 1;
  };
  for (let i = 0; i < total; i++) {
    const userId = `${prefix}-${runId}-${Math.floor(random() * USERS)}`;
    const seen = visits.get(userId);
    if (seen === undefined) {
      visits.set(userId, 1);
      messages.push(identify({ userId }, 1));
      bump('new user (identify)');
    } else if (random() < IDENTIFY_SHARE) {
      visits.set(userId, seen + 1);
      messages.push(identify({ userId }, seen + 1));
      bump('identify changing traits');
    } else {
      messages.push(track({ userId }, i));
      bump('track, known user');
    }
  }
  return { messages, mix };
}

function batchBody(messages: BatchMessage[]): string {
  return JSON.stringify({ batch: messages, context: { library: { name: 'engage-bench', version: '0.1.0' } } });
}

function basicAuth(writeKey: string): string {
  return `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
}

/** The API Gateway v2 event the local HTTP server would build for POST /v1/batch. */
function batchEvent(body: string, writeKey: string): APIGatewayProxyEventV2 {
  const req = new IncomingMessage(new Socket());
  req.method = 'POST';
  req.url = '/v1/batch';
  req.httpVersion = '1.1';
  req.headers = {
    host: '127.0.0.1',
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    authorization: basicAuth(writeKey),
    'user-agent': 'engage-bench',
  };
  return toApiGatewayEvent(req, Buffer.from(body, 'utf8'), 'POST /v1/batch', '127.0.0.1');
}

async function invokeHandler(event: APIGatewayProxyEventV2): Promise<void> {
  const result = await ingestHandler(event, localLambdaContext('ingest'));
  if (result.statusCode !== 200) throw new Error(`ingest handler answered ${result.statusCode ?? '?'}: ${result.body ?? ''}`);
}

async function postBatch(engine: LocalEngine, body: string): Promise<void> {
  const response = await fetch(`${engine.url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: basicAuth(engine.writeKey), 'content-type': 'application/json' },
    body,
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`POST /v1/batch answered ${response.status}: ${text}`);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

interface Measured {
  snapshot: CounterSnapshot;
  raw: CounterSnapshot;
  messages: number;
}

interface PhaseResult extends Measured {
  name: string;
  batches: number;
  seconds: number;
  messagesPerSecond: number;
  batchP50Ms: number;
  batchP95Ms: number;
  settleMs: number;
}

interface Counters {
  app: RequestCounter;
  raw: RequestCounter;
}

/** Sends `batches` with `send`, `CONCURRENCY` at a time, then waits for the stream consumer. */
async function throughputPhase<T>(
  engine: LocalEngine,
  counters: Counters,
  name: string,
  batches: readonly T[],
  messages: number,
  send: (batch: T) => Promise<void>,
): Promise<PhaseResult> {
  const before = counters.app.snapshot();
  const rawBefore = counters.raw.snapshot();
  const latencies: number[] = [];
  const started = performance.now();
  await pool(batches, CONCURRENCY, async (batch) => {
    const t = performance.now();
    await send(batch);
    latencies.push(performance.now() - t);
  });
  const seconds = (performance.now() - started) / 1000;
  const settleStarted = performance.now();
  await engine.settle(120_000);
  const settleMs = performance.now() - settleStarted;
  latencies.sort((a, b) => a - b);
  return {
    name,
    messages,
    batches: batches.length,
    seconds,
    messagesPerSecond: messages / seconds,
    batchP50Ms: percentile(latencies, 50),
    batchP95Ms: percentile(latencies, 95),
    settleMs,
    snapshot: diffSnapshots(counters.app.snapshot(), before),
    raw: diffSnapshots(counters.raw.snapshot(), rawBefore),
  };
}

interface Scenario extends Measured {
  name: string;
  includesStream: boolean;
}

/** Ingests `messages` through the handler, waits for the stream consumer, returns the requests made. */
async function scenario(engine: LocalEngine, counters: Counters, name: string, messages: BatchMessage[]): Promise<Scenario> {
  await engine.settle(60_000);
  const before = counters.app.snapshot();
  const rawBefore = counters.raw.snapshot();
  for (const part of chunk(messages, BATCH)) await invokeHandler(batchEvent(batchBody(part), engine.writeKey));
  await engine.settle(60_000);
  return {
    name,
    messages: messages.length,
    includesStream: true,
    snapshot: diffSnapshots(counters.app.snapshot(), before),
    raw: diffSnapshots(counters.raw.snapshot(), rawBefore),
  };
}

function byOperation(counts: Counts, messages: number): string {
  return Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([op, n]) => `${op} ${fixed(n / messages)}`)
    .join(', ');
}

function perMessage(m: Measured): { reads: number; writes: number; writeItems: number; byOperation: Counts } {
  const per: Counts = {};
  for (const [op, n] of Object.entries(m.snapshot.requests)) per[op] = Math.round((n / m.messages) * 1000) / 1000;
  const writes = writesOf(m.snapshot);
  return {
    reads: readsOf(m.snapshot) / m.messages,
    writes: writes.requests / m.messages,
    writeItems: writes.items / m.messages,
    byOperation: per,
  };
}

export async function run(): Promise<void> {
  const host = machine();
  console.log(`ingest benchmark — ${host.date}, node ${host.node}, ${host.cpus} × ${host.cpuModel}, ${host.platform}`);
  console.log(
    `workload: ${thousands(MESSAGES)} messages per throughput phase over ${thousands(USERS)} users, batches of ${BATCH}, ` +
      `${CONCURRENCY} batches in flight\n`,
  );

  const engine = await startLocalEngine({ port: 0, dynamodbPort: 0, sesPort: 0 });
  const counters: Counters = {
    app: new RequestCounter('app').install(engine.dynamo.client),
    raw: new RequestCounter('raw').install(engine.dynamo.rawClient),
  };
  try {
    // Warm-up (module loading, JIT, connection pool), not measured.
    await scenario(engine, counters, 'warm-up', Array.from({ length: BATCH }, (_, i) => track({ userId: `warm-${runId}-${i % 10}` }, i)));

    // --- 3. requests per message, one kind of message at a time --------------------------------
    const users = Array.from({ length: SCENARIO_MESSAGES }, (_, i) => `scn-${runId}-${i}`);
    const anonymous = Array.from({ length: SCENARIO_MESSAGES }, (_, i) => `anon-${runId}-${i}`);
    const scenarios: Scenario[] = [];
    scenarios.push(await scenario(engine, counters, 'first message of a new user (track)', users.map((userId, i) => track({ userId }, i))));
    scenarios.push(await scenario(engine, counters, 'track, known profile', users.map((userId, i) => track({ userId }, i))));
    scenarios.push(await scenario(engine, counters, 'identify changing traits', users.map((userId) => identify({ userId }, 2))));
    scenarios.push(await scenario(engine, counters, 'identify, traits unchanged', users.map((userId) => identify({ userId }, 2))));
    scenarios.push(
      await scenario(engine, counters, 'first message of a new user (identify)', users.map((_, i) => identify({ userId: `new-${runId}-${i}` }, 1))),
    );
    await scenario(engine, counters, 'setup: anonymous visitors', anonymous.map((anonymousId, i) => track({ anonymousId }, i)));
    scenarios.push(
      await scenario(
        engine,
        counters,
        'identify merging an anonymous profile (1 event)',
        anonymous.map((anonymousId, i) => identify({ userId: `merged-${runId}-${i}`, anonymousId }, 1)),
      ),
    );

    // --- 1. and 2. throughput, mixed workload ---------------------------------------------------
    const direct = mixedWorkload('direct', MESSAGES, 1);
    const directEvents = chunk(direct.messages, BATCH).map((part) => batchEvent(batchBody(part), engine.writeKey));
    const directPhase = await throughputPhase(engine, counters, 'ingest handler, in process', directEvents, direct.messages.length, invokeHandler);
    const viaHttp = mixedWorkload('http', MESSAGES, 2);
    const httpPhase = await throughputPhase(
      engine,
      counters,
      'local HTTP server (fetch)',
      chunk(viaHttp.messages, BATCH).map(batchBody),
      viaHttp.messages.length,
      (body) => postBatch(engine, body),
    );
    const mem = memory();

    // --- report ----------------------------------------------------------------------------------
    const phases = [directPhase, httpPhase];
    console.log(
      grid(
        'Throughput (mixed workload, stream consumer running)',
        ['path', 'messages', 'time', 'msg/s', 'batch p50', 'batch p95', 'settle after'],
        phases.map((p) => [
          p.name,
          thousands(p.messages),
          `${fixed(p.seconds, 1)} s`,
          `${thousands(p.messagesPerSecond)} msg/s`,
          `${thousands(p.batchP50Ms)} ms`,
          `${thousands(p.batchP95Ms)} ms`,
          `${fixed(p.settleMs, 1)} ms`,
        ]),
      ),
    );
    console.log(
      `mixed workload (handler phase): ${Object.entries(direct.mix)
        .map(([k, n]) => `${k} ${fixed((100 * n) / direct.messages.length, 1)} %`)
        .join(', ')}\n`,
    );

    const rows: Array<Measured & { name: string }> = [
      ...scenarios,
      { ...directPhase, name: 'mixed workload, handler phase' },
      { ...httpPhase, name: 'mixed workload, HTTP phase' },
    ];
    console.log(
      grid(
        'DynamoDB requests per ingested message (application client, incl. stream consumer)',
        ['scenario', 'msgs', 'reads/msg', 'writes/msg', 'target', 'by operation (requests/msg)'],
        rows.map((r) => {
          const per = perMessage(r);
          return [
            r.name,
            String(r.messages),
            fixed(per.reads),
            fixed(per.writes),
            r.name.startsWith('identify merging') ? '(n/a)' : per.writes <= MAX_WRITES_PER_MESSAGE ? 'ok' : 'OVER',
            byOperation(r.snapshot.requests, r.messages),
          ];
        }),
        new Set([0, 5]),
      ),
    );
    const nested = rows.reduce((sum, r) => sum + sumOf(r.snapshot.nested), 0);
    const wholeRunRaw = counters.raw.snapshot().requests;
    const wirePerMessage = (sumOf(directPhase.snapshot.wire) + sumOf(directPhase.raw.wire)) / directPhase.messages;
    console.log(
      [
        '',
        `not counted above (local runtime only): the change capture's own requests on the raw client, ` +
          `${byOperation(directPhase.raw.requests, directPhase.messages)} per message in the handler phase ` +
          `(whole run: ${Object.entries(wholeRunRaw).map(([op, n]) => `${op} ${thousands(n)}`).join(', ')})` +
          (nested > 0 ? `; ${nested} calls made by the capture inside a BatchWriteItem` : ''),
        `HTTP requests reaching dynalite: ${fixed(wirePerMessage)} per message = ` +
          `${thousands(wirePerMessage * directPhase.messagesPerSecond)} requests/s in the handler phase`,
        '',
      ].join('\n'),
    );

    const settleWorst = Math.max(...phases.map((p) => p.settleMs));
    console.log(
      table('Stream consumer and memory', [
        ['settle after handler phase', `${fixed(directPhase.settleMs, 1)} ms`],
        ['settle after HTTP phase', `${fixed(httpPhase.settleMs, 1)} ms`],
        ['process RSS at end', `${mem.rssMiB} MiB (includes dynalite's in-memory table)`],
        ['V8 heap used / total at end', `${mem.heapUsedMiB} / ${mem.heapTotalMiB} MiB`],
      ]),
    );

    const summary = {
      bench: 'ingest',
      machine: host,
      workload: { messagesPerPhase: MESSAGES, users: USERS, batchSize: BATCH, concurrency: CONCURRENCY, identifyShare: IDENTIFY_SHARE, mix: direct.mix },
      throughput: phases.map((p) => ({
        path: p.name,
        messages: p.messages,
        seconds: round(p.seconds, 2),
        messagesPerSecond: round(p.messagesPerSecond, 0),
        batchP50Ms: round(p.batchP50Ms, 0),
        batchP95Ms: round(p.batchP95Ms, 0),
        settleMs: round(p.settleMs, 1),
      })),
      requestsPerMessage: rows.map((r) => {
        const per = perMessage(r);
        return { scenario: r.name, messages: r.messages, reads: round(per.reads, 3), writes: round(per.writes, 3), writeItems: round(per.writeItems, 3), byOperation: per.byOperation };
      }),
      captureRequestsPerMessage: Object.fromEntries(Object.entries(directPhase.raw.requests).map(([op, n]) => [op, round(n / directPhase.messages, 3)])),
      operations: { reads: [...READ_OPERATIONS], writes: [...WRITE_OPERATIONS] },
      settleMsMax: round(settleWorst, 1),
      dynaliteRequestsPerMessage: round(wirePerMessage, 3),
      memory: mem,
    };
    console.log(`\n${JSON.stringify(summary)}`);
  } finally {
    await engine.close();
  }
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
