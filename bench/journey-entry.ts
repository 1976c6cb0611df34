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
 *   retries are spent. Installed with `setServices` (the worker reads `getServices()`).
 * - One `enter` message per user is put on the entry queue in one call, plus COPIES (a share of
 *   users whose message arrives twice: at-least-once delivery) and RETRIGGERS (a share of users
 *   with a second entry event for the same cart: two triggers, one key), shuffled.
 * - Then: time until the entry queue is empty, start attempts, throttled attempts, deliveries
 *   (counted at `JourneyStore.get`, the first call of every entry), dead letters, executions in
 *   the runner, runs stored under each profile.
 * The local entry queue is the engine's own (infra/local/engine.ts): batches of 10, 4 at a time,
 * visibility timeout 5 s, maxReceiveCount 10, so a message is retried for about 50 s.
 *
 * Arithmetic and model (not measured): the same drain at AWS scale, 1,000,000 entries against
 * the real quota and the deployed queue (infra/aws/constructs/journeys.ts: visibility 180 s,
 * maxReceiveCount 20, retention 14 days), with bench/lib/entry-queue-model.ts, first checked
 * against the local measurement.
 *
 * Settings (flags after the name, or environment): --users / BENCH_USERS (2000),
 * --scale / BENCH_THROTTLE_SCALE (5: bucket 260, refill 60/s), --copies / BENCH_COPY_SHARE (0.1),
 * --retriggers / BENCH_RETRIGGER_SHARE (0.05), --drain-timeout / BENCH_DRAIN_TIMEOUT_S (150).
 * Example: `npm run bench -- journey-entry --users 5000 --scale 10`.
 */
import { profilePk } from '../shared/aws/dynamodb/keys';
import { newProfile } from '../shared/domain/profile/profile';
import { createJourney, publishJourney } from '../shared/services/journeys/manage';
import type { JourneyMessage } from '../shared/services/journeys/entry';
import type { JourneyStore } from '../shared/ports';
import { setServices } from '../functions/lib/wiring';
import { startLocalEngine, type LocalEngine } from '../infra/local/engine';
import { simulateEntryQueue, type EntryQueueModelInput, type EntryQueueModelOutcome } from './lib/entry-queue-model';
import { fixed, grid, machine, memory, pool, prng, table, thousands } from './lib/report';
import { START_EXECUTION_QUOTA, TokenBucket, emptyStartStats, throttleStarts, type StartStats } from './lib/start-throttle';

const USERS = intSetting('users', 'BENCH_USERS', 2_000);
const SCALE = numberSetting('scale', 'BENCH_THROTTLE_SCALE', 5, 1);
const COPY_SHARE = numberSetting('copies', 'BENCH_COPY_SHARE', 0.1, 0, 1);
const RETRIGGER_SHARE = numberSetting('retriggers', 'BENCH_RETRIGGER_SHARE', 0.05, 0, 1);
const DRAIN_TIMEOUT_S = intSetting('drain-timeout', 'BENCH_DRAIN_TIMEOUT_S', 150);

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
  /** Deliveries per second in the busiest visibility-timeout window. */
  workerRate: number;
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
 * The worker's capacity when it has a backlog: the most deliveries in any window of one
 * visibility timeout, per second. (Its rate over the whole drain is lower when every message
 * left is in flight, waiting for its visibility timeout.)
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

