/**
 * `npm run bench -- journey-entry`: SPEC section 7, "a journey that 1 million users enter at once
 * starts every execution without losing one (Step Functions StartExecution throttling is absorbed
 * by a queue)", argued with a measurement on the local engine and a model for AWS.
 *
 * Measured locally (the local engine in process: dynalite with change capture, the stream
 * consumers, the in-process queues, the journey worker handler, aws-local-stepfunctions):
 * - USERS profiles are written through `services.profiles` (not timed), and a journey with an
 *   event entry, `reentry: every_event` keyed by `cartId` and one 30-day wait is created and
 *   published through `shared/services/journeys/manage.ts`.
 * - The worker's `WorkflowEngine.start` is put behind a token bucket shaped like Step Functions'
 *   StartExecution quota (bucket 1,300, refill 300/s in the large regions) divided by SCALE; an
 *   empty bucket throws an Error named `ThrottlingException`, as the SDK does once its own
 *   retries are spent. The worker (`processJourneyMessage`, shared/services/journeys/entry.ts)
 *   answers that by sending the message again with `throttled: k + 1` and a delay of
 *   `throttleDelaySeconds(k)` (2, 4, 8 … up to 900 s, jittered; real seconds, not divided by
 *   SCALE) and deleting the original, so a throttled attempt spends no receive. Its queue port
 *   is wrapped to count those re-sends. Installed with `setServices` (the worker reads
 *   `getServices()`).
 * - One `enter` message per user is put on the entry queue in one call, plus COPIES (a share of
 *   users whose message arrives twice: at-least-once delivery) and RETRIGGERS (a share of users
 *   with a second entry event for the same cart: two triggers, one key), shuffled.
 * - Then: time until the entry queue is empty (delayed messages included), start attempts,
 *   throttled attempts, re-sends and the largest `throttled` count, deliveries (counted at
 *   `JourneyStore.get`, the first call of every entry), failed deliveries and dead letters,
 *   executions in the runner, runs stored under each profile.
 * The local entry queue is the engine's own (infra/local/engine.ts): batches of 10, 4 at a time,
 * visibility timeout 5 s, maxReceiveCount 10 (which now only other failures use up).
 *
 * Arithmetic and model (not measured): the same drain at AWS scale, 1,000,000 entries against
 * the real quota and the deployed queue (infra/aws/constructs/journeys.ts: visibility 180 s,
 * maxReceiveCount 20, retention 14 days), with bench/lib/entry-queue-model.ts (re-queue with the
 * worker's own backoff), first checked against the local measurement; plus a few rows of the
 * worker before the change (a throttled message failed and waited for its visibility timeout).
 *
 * Settings (flags after the name, or environment): --users / BENCH_USERS (2000),
 * --scale / BENCH_THROTTLE_SCALE (5: bucket 260, refill 60/s), --copies / BENCH_COPY_SHARE (0.1),
 * --retriggers / BENCH_RETRIGGER_SHARE (0.05), --drain-timeout / BENCH_DRAIN_TIMEOUT_S (300: the
 * backoff delays are real seconds, so at --scale 10 the last entries can wait 32–64 s more than
 * the refill needs; drains of 78–132 s were measured).
 * Example: `npm run bench -- journey-entry --users 5000 --scale 10` (`-- --scale 10` works too).
 */
import { profilePk } from '../shared/aws/dynamodb/keys';
import { newProfile } from '../shared/domain/profile/profile';
import { createJourney, publishJourney } from '../shared/services/journeys/manage';
import { MAX_THROTTLED_ATTEMPTS, throttleDelaySeconds, type JourneyMessage } from '../shared/services/journeys/entry';
import type { JourneyStore, OutgoingMessage, Queue, QueueName } from '../shared/ports';
import { setServices } from '../functions/lib/wiring';
import { startLocalEngine, type LocalEngine } from '../infra/local/engine';
import { simulateEntryQueue, type EntryQueueModelInput, type EntryQueueModelOutcome } from './lib/entry-queue-model';
import { fixed, grid, machine, memory, pool, prng, table, thousands } from './lib/report';
import { START_EXECUTION_QUOTA, TokenBucket, emptyStartStats, throttleStarts, type StartStats } from './lib/start-throttle';

const USERS = intSetting('users', 'BENCH_USERS', 2_000);
const SCALE = numberSetting('scale', 'BENCH_THROTTLE_SCALE', 5, 1);
const COPY_SHARE = numberSetting('copies', 'BENCH_COPY_SHARE', 0.1, 0, 1);
const RETRIGGER_SHARE = numberSetting('retriggers', 'BENCH_RETRIGGER_SHARE', 0.05, 0, 1);
const DRAIN_TIMEOUT_S = intSetting('drain-timeout', 'BENCH_DRAIN_TIMEOUT_S', 300);

/** The local engine's entry consumer (infra/local/engine.ts `registerConsumer('entry', …)`); not configurable from outside. */
const LOCAL_ENTRY_QUEUE = { batchSize: 10, concurrency: 4, visibilityTimeoutSeconds: 5, maxReceiveCount: 10 } as const;
/**
 * The deployed entry queue and worker (infra/aws/constructs/journeys.ts `JOURNEY_WORKER_SETTINGS`,
 * `workQueue` in messaging.ts): visibility 6 × the 30 s timeout, redrive after 20 receives,
 * retention 14 days, at most 20 batches of 10 at once.
 */
