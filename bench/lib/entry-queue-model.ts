/**
 * A model, not a measurement: the entry queue drained by a worker whose StartExecution calls go
 * through a token bucket. Every message needs one admitted call. What a refused call does is the
 * `onThrottle` mode:
 *
 * - `requeue` (the worker today, `processJourneyMessage` in shared/services/journeys/entry.ts):
 *   the worker sends the message again with `throttled: k + 1` and a delay of
 *   `throttleDelaySeconds(k)` (2, 4, 8 … up to 900 s, jittered between half and the whole
 *   ceiling; drawn from the worker's own function with a seeded PRNG) and the original is
 *   deleted: one more send, no receive spent. After `maxThrottledAttempts` throttled attempts
 *   the message fails like any other error (the `visibility` path below, on its last copy).
 * - `visibility` (the worker before that change, kept for comparison): the message fails, comes
 *   back after the visibility timeout, and is dead-lettered once it has been received
 *   `maxReceiveCount` times without success (SQS redrive policy).
 *
 * Time advances in ticks. In each tick the worker takes up to `attemptsPerSecond × tick`
 * visible messages (its maximum concurrency × batch size ÷ the time a batch takes), in queue
 * order (`fifo`: what the local queue does; a delayed or failed message joins the back when it
 * becomes visible) or at random (`random`: SQS standard queues only try to keep order, so the
 * worst case for one message lies between the two). Each message taken is one receive and one
 * StartExecution call; the first ones in a tick get the tokens. Other callers in the account
 * take `otherCallersPerSecond` of the refill. Delays and visibility timeouts are rounded to
 * whole ticks.
 * Left out: SDK retries inside one receive (they spend tokens and slow the worker, which means
 * fewer receives), the batch structure (a message fails or is re-sent alone: partial batch
 * response), polls, the time a re-send takes, SQS's own latency.
 */
import { MAX_THROTTLED_ATTEMPTS, throttleDelaySeconds } from '../../shared/services/journeys/entry';
import { prng } from './report';

export interface EntryQueueModelInput {
  messages: number;
  bucket: number;
  refillPerSecond: number;
  /** Tokens other callers in the account take per second. Default 0. */
  otherCallersPerSecond?: number;
  /** Messages the worker can take off the queue and try per second. */
  attemptsPerSecond: number;
  /** What a throttled attempt does (see the module comment). */
  onThrottle: 'requeue' | 'visibility';
  /** `requeue`: throttled attempts before the message fails like any other error. Default the worker's MAX_THROTTLED_ATTEMPTS. */
  maxThrottledAttempts?: number;
  visibilityTimeoutSeconds: number;
  maxReceiveCount: number;
  order: 'fifo' | 'random';
  /** Default 0.01 s. */
  tickSeconds?: number;
  /** Stop after this much simulated time. Default 7 days. */
  horizonSeconds?: number;
  seed?: number;
}

export interface EntryQueueModelOutcome {
  started: number;
  deadLettered: number;
  /** Still on the queue at the horizon (0 unless the horizon was too short). */
  left: number;
  /** When the last message was started or dead-lettered. */
  drainSeconds: number;
  /** When 99 % of the messages had been started (NaN if they never were). */
  p99StartedSeconds: number;
  /** Messages received (each is one StartExecution call). */
  receives: number;
  /** Messages sent to the queue: the originals and every re-send of a throttled one. */
  sends: number;
  /** Re-sends of throttled messages (`requeue`). */
  resends: number;
  /** Most receives of one SQS message (a re-sent message is a new one, counted from 0). */
  maxReceives: number;
  /** Most throttled attempts of one entry (its `throttled` count). */
  maxThrottled: number;
  /** Throttled attempts of the entry that started last. */
  throttledOfLastStarted: number;
}

/** FIFO of message ids over a fixed-size ring (every message is in it at most once). */
class Ring {
  private readonly ids: Int32Array;
  private head = 0;
  private tail = 0;
  size = 0;