async function measure(engine: LocalEngine): Promise<Measured> {
  const journeyId = await publishEntryJourney(engine);
  const workload = buildWorkload(journeyId);
  const profileSeconds = await seedProfiles(engine, workload.users);

  const bucket = new TokenBucket(START_EXECUTION_QUOTA.largeRegions.bucket / SCALE, START_EXECUTION_QUOTA.largeRegions.refillPerSecond / SCALE);
  const stats = emptyStartStats();
  const store: StoreCounts = { gets: 0, getTimes: [], slotsRefused: 0 };
  setServices({ ...engine.services, engine: throttleStarts(engine.workflows, bucket, stats), journeys: countingStore(engine.services.journeys, store) });
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

/** The model with the local settings, at a given worker rate. */
function localModel(m: Measured, attemptsPerSecond: number): ModelRow {
  const input: EntryQueueModelInput = {
    messages: tokenMessages(m),
    bucket: m.bucket,
    refillPerSecond: m.refillPerSecond,
    attemptsPerSecond,
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
  maxReceiveCount: number;
}

/**
 * The AWS case: 1,000,000 entries against the StartExecution quota and the deployed queue. The
 * worker's rate is not known without AWS: 20 batches of 10 in flight, a batch taking ~50–100 ms
 * of DynamoDB and StartExecution calls when they fail fast (2,000–4,000 messages/s), seconds
 * while the SDK's throttling retries (base 1 s, 3 attempts) still have retry quota; so a sweep.
 * Other callers: tokens that other StartExecution callers in the account and region take.
 */
const AWS_SCENARIOS: AwsScenario[] = [
  ...[500, 2_000, 4_000].flatMap((attemptsPerSecond) =>
    (['fifo', 'random'] as const).map((order) => ({ region: 'largeRegions' as const, attemptsPerSecond, order, otherCallersPerSecond: 0, maxReceiveCount: AWS_ENTRY_QUEUE.maxReceiveCount })),
  ),
  { region: 'largeRegions', attemptsPerSecond: 2_000, order: 'fifo', otherCallersPerSecond: 60, maxReceiveCount: AWS_ENTRY_QUEUE.maxReceiveCount },
  { region: 'largeRegions', attemptsPerSecond: 4_000, order: 'random', otherCallersPerSecond: 30, maxReceiveCount: AWS_ENTRY_QUEUE.maxReceiveCount },
  { region: 'largeRegions', attemptsPerSecond: 4_000, order: 'random', otherCallersPerSecond: 60, maxReceiveCount: AWS_ENTRY_QUEUE.maxReceiveCount },
  { region: 'largeRegions', attemptsPerSecond: 4_000, order: 'random', otherCallersPerSecond: 60, maxReceiveCount: 50 },
  { region: 'otherRegions', attemptsPerSecond: 2_000, order: 'fifo', otherCallersPerSecond: 0, maxReceiveCount: AWS_ENTRY_QUEUE.maxReceiveCount },
  { region: 'otherRegions', attemptsPerSecond: 4_000, order: 'random', otherCallersPerSecond: 0, maxReceiveCount: AWS_ENTRY_QUEUE.maxReceiveCount },
  { region: 'otherRegions', attemptsPerSecond: 4_000, order: 'random', otherCallersPerSecond: 0, maxReceiveCount: 50 },
];

function awsModels(): ModelRow[] {
  return AWS_SCENARIOS.map((scenario) => {
    const quota = START_EXECUTION_QUOTA[scenario.region];
    const input: EntryQueueModelInput = {
      messages: AWS_ENTRIES,
      bucket: quota.bucket,
      refillPerSecond: quota.refillPerSecond,
      otherCallersPerSecond: scenario.otherCallersPerSecond,
      attemptsPerSecond: scenario.attemptsPerSecond,
      visibilityTimeoutSeconds: AWS_ENTRY_QUEUE.visibilityTimeoutSeconds,
      maxReceiveCount: scenario.maxReceiveCount,
      order: scenario.order,
      tickSeconds: 0.05,
    };
    return { input, outcome: simulateEntryQueue(input) };
  });
}

// ---- Report --------------------------------------------------------------------------------

function check(ok: boolean, what: string): string {
  return `${ok ? 'OK  ' : 'FAIL'}  ${what}`;
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
  const local = [localModel(m, m.workerRate), localModel(m, averageRate)];
  const modelStarted = performance.now();
  const aws = awsModels();
  const modelSeconds = (performance.now() - modelStarted) / 1000;
  const mem = memory();

  const s = m.stats;
  const redeliveries = m.store.gets - m.messages;
  const sustainedRate =
    s.firstThrottledAt !== undefined && s.lastAdmittedAt !== undefined && s.lastAdmittedAt > s.firstThrottledAt
      ? s.admittedAfterFirstThrottle / ((s.lastAdmittedAt - s.firstThrottledAt) / 1000)
      : Number.NaN;
  // A message that failed its k-th receive was received once more: started, or dead-lettered at the limit.
  const measuredMaxReceives = m.deadLetters > 0 ? LOCAL_ENTRY_QUEUE.maxReceiveCount : m.queueLog.highestReceive + 1;
  const distinctEntries = m.users; // one cartId per user: one run per user is the whole of "not one lost"

  console.log();
  console.log(
    table('Measured on the local engine', [
      ['users (profiles, written directly; not timed below)', `${thousands(m.users)} (${fixed(m.profileSeconds, 1)} s)`],
      ['enter messages sent at once', `${thousands(m.messages)} = ${thousands(m.users)} + ${thousands(m.copies)} copies + ${thousands(m.retriggers)} second triggers (same cart, new event)`],
      ['modelled StartExecution bucket / refill', `${fixed(m.bucket, 0)} / ${fixed(m.refillPerSecond, 1)} per s (AWS ÷ ${SCALE})`],
      ['local entry queue', `batches of ${LOCAL_ENTRY_QUEUE.batchSize}, ${LOCAL_ENTRY_QUEUE.concurrency} at once, visibility ${LOCAL_ENTRY_QUEUE.visibilityTimeoutSeconds} s, maxReceiveCount ${LOCAL_ENTRY_QUEUE.maxReceiveCount}`],
      ['time until the entry queue was empty', `${fixed(m.drainSeconds, 1)} s${m.drained ? '' : ` (NOT drained after ${DRAIN_TIMEOUT_S} s)`}; then ${fixed(m.settleSeconds, 1)} s until streams settled`],
      ['StartExecution attempts / throttled / admitted', `${thousands(s.attempts)} / ${thousands(s.throttled)} (${fixed((s.throttled / Math.max(s.attempts, 1)) * 100, 1)} %) / ${thousands(s.admitted)}`],
      ['admitted: new execution / name already started / failed', `${thousands(s.started)} / ${thousands(s.alreadyStarted)} / ${thousands(s.failed)}`],
      ['deliveries of enter messages / redeliveries', `${thousands(m.store.gets)} / ${thousands(redeliveries)} (${fixed(m.store.gets / m.messages, 2)} receives per message)`],
      ['failed deliveries reported by the local queue', `${thousands(m.queueLog.failedDeliveries)}; highest receive count ${m.queueLog.highestReceive} of ${LOCAL_ENTRY_QUEUE.maxReceiveCount}`],
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
      ['worker rate (busiest 5 s window of deliveries)', `${thousands(m.workerRate)} deliveries per s; over the whole drain ${thousands(averageRate)} per s`],
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
  ];
  for (const line of checks) console.log(line);

  console.log();
  console.log(
    grid(
      'Model check: the queue model with the local settings and the measured worker rate (FIFO, as the local queue)',
      ['', 'drain', 'receives', 'max receives', 'dead-lettered'],
      [
        ['measured', `${fixed(m.drainSeconds, 1)} s`, thousands(m.store.gets - m.retriggers), `${measuredMaxReceives}`, `${m.deadLetters}`],
        ...local.map(({ input, outcome }, i) => [
          `model, worker at ${thousands(input.attemptsPerSecond)}/s (${i === 0 ? 'busiest window' : 'drain average'})`,
          `${fixed(outcome.drainSeconds, 1)} s`,
          thousands(outcome.receives),
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
  const retryWindow = AWS_ENTRY_QUEUE.maxReceiveCount * AWS_ENTRY_QUEUE.visibilityTimeoutSeconds;
  console.log(
    table(`Arithmetic for ${thousands(AWS_ENTRIES)} entries on AWS (not measured)`, [
      ['StartExecution quota (Standard, large regions)', `bucket ${thousands(quota.bucket)}, refill ${quota.refillPerSecond}/s (other regions: ${START_EXECUTION_QUOTA.otherRegions.bucket}, ${START_EXECUTION_QUOTA.otherRegions.refillPerSecond}/s)`],
      ['time to start them all at the refill rate', `(${thousands(AWS_ENTRIES)} − ${thousands(quota.bucket)}) ÷ ${quota.refillPerSecond}/s = ${thousands(tNeeded)} s = ${fixed(tNeeded / 60, 1)} min (other regions: ${fixed((AWS_ENTRIES - START_EXECUTION_QUOTA.otherRegions.bucket) / START_EXECUTION_QUOTA.otherRegions.refillPerSecond / 60, 1)} min)`],
      ['SQS retention needed', `> ${fixed(tNeeded / 60, 0)} min; the entry queue keeps ${AWS_ENTRY_QUEUE.retentionDays} days (SQS default ${SQS_DEFAULT_RETENTION_DAYS} days)`],
      ['retry window of one message before the DLQ', `${AWS_ENTRY_QUEUE.maxReceiveCount} receives × ${AWS_ENTRY_QUEUE.visibilityTimeoutSeconds} s visibility = ${thousands(retryWindow)} s = ${fixed(retryWindow / 60, 0)} min when the worker is fast (a message is tried again as soon as it is visible)`],
      ['headroom (retry window ÷ drain time)', `${fixed(retryWindow / tNeeded, 2)}: ${thousands(retryWindow - tNeeded)} s`],
      ['open executions quota', `${thousands(MAX_OPEN_EXECUTIONS)} per account and region: ${thousands(AWS_ENTRIES)} runs waiting 30 days reach it (ExecutionLimitExceeded)`],
    ]),
  );

  console.log();
  console.log(
    grid(
      `Model: ${thousands(AWS_ENTRIES)} entries at once against the deployed entry queue (visibility ${AWS_ENTRY_QUEUE.visibilityTimeoutSeconds} s) — arithmetic, not measured (${fixed(modelSeconds, 1)} s to compute)`,
      ['quota', 'worker attempts/s', 'order', 'other callers/s', 'maxReceiveCount', 'drain', 'max receives', 'receives of last started', 'dead-lettered'],
      aws.map(({ input, outcome }) => [
        `${thousands(input.bucket)} / ${input.refillPerSecond}/s`,
        thousands(input.attemptsPerSecond),
        input.order,
        String(input.otherCallersPerSecond ?? 0),
        String(input.maxReceiveCount),
        `${fixed(outcome.drainSeconds / 60, 1)} min`,
        String(outcome.maxReceives),
        String(outcome.receivesOfLastStarted),
        thousands(outcome.deadLettered),
      ]),
      new Set([0, 2]),
    ),
  );

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
        cpuSeconds: round(m.cpuSeconds, 2),
      },
      localModel: local.map(({ input, outcome }) => ({ attemptsPerSecond: round(input.attemptsPerSecond, 1), ...outcome })),
      awsModel: aws.map(({ input, outcome }) => ({ ...input, ...outcome })),
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