const AWS_ENTRY_QUEUE = { batchSize: 10, maxConcurrency: 20, visibilityTimeoutSeconds: 180, maxReceiveCount: 20, retentionDays: 14 } as const;
/** SQS's default retention, for comparison. */
const SQS_DEFAULT_RETENTION_DAYS = 4;
/**
 * Rough SQS list price (standard queues, us-east-1; check current pricing), as in the broadcast
 * section of docs/benchmarks.md.
 */
const SQS_DOLLARS_PER_MILLION_REQUESTS = 0.4;
/** Step Functions: open (running) executions per account and region; soft ("millions"). Same quotas page. */
const MAX_OPEN_EXECUTIONS = 1_000_000;
const AWS_ENTRIES = 1_000_000;
const ENTRY_EVENT = 'Cart Abandoned';
const PROFILE_CONCURRENCY = 16;
const SETTLE_TIMEOUT_MS = 180_000;

// ---- Settings ------------------------------------------------------------------------------

function rawSetting(flag: string, env: string): string | undefined {
  const args = process.argv.slice(3);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === `--${flag}`) return args[i + 1];
    if (arg.startsWith(`--${flag}=`)) return arg.slice(flag.length + 3);
  }
  const value = process.env[env];
  return value === '' ? undefined : value;
}

function intSetting(flag: string, env: string, fallback: number): number {
  const raw = rawSetting(flag, env);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${flag} / ${env} must be a positive integer, got "${raw}"`);
  return value;
}

function numberSetting(flag: string, env: string, fallback: number, min: number, max = Number.POSITIVE_INFINITY): number {
  const raw = rawSetting(flag, env);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${flag} / ${env} must be a number from ${min} to ${max}, got "${raw}"`);
  return value;
}

// ---- Workload ------------------------------------------------------------------------------

const runId = Math.random().toString(36).slice(2, 8);

interface Workload {
  messages: JourneyMessage[];
  users: string[];
  copies: number;
  retriggers: number;
}

function userId(i: number): string {
  return `bench-${runId}-${i}`;
}

function enterMessage(journeyId: string, i: number, messageId: string, timestamp: string): JourneyMessage {
  return {
    type: 'enter',
    journeyId,
    profile: profilePk({ kind: 'user', id: userId(i) }),
    trigger: { kind: 'event', messageId, event: ENTRY_EVENT, properties: { cartId: `cart-${i}` }, timestamp },
  };
}

/** One message per user, copies and second triggers for a seeded share of them, shuffled. */
function buildWorkload(journeyId: string): Workload {
  const random = prng(7);
  const timestamp = new Date().toISOString();
  const messages: JourneyMessage[] = [];
  const users: string[] = [];
  let copies = 0;
  let retriggers = 0;
  for (let i = 0; i < USERS; i++) {
    users.push(userId(i));
    const first = enterMessage(journeyId, i, `m-${runId}-${i}`, timestamp);
    messages.push(first);
    if (random() < COPY_SHARE) {
      messages.push(structuredClone(first));
      copies++;
    }
    if (random() < RETRIGGER_SHARE) {
      messages.push(enterMessage(journeyId, i, `m-${runId}-${i}-again`, timestamp));
      retriggers++;
    }
  }
  for (let i = messages.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = messages[i];
    const b = messages[j];
    if (a === undefined || b === undefined) continue;
    messages[i] = b;
    messages[j] = a;
  }
  return { messages, users, copies, retriggers };
}

// ---- Instrumentation -----------------------------------------------------------------------

interface StoreCounts {
  /** `get` calls: the first call of every entry, so one per delivery of an enter message. */
  gets: number;
  getTimes: number[];
  /** `claimSlot` answers that refused the slot (a second trigger for a held key). */
  slotsRefused: number;
}

