/**
 * A model, not a measurement: the entry queue drained by a worker whose StartExecution calls go
 * through a token bucket. Every message needs one admitted call; a refused one fails its message,
 * which comes back after the visibility timeout, and is dead-lettered once it has been received
 * `maxReceiveCount` times without success (SQS redrive policy).
 *
 * Time advances in ticks. In each tick the worker takes up to `attemptsPerSecond × tick`
 * visible messages (its maximum concurrency × batch size ÷ the time a batch takes), in queue
 * order (`fifo`: what the local queue does) or at random (`random`: SQS standard queues only
 * try to keep order, so the worst case for one message lies between the two). Each message
 * taken is one receive and one StartExecution call; the first ones in a tick get the tokens.
 * Other callers in the account take `otherCallersPerSecond` of the refill.
 * Left out: SDK retries inside one receive (they spend tokens and slow the worker, which means
 * fewer receives), the batch structure (a message fails alone: partial batch response), polls.
 */
import { prng } from './report';

export interface EntryQueueModelInput {
  messages: number;
  bucket: number;
  refillPerSecond: number;
  /** Tokens other callers in the account take per second. Default 0. */
  otherCallersPerSecond?: number;
  /** Messages the worker can take off the queue and try per second. */
  attemptsPerSecond: number;
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
  receives: number;
  maxReceives: number;
  /** Receives of the message that started last. */
  receivesOfLastStarted: number;
}

/** FIFO of message ids over a fixed-size ring. */
class Ring {
  private readonly ids: Int32Array;
  private readonly due: Float64Array;
  private head = 0;
  private tail = 0;
  size = 0;

  constructor(capacity: number) {
    this.ids = new Int32Array(capacity);
    this.due = new Float64Array(capacity);
  }

  push(id: number, due = 0): void {
    this.ids[this.tail] = id;
    this.due[this.tail] = due;
    this.tail = (this.tail + 1) % this.ids.length;
    this.size += 1;
  }

  peekDue(): number {
    return this.size === 0 ? Number.POSITIVE_INFINITY : (this.due[this.head] ?? Number.POSITIVE_INFINITY);
  }

  shift(): number {
    const id = this.ids[this.head] ?? -1;
    this.head = (this.head + 1) % this.ids.length;
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
 * Runs the model once.
 * @example
 * simulateEntryQueue({ messages: 1_000_000, bucket: 1_300, refillPerSecond: 300, attemptsPerSecond: 2_000,
 *   visibilityTimeoutSeconds: 180, maxReceiveCount: 20, order: 'fifo' }).deadLettered;
 */
export function simulateEntryQueue(input: EntryQueueModelInput): EntryQueueModelOutcome {
  const n = input.messages;
  const tick = input.tickSeconds ?? 0.01;
  const horizon = input.horizonSeconds ?? 7 * 86_400;
  const visibility = input.visibilityTimeoutSeconds;
  const refill = Math.max(0, input.refillPerSecond - (input.otherCallersPerSecond ?? 0));
  const receives = new Uint16Array(n);
  const inflight = new Ring(n);
  const visible = input.order === 'fifo' ? new Ring(n) : new Bag(n, prng(input.seed ?? 1));
  for (let id = 0; id < n; id++) visible.push(id);

  let tokens = input.bucket;
  let budget = 0;
  let started = 0;
  let dead = 0;
  let total = 0;
  let max = 0;
  let last = 0;
  let lastStartedReceives = 0;
  let t = 0;
  while (started + dead < n && t < horizon) {
    t += tick;
    tokens = Math.min(input.bucket, tokens + refill * tick);
    while (inflight.peekDue() <= t) visible.push(inflight.shift());
    budget += input.attemptsPerSecond * tick;
    let take = Math.min(Math.floor(budget), visible.size);
    // Capacity the worker had no message for is not saved up.
    budget = visible.size > take ? budget - take : Math.min(budget - take, 1);
    for (; take > 0; take--) {
      const id = visible.shift();
      const count = (receives[id] ?? 0) + 1;
      receives[id] = count;
      total += 1;
      if (count > max) max = count;
      if (tokens >= 1) {
        tokens -= 1;
        started += 1;
        last = t;
        lastStartedReceives = count;
      } else if (count >= input.maxReceiveCount) {
        dead += 1;
        last = t;
      } else {
        inflight.push(id, t + visibility);
      }
    }
  }
  return {
    started,
    deadLettered: dead,
    left: n - started - dead,
    drainSeconds: last,
    receives: total,
    maxReceives: max,
    receivesOfLastStarted: lastStartedReceives,
  };
}