  constructor(capacity: number) {
    this.ids = new Int32Array(capacity);
  }

  push(id: number): void {
    this.ids[this.tail] = id;
    this.tail = this.tail + 1 === this.ids.length ? 0 : this.tail + 1;
    this.size += 1;
  }

  shift(): number {
    const id = this.ids[this.head] ?? -1;
    this.head = this.head + 1 === this.ids.length ? 0 : this.head + 1;
    this.size -= 1;
    return id;
  }
}

/** Visible messages taken at random: swap-remove from a dense array. */
class Bag {
  private readonly ids: Int32Array;
  size = 0;

  constructor(
    capacity: number,
    private readonly random: () => number,
  ) {
    this.ids = new Int32Array(capacity);
  }

  push(id: number): void {
    this.ids[this.size++] = id;
  }

  shift(): number {
    const at = Math.floor(this.random() * this.size);
    const id = this.ids[at] ?? -1;
    this.ids[at] = this.ids[--this.size] ?? -1;
    return id;
  }
}

/**
 * Per-message state, interleaved so that one message's fields share a cache line: receives of
 * its current SQS copy, its throttled attempts, its link in the wheel.
 */
const STRIDE = 4;
const RECEIVES = 0;
const THROTTLED = 1;
const NEXT = 2;

/**
 * Messages that are not visible yet (delayed, or in flight until their visibility timeout), by
 * the tick they become visible: a timing wheel with one FIFO list per tick, as long as the
 * longest wait, and one `next` link per message (a message waits in one slot at a time).
 */
class Wheel {
  private readonly first: Int32Array;
  private readonly last: Int32Array;

  /** `state[id * STRIDE + NEXT]` is the link of message `id`. */
  constructor(
    private readonly state: Int32Array,
    longestTicks: number,
  ) {
    this.first = new Int32Array(longestTicks + 1).fill(-1);
    this.last = new Int32Array(longestTicks + 1).fill(-1);
  }

  /** `id` becomes visible at tick `due` (at most `longestTicks` ahead of the tick being drained). */
  push(id: number, due: number): void {
    const slot = due % this.first.length;
    this.state[id * STRIDE + NEXT] = -1;
    const tail = this.last[slot] ?? -1;
    if (tail === -1) this.first[slot] = id;
    else this.state[tail * STRIDE + NEXT] = id;
    this.last[slot] = id;
  }

  /** Hands every message due at `tick` to `visible`, in the order they were pushed. */
  drain(tick: number, visible: { push(id: number): void }): void {
    const slot = tick % this.first.length;
    for (let id = this.first[slot] ?? -1; id !== -1; ) {
      const following = this.state[id * STRIDE + NEXT] ?? -1;
      visible.push(id);
      id = following;
    }
    this.first[slot] = -1;
    this.last[slot] = -1;
  }
}

/** SQS's longest message delay, and so the longest re-send delay. */
const MAX_DELAY_SECONDS = 900;

/**
 * Re-send delays, in ticks, drawn from the worker's own `throttleDelaySeconds` once per
 * throttled count and tick length (DELAY_SAMPLES draws each, seeded), then picked at random by
 * the model: the same distribution, without calling the worker's function for each of the
 * ~10 million re-sends of a run (about half of the run time when it did).
 */
const DELAY_SAMPLES = 4_096;
const delayTables = new Map<string, Int32Array>();

function delayTicks(attempt: number, tick: number): Int32Array {
  const key = `${attempt}/${tick}`;
  let table = delayTables.get(key);
  if (table === undefined) {
    const random = prng(1_000 + attempt);
    table = new Int32Array(DELAY_SAMPLES);
    for (let i = 0; i < DELAY_SAMPLES; i++) table[i] = Math.max(1, Math.round(throttleDelaySeconds(attempt, random) / tick));
    delayTables.set(key, table);
  }
  return table;
}