/** The journey store with `get` and `claimSlot` counted; every other method is the store's own. */
function countingStore(store: JourneyStore, counts: StoreCounts): JourneyStore {
  return new Proxy(store, {
    get: (target, property) => {
      if (property === 'get') {
        return (id: string) => {
          counts.gets += 1;
          counts.getTimes.push(performance.now());
          return target.get(id);
        };
      }
      if (property === 'claimSlot') {
        return async (...args: Parameters<JourneyStore['claimSlot']>) => {
          const claimed: unknown = await target.claimSlot(...args);
          // Whether the port answers a boolean or the execution name, a refusal is falsy.
          if (claimed === false || claimed === undefined) counts.slotsRefused += 1;
          return claimed;
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

interface SendCounts {
  /** Enter messages the worker put back on the entry queue (each carries `throttled`). */
  resends: number;
  /** The largest `throttled` count sent: the most throttled attempts of one entry. */
  maxThrottled: number;
  /** Delays of those re-sends. */
  delaySum: number;
  maxDelay: number;
  /** Re-sends per `throttled` count (index = count). */
  byAttempt: number[];
}

function throttledOf(body: unknown): number | undefined {
  if (typeof body !== 'object' || body === null || !('throttled' in body)) return undefined;
  return typeof body.throttled === 'number' ? body.throttled : undefined;
}

/** The queue port with the worker's re-sends to the entry queue counted; the messages go through unchanged. */
function countingQueue(queue: Queue, counts: SendCounts): Queue {
  return {
    send: (name: QueueName, messages: OutgoingMessage[]) => {
      if (name === 'entry') {
        for (const message of messages) {
          const throttled = throttledOf(message.body);
          if (throttled === undefined) continue;
          counts.resends += 1;
          counts.maxThrottled = Math.max(counts.maxThrottled, throttled);
          counts.byAttempt[throttled] = (counts.byAttempt[throttled] ?? 0) + 1;
          const delay = message.delaySeconds ?? 0;
          counts.delaySum += delay;
          counts.maxDelay = Math.max(counts.maxDelay, delay);
        }
      }
      return queue.send(name, messages);
    },
  };
}

interface QueueLog {
  /** Messages the local queue reported as failed (one line per failed batch). */
  failedDeliveries: number;
  highestReceive: number;
  other: string[];
}

/**
 * The local queue reports every failed batch on console.error; under throttling that is
 * thousands of lines. They are counted (ids listed + "and N more", "receive X of Y") instead of printed.
 */
function captureQueueLog(log: QueueLog): () => void {
  const original = console.error;
  const pattern = /^\[local-queue\] entry: .* for messageId\(s\) (.*?)(?: and (\d+) more)? \(receive (\d+) of \d+\)/;
  console.error = (...args: unknown[]) => {
    const line = args.map(String).join(' ');
    const match = pattern.exec(line);
    if (match) {
      log.failedDeliveries += (match[1] ?? '').split(', ').filter((id) => id !== '').length + Number(match[2] ?? 0);
      log.highestReceive = Math.max(log.highestReceive, Number(match[3]));
      return;
    }
    if (line.startsWith('[local-queue] entry:')) {
      // "moved to the dead-letter list": counted from deadLetters('entry') instead.
      if (line.includes('moved to the dead-letter list')) return;
      if (log.other.length < 20) log.other.push(line.slice(0, 200));
      return;
    }
    original(...args);
  };
  return () => {
    console.error = original;
  };
}

// ---- Measurement ---------------------------------------------------------------------------

interface Measured {
  journeyId: string;
  users: number;
  messages: number;
  copies: number;
  retriggers: number;
  bucket: number;
  refillPerSecond: number;
  profileSeconds: number;
  drainSeconds: number;
  drained: boolean;
  settleSeconds: number;
  stats: StartStats;
  store: StoreCounts;
  sends: SendCounts;
  queueLog: QueueLog;
  deadLetters: number;
  deadLetterReceives: number[];
  executions: number;
  executionsRunning: number;
  distinctExecutionNames: number;
  runsStored: number;
  usersWithOneRun: number;
  usersWithoutRun: number;
  usersWithSeveralRuns: number;
  runsWithoutArn: number;
  runsWithoutExecution: number;
  /** Deliveries per second in the busiest 5 s window. */
  workerRate: number;
  /** Deliveries per second until as many deliveries as messages sent (the first pass through the backlog). */
  backlogRate: number;
  cpuSeconds: number;
}

async function seedProfiles(engine: LocalEngine, users: string[]): Promise<number> {
  const started = performance.now();
  const now = new Date().toISOString();
  await pool(users, PROFILE_CONCURRENCY, async (id) => {
    await engine.services.profiles.saveProfile(newProfile({ kind: 'user', id }, now));
  });
  await engine.settle(SETTLE_TIMEOUT_MS);
  return (performance.now() - started) / 1000;
}

async function publishEntryJourney(engine: LocalEngine): Promise<string> {
  const created = await createJourney(engine.services, {
    name: `Bench entry ${runId}`,
    entry: { event: ENTRY_EVENT },
    reentry: { mode: 'every_event', key: 'cartId' },
    start: 'wait',
    steps: { wait: { type: 'wait', duration: 'P30D', next: null } },
  });
  const id = created.id;
  if (typeof id !== 'string') throw new Error(`createJourney answered no id: ${JSON.stringify(created)}`);
  await publishJourney(engine.services, id);
  return id;
}

/**
 * The worker's capacity when it has a backlog, two ways: the most deliveries in any 5 s window,
 * per second, and the rate of its first pass through the messages sent at once (while every one
 * of them is still visible). Its rate over the whole drain is lower: it idles while every message
 * left is delayed.
 */
function peakDeliveryRate(times: readonly number[]): number {
  const window = LOCAL_ENTRY_QUEUE.visibilityTimeoutSeconds * 1000;
  let best = 0;
  for (let from = 0, to = 0; from < times.length; from++) {
    while (to < times.length && (times[to] ?? 0) - (times[from] ?? 0) < window) to++;
    best = Math.max(best, to - from);
  }
  return best / (window / 1000);
}

function firstPassRate(times: readonly number[], sentAt: number, messages: number): number {
  const at = times[Math.min(messages, times.length) - 1];
  return at === undefined || at <= sentAt ? Number.NaN : Math.min(messages, times.length) / ((at - sentAt) / 1000);
}

async function measure(engine: LocalEngine): Promise<Measured> {
  const journeyId = await publishEntryJourney(engine);
  const workload = buildWorkload(journeyId);
  const profileSeconds = await seedProfiles(engine, workload.users);

  const bucket = new TokenBucket(START_EXECUTION_QUOTA.largeRegions.bucket / SCALE, START_EXECUTION_QUOTA.largeRegions.refillPerSecond / SCALE);
  const stats = emptyStartStats();
  const store: StoreCounts = { gets: 0, getTimes: [], slotsRefused: 0 };
  const sends: SendCounts = { resends: 0, maxThrottled: 0, delaySum: 0, maxDelay: 0, byAttempt: [] };
  setServices({
    ...engine.services,
    engine: throttleStarts(engine.workflows, bucket, stats),
    journeys: countingStore(engine.services.journeys, store),
    queue: countingQueue(engine.services.queue, sends),
  });
  const queueLog: QueueLog = { failedDeliveries: 0, highestReceive: 0, other: [] };
  const restoreLog = captureQueueLog(queueLog);

  const cpuBefore = process.cpuUsage();
  const sentAt = performance.now();
  let drainedAt: number | undefined;
  let settleSeconds = 0;
  try {
    await engine.queues.send(
      'entry',
      workload.messages.map((body) => ({ body })),
    );
    const deadline = sentAt + DRAIN_TIMEOUT_S * 1000;
    let nextReport = sentAt + 10_000;
    while (performance.now() < deadline) {
      if (engine.queues.depth('entry') === 0) {
        drainedAt = performance.now();
        break;
      }
      if (performance.now() >= nextReport) {
        nextReport += 10_000;
        console.log(
          `  ${fixed((performance.now() - sentAt) / 1000, 0)} s: ${thousands(engine.queues.depth('entry'))} messages on the entry queue, ` +
            `${thousands(stats.started)} started, ${thousands(stats.throttled)} throttled, ${engine.queues.deadLetters('entry').length} dead-lettered`,
        );
      }
      await sleep(10);
    }
    const settleStart = performance.now();
    if (drainedAt !== undefined) await engine.settle(SETTLE_TIMEOUT_MS);
    settleSeconds = (performance.now() - settleStart) / 1000;
  } finally {
    restoreLog();
    setServices(engine.services);
  }
  const cpu = process.cpuUsage(cpuBefore);
  const drainSeconds = ((drainedAt ?? performance.now()) - sentAt) / 1000;

  const executions = engine.workflows.executions().filter((e) => e.journeyId === journeyId);
  const names = new Set(executions.map((e) => e.name));
  let runsStored = 0;
  let usersWithOneRun = 0;
  let usersWithoutRun = 0;
  let usersWithSeveralRuns = 0;
  let runsWithoutArn = 0;
  let runsWithoutExecution = 0;
  await pool(workload.users, PROFILE_CONCURRENCY, async (id) => {
    const runs = await engine.services.journeys.runsOf(profilePk({ kind: 'user', id }), journeyId);
    runsStored += runs.length;
    if (runs.length === 0) usersWithoutRun++;
    else if (runs.length === 1) usersWithOneRun++;
    else usersWithSeveralRuns++;
    for (const r of runs) {
      if (r.executionArn === undefined) runsWithoutArn++;
      if (!names.has(r.executionName)) runsWithoutExecution++;
    }
  });
  const dead = engine.queues.deadLetters('entry');
  return {
    journeyId,
    users: USERS,
    messages: workload.messages.length,
    copies: workload.copies,
    retriggers: workload.retriggers,
    bucket: bucket.capacity,
    refillPerSecond: bucket.refillPerSecond,
    profileSeconds,
    drainSeconds,
    drained: drainedAt !== undefined,
    settleSeconds,
    stats,
    store,
    sends,
    queueLog,
    deadLetters: dead.length,
    deadLetterReceives: dead.map((d) => d.receiveCount),
    executions: executions.length,
    executionsRunning: executions.filter((e) => e.status === 'running').length,
    distinctExecutionNames: names.size,
    runsStored,
    usersWithOneRun,
    usersWithoutRun,
    usersWithSeveralRuns,
    runsWithoutArn,
    runsWithoutExecution,
    workerRate: peakDeliveryRate(store.getTimes),
    backlogRate: firstPassRate(store.getTimes, sentAt, workload.messages.length),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- Model ---------------------------------------------------------------------------------

interface ModelRow {
  input: EntryQueueModelInput;
  outcome: EntryQueueModelOutcome;
}

/** Messages that need a StartExecution token: originals and copies (a second trigger is refused before the call). */
function tokenMessages(m: Measured): number {
  return m.messages - m.retriggers;
}

/** The model with the local settings and the worker's re-queue, at a given worker rate. */
function localModel(m: Measured, attemptsPerSecond: number): ModelRow {
  const input: EntryQueueModelInput = {
    messages: tokenMessages(m),
    bucket: m.bucket,
    refillPerSecond: m.refillPerSecond,
    attemptsPerSecond,
    onThrottle: 'requeue',
    visibilityTimeoutSeconds: LOCAL_ENTRY_QUEUE.visibilityTimeoutSeconds,
    maxReceiveCount: LOCAL_ENTRY_QUEUE.maxReceiveCount,
    order: 'fifo',
    tickSeconds: 0.005,
  };
  return { input, outcome: simulateEntryQueue(input) };
}

/** One AWS scenario of the model. */
interface AwsScenario {
  region: keyof typeof START_EXECUTION_QUOTA;
  attemptsPerSecond: number;
  order: 'fifo' | 'random';
  otherCallersPerSecond: number;
}

/**
 * The AWS case: 1,000,000 entries against the StartExecution quota and the deployed queue. The
 * worker's rate is not known without AWS: 20 batches of 10 in flight (records of a batch are
 * processed in parallel), a batch taking ~50–100 ms of DynamoDB, StartExecution and SQS calls
 * when they fail fast (2,000–4,000 messages/s), seconds while the SDK's throttling retries
 * (base 1 s, 3 attempts) still have retry quota; so a sweep in the large regions, then the
 * fastest worker (the most attempts, so the most re-sends) with other callers, in both quotas.
 * Other callers: tokens that other StartExecution callers in the account and region take.
 * Each row is 0.2–2 s of computing (1,000,000 messages, 2–15 attempts each; random order is the
 * slowest, so it has one row: in the other quota it changed little).
 */
const AWS_SCENARIOS: AwsScenario[] = [
  ...[500, 2_000, 4_000].map((attemptsPerSecond) => ({ region: 'largeRegions' as const, attemptsPerSecond, order: 'fifo' as const, otherCallersPerSecond: 0 })),
  { region: 'largeRegions', attemptsPerSecond: 4_000, order: 'random', otherCallersPerSecond: 0 },
  ...[30, 60].map((otherCallersPerSecond) => ({ region: 'largeRegions' as const, attemptsPerSecond: 4_000, order: 'fifo' as const, otherCallersPerSecond })),
  { region: 'otherRegions', attemptsPerSecond: 500, order: 'fifo', otherCallersPerSecond: 0 },
  ...[0, 30, 60].map((otherCallersPerSecond) => ({ region: 'otherRegions' as const, attemptsPerSecond: 4_000, order: 'fifo' as const, otherCallersPerSecond })),
];

/**
 * The worker before the change (a throttled message failed, came back after the visibility
 * timeout and was dead-lettered at its 20th receive), on inputs of rows above: for comparison only.
 */
const BEFORE_SCENARIOS: AwsScenario[] = [
  { region: 'largeRegions', attemptsPerSecond: 4_000, order: 'fifo', otherCallersPerSecond: 30 },
  { region: 'largeRegions', attemptsPerSecond: 4_000, order: 'fifo', otherCallersPerSecond: 60 },
  { region: 'otherRegions', attemptsPerSecond: 4_000, order: 'fifo', otherCallersPerSecond: 0 },
];

function awsModel(scenario: AwsScenario, onThrottle: EntryQueueModelInput['onThrottle']): ModelRow {
  const quota = START_EXECUTION_QUOTA[scenario.region];
  const input: EntryQueueModelInput = {
    messages: AWS_ENTRIES,
    bucket: quota.bucket,
    refillPerSecond: quota.refillPerSecond,
    otherCallersPerSecond: scenario.otherCallersPerSecond,
    attemptsPerSecond: scenario.attemptsPerSecond,
    onThrottle,
    visibilityTimeoutSeconds: AWS_ENTRY_QUEUE.visibilityTimeoutSeconds,
    maxReceiveCount: AWS_ENTRY_QUEUE.maxReceiveCount,
    order: scenario.order,
    tickSeconds: 0.05,
  };
  return { input, outcome: simulateEntryQueue(input) };
}

/** (N − bucket) ÷ (refill − other callers): the drain if every token were used. */
function refillFloorSeconds(input: EntryQueueModelInput): number {
  return (input.messages - input.bucket) / (input.refillPerSecond - (input.otherCallersPerSecond ?? 0));
}

/**
 * SQS requests per entry, estimated: the originals sent in batches of 10; each re-send one
 * request (the worker sends them one at a time); receives and deletes in batches of 10 (the
 * event source mapping; a lower bound, batches are not always full). Empty polls left out.
 */
function sqsRequestsPerEntry(o: EntryQueueModelOutcome, messages: number): number {
  const deletes = o.started + o.resends;
  return (messages / 10 + o.resends + o.receives / 10 + deletes / 10) / messages;
}

/** Shortest and longest total wait of a message throttled MAX_THROTTLED_ATTEMPTS times (the jitter at its ends). */
function giveUpWindowSeconds(): { min: number; max: number } {
  let min = 0;
  let max = 0;
  for (let attempt = 0; attempt < MAX_THROTTLED_ATTEMPTS; attempt++) {
    min += throttleDelaySeconds(attempt, () => 0);
    max += throttleDelaySeconds(attempt, () => 1);
  }
  return { min, max };
}

// ---- Report --------------------------------------------------------------------------------

function check(ok: boolean, what: string): string {
  return `${ok ? 'OK  ' : 'FAIL'}  ${what}`;
}

function quotaLabel(input: EntryQueueModelInput): string {
  return `${thousands(input.bucket)} / ${input.refillPerSecond}/s`;
}

export async function run(): Promise<void> {
  const host = machine();
  const wholeStarted = performance.now();
  console.log(`journey-entry benchmark — ${host.date}, node ${host.node}, ${host.cpus} × ${host.cpuModel}, ${host.platform}`);
  const quota = START_EXECUTION_QUOTA.largeRegions;
  console.log(
    `StartExecution modelled as a token bucket of ${quota.bucket} refilled at ${quota.refillPerSecond}/s (Step Functions Standard, large regions) ÷ ${SCALE} = ` +
      `${fixed(quota.bucket / SCALE, 0)} refilled at ${fixed(quota.refillPerSecond / SCALE, 1)}/s; ${thousands(USERS)} users, ` +
      `copies ${fixed(COPY_SHARE * 100, 0)} %, second triggers ${fixed(RETRIGGER_SHARE * 100, 0)} %\n`,
  );

  const engine = await startLocalEngine({ port: 0, dynamodbPort: 0, sesPort: 0, recheckIntervalMs: 0 });
  let m: Measured;
  try {
    m = await measure(engine);
  } finally {
    await engine.close();
  }
  const averageRate = m.store.gets / m.drainSeconds;
  const local = [localModel(m, m.backlogRate), localModel(m, m.workerRate)];
  const modelStarted = performance.now();
  const aws = AWS_SCENARIOS.map((scenario) => awsModel(scenario, 'requeue'));
  const before = BEFORE_SCENARIOS.map((scenario) => awsModel(scenario, 'visibility'));
  const modelSeconds = (performance.now() - modelStarted) / 1000;
  const mem = memory();

  const s = m.stats;
  const redeliveries = m.store.gets - m.messages - m.sends.resends;
  const sustainedRate =
    s.firstThrottledAt !== undefined && s.lastAdmittedAt !== undefined && s.lastAdmittedAt > s.firstThrottledAt
      ? s.admittedAfterFirstThrottle / ((s.lastAdmittedAt - s.firstThrottledAt) / 1000)
      : Number.NaN;
  // A message that failed its k-th receive was received once more: started, or dead-lettered at the limit.
  const measuredMaxReceives = m.deadLetters > 0 ? LOCAL_ENTRY_QUEUE.maxReceiveCount : m.queueLog.highestReceive + 1;
  const distinctEntries = m.users; // one cartId per user: one run per user is the whole of "not one lost"
  const localFloor = (tokenMessages(m) - m.bucket) / m.refillPerSecond;
  // An entry throttled k times or more sent exactly one message with `throttled: k`.
  const throttledAtLeast: string[] = [];
  for (let k = 1; k <= m.sends.maxThrottled; k++) throttledAtLeast.push(`${k}: ${thousands(m.sends.byAttempt[k] ?? 0)}`);

  console.log();
  console.log(
    table('Measured on the local engine', [
      ['users (profiles, written directly; not timed below)', `${thousands(m.users)} (${fixed(m.profileSeconds, 1)} s)`],
      ['enter messages sent at once', `${thousands(m.messages)} = ${thousands(m.users)} + ${thousands(m.copies)} copies + ${thousands(m.retriggers)} second triggers (same cart, new event)`],
      ['modelled StartExecution bucket / refill', `${fixed(m.bucket, 0)} / ${fixed(m.refillPerSecond, 1)} per s (AWS ÷ ${SCALE})`],
      ['local entry queue', `batches of ${LOCAL_ENTRY_QUEUE.batchSize}, ${LOCAL_ENTRY_QUEUE.concurrency} at once, visibility ${LOCAL_ENTRY_QUEUE.visibilityTimeoutSeconds} s, maxReceiveCount ${LOCAL_ENTRY_QUEUE.maxReceiveCount}`],
      [
        'time until the entry queue was empty (delayed included)',
        `${fixed(m.drainSeconds, 1)} s${m.drained ? '' : ` (NOT drained after ${DRAIN_TIMEOUT_S} s)`}, against ${fixed(localFloor, 1)} s if every token were used; then ${fixed(m.settleSeconds, 1)} s until streams settled`,
      ],
      ['StartExecution attempts / throttled / admitted', `${thousands(s.attempts)} / ${thousands(s.throttled)} (${fixed((s.throttled / Math.max(s.attempts, 1)) * 100, 1)} %) / ${thousands(s.admitted)}`],
      ['admitted: new execution / name already started / failed', `${thousands(s.started)} / ${thousands(s.alreadyStarted)} / ${thousands(s.failed)}`],
      [
        're-sent by the worker after a throttled start',
        `${thousands(m.sends.resends)}; delay mean ${fixed(m.sends.delaySum / Math.max(m.sends.resends, 1), 1)} s, longest ${m.sends.maxDelay} s; largest throttled count of one entry ${m.sends.maxThrottled}`,
      ],
      ['entries throttled at least k times (k: entries)', throttledAtLeast.length === 0 ? 'none' : throttledAtLeast.join(', ')],
      [
        'deliveries of enter messages',
        `${thousands(m.store.gets)} = ${thousands(m.messages)} sent + ${thousands(m.sends.resends)} re-sent + ${thousands(redeliveries)} redelivered after a failure (${fixed(m.store.gets / m.messages, 2)} per message)`,
      ],
      ['failed deliveries reported by the local queue', `${thousands(m.queueLog.failedDeliveries)}; highest receive count of a failed delivery ${m.queueLog.highestReceive} of ${LOCAL_ENTRY_QUEUE.maxReceiveCount}`],
      ['dead-lettered', `${m.deadLetters}${m.deadLetters > 0 ? ` (receive counts ${[...new Set(m.deadLetterReceives)].join(', ')})` : ''}`],
      ['executions of the journey in the runner (running)', `${thousands(m.executions)} (${thousands(m.executionsRunning)}); distinct names ${thousands(m.distinctExecutionNames)}`],
      ['runs stored (JourneyStore.runsOf, every user)', `${thousands(m.runsStored)}: ${thousands(m.usersWithOneRun)} users with one, ${m.usersWithoutRun} without, ${m.usersWithSeveralRuns} with several`],
      ['runs without an execution ARN / without an execution', `${m.runsWithoutArn} / ${m.runsWithoutExecution}`],
      [
        'duplicates (copies + second triggers)',
        `${thousands(m.copies + m.retriggers)}: ${thousands(s.alreadyStarted)} admitted copies answered started: false (name taken), ${thousands(m.store.slotsRefused)} entries refused at the re-entry slot`,
      ],
      [
        'achieved start rate after the bucket first ran empty',
        `${Number.isFinite(sustainedRate) ? `${fixed(sustainedRate, 1)} per s` : 'n/a (never throttled)'} (modelled refill ${fixed(m.refillPerSecond, 1)} per s); over the whole drain ${fixed(s.admitted / m.drainSeconds, 1)} per s`,
      ],
      [
        'worker rate (deliveries per s)',
        `${thousands(m.backlogRate)} through the first ${thousands(m.messages)} deliveries, ${thousands(m.workerRate)} in the busiest 5 s window, ${thousands(averageRate)} over the whole drain`,
      ],
      ['process CPU during the drain', `${fixed(m.cpuSeconds, 1)} s (${fixed((m.cpuSeconds / m.drainSeconds) * 100, 0)} % of one core)`],
    ]),
  );
  if (m.queueLog.other.length > 0) console.log(`other entry-queue log lines: ${m.queueLog.other.join(' | ')}`);

  console.log();
  const checks = [
    check(m.drained, 'the entry queue drained'),
    check(m.executions === distinctEntries && m.distinctExecutionNames === distinctEntries, `executions started (${thousands(m.executions)}) == distinct users (${thousands(distinctEntries)})`),
    check(m.runsStored === distinctEntries && m.usersWithOneRun === distinctEntries, `one run stored per user (${thousands(m.usersWithOneRun)} of ${thousands(distinctEntries)})`),
    check(m.runsWithoutArn === 0 && m.runsWithoutExecution === 0, 'every run has its execution and its ARN'),
    check(m.deadLetters === 0, `no message dead-lettered (${m.deadLetters})`),
    check(s.failed === 0, `no admitted start failed (${s.failed})`),
    check(m.sends.resends === s.throttled, `every throttled start was re-sent with a delay (${thousands(m.sends.resends)} of ${thousands(s.throttled)})`),
    check(measuredMaxReceives === 1, `throttling spent no receive: every message was received once (max receives ${measuredMaxReceives})`),
  ];
  for (const line of checks) console.log(line);

  console.log();
  console.log(
    grid(
      "Model check: the queue model (throttled attempts re-queued with the worker's backoff) with the local settings and the measured worker rate (FIFO, as the local queue)",
      ['', 'drain', 'receives', 're-sends', 'max throttled', 'max receives', 'dead-lettered'],
      [
        ['measured', `${fixed(m.drainSeconds, 1)} s`, thousands(m.store.gets - m.retriggers), thousands(m.sends.resends), `${m.sends.maxThrottled}`, `${measuredMaxReceives}`, `${m.deadLetters}`],
        ...local.map(({ input, outcome }, i) => [
          `model, worker at ${thousands(input.attemptsPerSecond)}/s (${i === 0 ? 'first pass' : 'busiest 5 s'})`,
          `${fixed(outcome.drainSeconds, 1)} s`,
          thousands(outcome.receives),
          thousands(outcome.resends),
          `${outcome.maxThrottled}`,
          `${outcome.maxReceives}`,
          `${outcome.deadLettered}`,
        ]),
      ],
    ),
  );
  console.log(
    `(measured receives: deliveries less one per second trigger, which needs no token; max receives: highest failed receive + 1, or the limit when something was dead-lettered)`,
  );

  console.log();
  const tNeeded = (AWS_ENTRIES - quota.bucket) / quota.refillPerSecond;
  const giveUp = giveUpWindowSeconds();
  const retryWindow = AWS_ENTRY_QUEUE.maxReceiveCount * AWS_ENTRY_QUEUE.visibilityTimeoutSeconds;
  console.log(
    table(`Arithmetic for ${thousands(AWS_ENTRIES)} entries on AWS (not measured)`, [
      ['StartExecution quota (Standard, large regions)', `bucket ${thousands(quota.bucket)}, refill ${quota.refillPerSecond}/s (other regions: ${START_EXECUTION_QUOTA.otherRegions.bucket}, ${START_EXECUTION_QUOTA.otherRegions.refillPerSecond}/s)`],
      ['time to start them all at the refill rate', `(${thousands(AWS_ENTRIES)} − ${thousands(quota.bucket)}) ÷ ${quota.refillPerSecond}/s = ${thousands(tNeeded)} s = ${fixed(tNeeded / 60, 1)} min (other regions: ${fixed((AWS_ENTRIES - START_EXECUTION_QUOTA.otherRegions.bucket) / START_EXECUTION_QUOTA.otherRegions.refillPerSecond / 60, 1)} min)`],
      [
        'a throttled attempt',
        `spends no receive: the worker re-sends the message with a delay of 1–2, 2–4, 4–8 … s, from the 10th attempt 450–900 s (SQS's longest delay), and deletes the original`,
      ],
      [
        `after ${MAX_THROTTLED_ATTEMPTS} throttled attempts`,
        `${fixed(giveUp.min / 3600, 0)}–${fixed(giveUp.max / 3600, 0)} h of waiting (${fixed(giveUp.min / 86_400, 1)}–${fixed(giveUp.max / 86_400, 1)} days), the message fails like any other error: ${AWS_ENTRY_QUEUE.maxReceiveCount} receives × ${AWS_ENTRY_QUEUE.visibilityTimeoutSeconds} s = ${fixed(retryWindow / 60, 0)} min more, then the DLQ`,
      ],
      ['SQS retention', `each re-send is a new message, which waits at most 900 s plus its turn; the entry queue keeps ${AWS_ENTRY_QUEUE.retentionDays} days (SQS default ${SQS_DEFAULT_RETENTION_DAYS} days)`],
      [
        'open executions quota',
        `${thousands(MAX_OPEN_EXECUTIONS)} per account and region: ${thousands(AWS_ENTRIES)} runs waiting 30 days reach it; entries beyond it get ExecutionLimitExceeded, are re-queued like throttled ones for the ${fixed(giveUp.min / 86_400, 1)}–${fixed(giveUp.max / 86_400, 1)} days above, then dead-lettered`,
      ],
    ]),
  );

  console.log();
  const totalModelled = aws.length + before.length;
  console.log(
    grid(
      `Model: ${thousands(AWS_ENTRIES)} entries at once against the deployed entry queue, throttled starts re-queued with the worker's backoff — arithmetic, not measured (${totalModelled} runs, ${fixed(modelSeconds, 1)} s to compute)`,
      ['quota', 'worker attempts/s', 'order', 'other callers/s', 'refill floor', 'drain', '99 % started', 'sends/entry', 'receives/entry', 'SQS requests/entry (est.)', 'max throttled', 'max receives', 'dead-lettered'],
      aws.map(({ input, outcome }) => [
        quotaLabel(input),
        thousands(input.attemptsPerSecond),
        input.order,
        String(input.otherCallersPerSecond ?? 0),
        `${fixed(refillFloorSeconds(input) / 60, 1)} min`,
        `${fixed(outcome.drainSeconds / 60, 1)} min`,
        `${fixed(outcome.p99StartedSeconds / 60, 1)} min`,
        fixed(outcome.sends / input.messages, 2),
        fixed(outcome.receives / input.messages, 2),
        fixed(sqsRequestsPerEntry(outcome, input.messages), 1),
        String(outcome.maxThrottled),
        String(outcome.maxReceives),
        thousands(outcome.deadLettered),
      ]),
      new Set([0, 2]),
    ),
  );
  const costliest = Math.max(...aws.map(({ input, outcome }) => sqsRequestsPerEntry(outcome, input.messages)));
  console.log(
    `(refill floor: (N − bucket) ÷ (refill − other callers); drain: until the last message was started; sends: originals + re-sends; SQS requests: originals and receives/deletes in batches of 10, ` +
      `each re-send one request; at $${fixed(SQS_DOLLARS_PER_MILLION_REQUESTS, 2)} per million requests the costliest row is about $${fixed(costliest * SQS_DOLLARS_PER_MILLION_REQUESTS, 1)} per million entries)`,
  );

  console.log();
  console.log(
    grid(
      `For comparison, the worker BEFORE the change (model): a throttled message failed, came back after the ${AWS_ENTRY_QUEUE.visibilityTimeoutSeconds} s visibility timeout and was dead-lettered at receive ${AWS_ENTRY_QUEUE.maxReceiveCount}`,
      ['quota', 'worker attempts/s', 'order', 'other callers/s', 'drain', 'receives/entry', 'SQS requests/entry (est.)', 'max receives', 'dead-lettered'],
      before.map(({ input, outcome }) => [
        quotaLabel(input),
        thousands(input.attemptsPerSecond),
        input.order,
        String(input.otherCallersPerSecond ?? 0),
        `${fixed(outcome.drainSeconds / 60, 1)} min`,
        fixed(outcome.receives / input.messages, 2),
        fixed(sqsRequestsPerEntry(outcome, input.messages), 1),
        String(outcome.maxReceives),
        thousands(outcome.deadLettered),
      ]),
      new Set([0, 2]),
    ),
  );
  console.log('(drain: until the last message was started or dead-lettered, so shorter where entries were lost)');

  const wholeSeconds = (performance.now() - wholeStarted) / 1000;
  console.log();
  console.log(
    table('Memory and run time', [
      ['process RSS at end', `${mem.rssMiB} MiB`],
      ['V8 heap used / total at end', `${mem.heapUsedMiB} / ${mem.heapTotalMiB} MiB`],
      ['whole run', `${fixed(wholeSeconds, 1)} s`],
    ]),
  );
  console.log(
    JSON.stringify({
      benchmark: 'journey-entry',
      machine: host,
      settings: { users: USERS, scale: SCALE, copyShare: COPY_SHARE, retriggerShare: RETRIGGER_SHARE, localQueue: LOCAL_ENTRY_QUEUE, awsQueue: AWS_ENTRY_QUEUE },
      measured: {
        messages: m.messages,
        copies: m.copies,
        retriggers: m.retriggers,
        bucket: m.bucket,
        refillPerSecond: m.refillPerSecond,
        drainSeconds: round(m.drainSeconds, 2),
        drained: m.drained,
        attempts: s.attempts,
        throttled: s.throttled,
        admitted: s.admitted,
        started: s.started,
        alreadyStarted: s.alreadyStarted,
        slotsRefused: m.store.slotsRefused,
        resends: m.sends.resends,
        maxThrottled: m.sends.maxThrottled,
        meanDelaySeconds: round(m.sends.delaySum / Math.max(m.sends.resends, 1), 2),
        maxDelaySeconds: m.sends.maxDelay,
        deliveries: m.store.gets,
        redeliveries,
        failedDeliveries: m.queueLog.failedDeliveries,
        highestFailedReceive: m.queueLog.highestReceive,
        maxReceives: measuredMaxReceives,
        deadLetters: m.deadLetters,
        executions: m.executions,
        runsStored: m.runsStored,
        usersWithOneRun: m.usersWithOneRun,
        sustainedStartRate: round(sustainedRate, 2),
        workerRate: round(m.workerRate, 1),
        backlogRate: round(m.backlogRate, 1),
        cpuSeconds: round(m.cpuSeconds, 2),
      },
      localModel: local.map(({ input, outcome }) => ({ attemptsPerSecond: round(input.attemptsPerSecond, 1), ...outcome })),
      awsModel: aws.map(({ input, outcome }) => ({ ...input, ...outcome, sqsRequestsPerEntry: round(sqsRequestsPerEntry(outcome, input.messages), 2) })),
      awsModelBefore: before.map(({ input, outcome }) => ({ ...input, ...outcome, sqsRequestsPerEntry: round(sqsRequestsPerEntry(outcome, input.messages), 2) })),
      modelSeconds: round(modelSeconds, 2),
      checks: checks.map((line) => line.startsWith('OK')),
      wholeSeconds: round(wholeSeconds, 1),
      memory: mem,
    }),
  );
}

function round(value: number, digits: number): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