/**
 * Runs the model once.
 * @example
 * simulateEntryQueue({ messages: 1_000_000, bucket: 1_300, refillPerSecond: 300, attemptsPerSecond: 2_000,
 *   onThrottle: 'requeue', visibilityTimeoutSeconds: 180, maxReceiveCount: 20, order: 'fifo' }).deadLettered;
 */
export function simulateEntryQueue(input: EntryQueueModelInput): EntryQueueModelOutcome {
  const n = input.messages;
  const tick = input.tickSeconds ?? 0.01;
  const horizonTicks = Math.ceil((input.horizonSeconds ?? 7 * 86_400) / tick);
  const visibilityTicks = Math.max(1, Math.round(input.visibilityTimeoutSeconds / tick));
  const maxThrottled = input.onThrottle === 'requeue' ? (input.maxThrottledAttempts ?? MAX_THROTTLED_ATTEMPTS) : 0;
  const refill = Math.max(0, input.refillPerSecond - (input.otherCallersPerSecond ?? 0));
  const seed = input.seed ?? 1;
  const jitter = prng(seed + 1);
  const delays: Int32Array[] = [];
  for (let attempt = 0; attempt < maxThrottled; attempt++) delays.push(delayTicks(attempt, tick));
  const state = new Int32Array(n * STRIDE);
  const waiting = new Wheel(state, Math.max(visibilityTicks, Math.round(MAX_DELAY_SECONDS / tick)));
  const visible = input.order === 'fifo' ? new Ring(n) : new Bag(n, prng(seed));
  for (let id = 0; id < n; id++) visible.push(id);
  const p99 = Math.ceil(n * 0.99);

  let tokens = input.bucket;
  let budget = 0;
  let started = 0;
  let dead = 0;
  let total = 0;
  let resends = 0;
  let maxReceives = 0;
  let maxThrottledSeen = 0;
  let last = 0;
  let p99At = Number.NaN;
  let throttledOfLastStarted = 0;
  for (let k = 1; started + dead < n && k <= horizonTicks; k++) {
    const t = k * tick;
    tokens = Math.min(input.bucket, tokens + refill * tick);
    waiting.drain(k, visible);
    budget += input.attemptsPerSecond * tick;
    let take = Math.min(Math.floor(budget), visible.size);
    // Capacity the worker had no message for is not saved up.
    budget = visible.size > take ? budget - take : Math.min(budget - take, 1);
    for (; take > 0; take--) {
      const id = visible.shift();
      const at = id * STRIDE;
      const count = (state[at + RECEIVES] ?? 0) + 1;
      state[at + RECEIVES] = count;
      total += 1;
      if (count > maxReceives) maxReceives = count;
      const attempt = state[at + THROTTLED] ?? 0;
      if (tokens >= 1) {
        tokens -= 1;
        started += 1;
        last = t;
        throttledOfLastStarted = attempt;
        if (started === p99) p99At = t;
      } else if (attempt < maxThrottled) {
        // Re-sent with a delay, the original deleted: a new SQS message, received 0 times.
        state[at + THROTTLED] = attempt + 1;
        if (attempt + 1 > maxThrottledSeen) maxThrottledSeen = attempt + 1;
        state[at + RECEIVES] = 0;
        resends += 1;
        waiting.push(id, k + (delays[attempt]?.[Math.floor(jitter() * DELAY_SAMPLES)] ?? 1));
      } else if (count >= input.maxReceiveCount) {
        dead += 1;
        last = t;
      } else {
        waiting.push(id, k + visibilityTicks);
      }
    }
  }
  return {
    started,
    deadLettered: dead,
    left: n - started - dead,
    drainSeconds: last,
    p99StartedSeconds: p99At,
    receives: total,
    sends: n + resends,
    resends,
    maxReceives,
    maxThrottled: maxThrottledSeen,
    throttledOfLastStarted,
  };
}
