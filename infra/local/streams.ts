/**
 * In-process emulation of DynamoDB Streams delivered through Lambda event source mappings.
 *
 * - Records are spread over a fixed number of virtual shards by partition key; order is kept
 *   within a shard.
 * - Every registered consumer has its own cursor per shard (one event source mapping each) and
 *   sees only records published after it registered (starting position LATEST).
 * - Batches of up to `batchSize` records; a handler that throws gets the batch retried, bisected
 *   first when `bisectOnError` is set (splitting does not count toward the retry quota, as on
 *   AWS); a `batchItemFailures` response checkpoints the records before the first failed one
 *   and retries from there (ReportBatchItemFailures). A record that has failed more than
 *   `maxRetries` times goes to the on-failure list and the cursor moves on.
 */
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { ChangeSignal } from './change-signal';

export interface StreamConsumerOptions {
  /** Largest batch handed to the handler. Default 100. */
  batchSize?: number;
  /** Retries of a failing record before it goes to the on-failure list. Default 5. */
  maxRetries?: number;
  /** Split a failing batch in half and retry the halves separately. Default true. */
  bisectOnError?: boolean;
}

export interface OnFailureEntry {
  consumer: string;
  error: string;
  records: Array<{ eventID: string; eventName: string; keys: Record<string, unknown>; sequenceNumber: string }>;
  at: string;
}

export type StreamHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | void>;

interface Pending {
  readonly record: DynamoDBRecord;
  /** Failed deliveries of this record to this consumer. */
  attempts: number;
}

interface Cursor {
  readonly shard: number;
  readonly queue: Pending[];
  /** Sizes of the next batches, forced by bisection (front first). Empty: gather freely. */
  segments: number[];
  scheduled: boolean;
  running: Promise<void> | undefined;
}

interface Consumer {
  readonly name: string;
  readonly handler: StreamHandler;
  readonly batchSize: number;
  readonly maxRetries: number;
  readonly bisectOnError: boolean;
  readonly cursors: Cursor[];
}

type Outcome =
  | { kind: 'ok' }
  | { kind: 'partial'; firstFailed: number; failedIds: ReadonlySet<string> }
  | { kind: 'error'; message: string; name: string };

const BACKOFF_BASE_MS = 50;
const BACKOFF_MAX_MS = 200;
const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

export class StreamBus {
  private readonly consumers = new Map<string, Consumer>();
  private readonly failures: OnFailureEntry[] = [];
  private readonly changed = new ChangeSignal();
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private capturesInProgress = 0;
  private closing = false;

  constructor(
    private readonly shardCount: number,
    private readonly log: (message: string) => void = (message) => console.error(message),
  ) {
    if (!Number.isInteger(shardCount) || shardCount < 1) throw new Error(`shardCount must be a positive integer, got ${shardCount}`);
  }

  register(name: string, handler: StreamHandler, options: StreamConsumerOptions = {}): void {
    if (this.consumers.has(name)) throw new Error(`a stream consumer named "${name}" is already registered`);
    const batchSize = options.batchSize ?? 100;
    const maxRetries = options.maxRetries ?? 5;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(maxRetries) || maxRetries < 0) throw new Error(`maxRetries must be a non-negative integer, got ${maxRetries}`);
    const cursors: Cursor[] = [];
    for (let shard = 0; shard < this.shardCount; shard += 1) {
      cursors.push({ shard, queue: [], segments: [], scheduled: false, running: undefined });
    }
    this.consumers.set(name, { name, handler, batchSize, maxRetries, bisectOnError: options.bisectOnError ?? true, cursors });
  }

  /** Appends a record to its shard for every registered consumer. */
  publish(record: DynamoDBRecord, partitionKey: string): void {
    if (this.closing) return;
    const shard = shardOf(partitionKey, this.shardCount);
    for (const consumer of this.consumers.values()) {
      const cursor = consumer.cursors[shard];
      if (cursor === undefined) continue;
      cursor.queue.push({ record, attempts: 0 });
      this.schedule(consumer, cursor);
    }
  }

  /** Counts a write being captured, so that drain() waits for the records it may produce. */
  async trackCapture<T>(work: () => Promise<T>): Promise<T> {
    this.capturesInProgress += 1;
    try {
      return await work();
    } finally {
      this.capturesInProgress -= 1;
      this.changed.notify();
    }
  }

  onFailure(): OnFailureEntry[] {
    return this.failures.map((entry) => ({ ...entry, records: entry.records.map((r) => ({ ...r })) }));
  }

  async drain(timeoutMs: number = DEFAULT_DRAIN_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.isQuiescent()) {
        // Let anything scheduled in this turn (setImmediate, resolved promises) show itself.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.isQuiescent()) return;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(`drain() timed out after ${timeoutMs} ms: ${this.describePending()}`);
      }
      await this.changed.wait(Math.min(remaining, 100));
    }
  }

  /**
   * Stops delivering: cancels back-off waits, waits for handlers currently running and for writes
   * being captured. Records not yet delivered are dropped (the emulated stream is in memory).
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const sleeper of this.sleepers) {
      clearTimeout(sleeper.timer);
      sleeper.resolve();
    }
    this.sleepers.clear();
    const running: Promise<void>[] = [];
    for (const consumer of this.consumers.values()) {
      for (const cursor of consumer.cursors) if (cursor.running !== undefined) running.push(cursor.running);
    }
    await Promise.allSettled(running);
    // Writes still being captured (a handler's fire-and-forget write, say) finish while the server is up.
    const deadline = Date.now() + 5_000;
    while (this.capturesInProgress > 0 && Date.now() < deadline) await this.changed.wait(50);
    this.changed.notify();
  }

  private isQuiescent(): boolean {
    if (this.capturesInProgress > 0) return false;
    for (const consumer of this.consumers.values()) {
      for (const cursor of consumer.cursors) {
        if (cursor.queue.length > 0 || cursor.scheduled || cursor.running !== undefined) return false;
      }
    }
    return true;
  }

  private describePending(): string {
    const parts: string[] = [`${this.capturesInProgress} write(s) being captured`];
    for (const consumer of this.consumers.values()) {
      const queued = consumer.cursors.reduce((sum, c) => sum + c.queue.length, 0);
      const busy = consumer.cursors.filter((c) => c.running !== undefined).length;
      if (queued > 0 || busy > 0) parts.push(`consumer "${consumer.name}": ${queued} record(s) queued, ${busy} shard(s) delivering`);
    }
    return parts.join('; ');
  }

  private schedule(consumer: Consumer, cursor: Cursor): void {
    if (this.closing || cursor.scheduled || cursor.running !== undefined) return;
    cursor.scheduled = true;
    // One tick of slack lets concurrent writes gather into one batch.
    setImmediate(() => {
      cursor.scheduled = false;
      if (this.closing || cursor.running !== undefined) {
        this.changed.notify();
        return;
      }
      cursor.running = this.pump(consumer, cursor).finally(() => {
        cursor.running = undefined;
        if (cursor.queue.length > 0) this.schedule(consumer, cursor);
        this.changed.notify();
      });
    });
  }

  private async pump(consumer: Consumer, cursor: Cursor): Promise<void> {
    while (cursor.queue.length > 0 && !this.closing) {
      const size = Math.min(cursor.segments[0] ?? consumer.batchSize, consumer.batchSize, cursor.queue.length);
      const batch = cursor.queue.slice(0, size);
      const outcome = await this.invoke(consumer, batch);
      if (this.closing) return;

      if (outcome.kind === 'ok') {
        this.checkpoint(cursor, size);
        continue;
      }

      if (outcome.kind === 'partial') {
        this.checkpoint(cursor, outcome.firstFailed);
        for (const pending of cursor.queue.slice(0, size - outcome.firstFailed)) {
          if (outcome.failedIds.has(pending.record.eventID ?? '')) pending.attempts += 1;
        }
        const head = cursor.queue[0];
        if (head === undefined) continue;
        this.log(
          `[local-streams] ${consumer.name} shard ${cursor.shard}: batchItemFailures from eventID ${head.record.eventID ?? '?'} ` +
            `(failure ${head.attempts} of ${consumer.maxRetries + 1})`,
        );
        if (head.attempts > consumer.maxRetries) {
          this.failOver(consumer, cursor, [head], 'reported in batchItemFailures');
          continue;
        }
        await this.sleep(backoffMs(head.attempts));
        continue;
      }

      if (consumer.bisectOnError && size > 1) {
        const firstHalf = Math.ceil(size / 2);
        cursor.segments = [firstHalf, size - firstHalf, ...cursor.segments.slice(1)];
        continue;
      }

      for (const pending of batch) pending.attempts += 1;
      const head = batch[0];
      this.log(
        `[local-streams] ${consumer.name} shard ${cursor.shard}: handler threw ${outcome.name} for ${describeIds(batch)} ` +
          `(failure ${head?.attempts ?? 0} of ${consumer.maxRetries + 1})`,
      );
      const exhausted = batch.filter((pending) => pending.attempts > consumer.maxRetries);
      if (exhausted.length > 0) {
        this.failOver(consumer, cursor, exhausted, outcome.message);
        continue;
      }
      await this.sleep(backoffMs(head?.attempts ?? 1));
    }
  }

  private async invoke(consumer: Consumer, batch: readonly Pending[]): Promise<Outcome> {
    // Each delivery gets its own copy, as each Lambda invocation gets its own parsed event.
    const event: DynamoDBStreamEvent = { Records: batch.map((pending) => structuredClone(pending.record)) };
    let response: DynamoDBBatchResponse | void;
    try {
      response = await consumer.handler(event);
    } catch (error) {
      return {
        kind: 'error',
        name: errorName(error),
        message: errorMessage(error),
      };
    }
    const failures = response?.batchItemFailures;
    if (failures === undefined || failures === null || failures.length === 0) return { kind: 'ok' };
    if (!Array.isArray(failures)) {
      return { kind: 'error', name: 'InvalidBatchItemFailures', message: 'batchItemFailures is not an array' };
    }
    const indexById = new Map<string, number>();
    batch.forEach((pending, index) => indexById.set(pending.record.eventID ?? '', index));
    const failedIds = new Set<string>();
    let firstFailed = batch.length;
    for (const failure of failures) {
      const id: unknown = failure?.itemIdentifier;
      const index = typeof id === 'string' && id !== '' ? indexById.get(id) : undefined;
      if (typeof id !== 'string' || index === undefined) {
        // As on AWS: an empty, null or unknown itemIdentifier fails the whole batch.
        return { kind: 'error', name: 'InvalidBatchItemFailures', message: 'batchItemFailures named an itemIdentifier not in the batch' };
      }
      failedIds.add(id);
      firstFailed = Math.min(firstFailed, index);
    }
    return { kind: 'partial', firstFailed, failedIds };
  }

  /** Removes the first `count` records of the cursor (delivered or failed over). */
  private checkpoint(cursor: Cursor, count: number): void {
    if (count <= 0) return;
    cursor.queue.splice(0, count);
    let left = count;
    while (left > 0 && cursor.segments.length > 0) {
      const front = cursor.segments[0] ?? 0;
      if (front > left) {
        cursor.segments[0] = front - left;
        left = 0;
      } else {
        cursor.segments.shift();
        left -= front;
      }
    }
  }

  private failOver(consumer: Consumer, cursor: Cursor, records: readonly Pending[], error: string): void {
    // Failed-over records are always a prefix of the queue: the batch starts at the head and
    // the head has taken part in every failed delivery since it became the head.
    const failing = new Set(records);
    let prefix = 0;
    for (const pending of cursor.queue) {
      if (!failing.has(pending)) break;
      prefix += 1;
    }
    this.checkpoint(cursor, prefix);
    if (prefix < failing.size) {
      for (let i = cursor.queue.length - 1; i >= 0; i -= 1) {
        const pending = cursor.queue[i];
        if (pending !== undefined && failing.has(pending)) cursor.queue.splice(i, 1);
      }
    }
    this.failures.push({
      consumer: consumer.name,
      error,
      at: new Date().toISOString(),
      records: records.map(({ record }) => ({
        eventID: record.eventID ?? '',
        eventName: record.eventName ?? '',
        keys: { ...(record.dynamodb?.Keys ?? {}) },
        sequenceNumber: record.dynamodb?.SequenceNumber ?? '',
      })),
    });
    this.log(`[local-streams] ${consumer.name} shard ${cursor.shard}: retries exhausted, sent to on-failure: ${describeIds(records)}`);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleeper = {
        timer: setTimeout(() => {
          this.sleepers.delete(sleeper);
          resolve();
        }, ms),
        resolve,
      };
      this.sleepers.add(sleeper);
    });
  }
}

function backoffMs(attempts: number): number {
  return Math.min(BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1), BACKOFF_MAX_MS);
}

function describeIds(records: readonly Pending[]): string {
  const ids = records.map(({ record }) => record.eventID ?? '?');
  const shown = ids.slice(0, 5).join(', ');
  return `eventID(s) ${shown}${ids.length > 5 ? ` and ${ids.length - 5} more` : ''}`;
}

/** FNV-1a over the partition key's canonical form: stable across runs. */
export function shardOf(partitionKey: string, shardCount: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < partitionKey.length; i += 1) {
    hash ^= partitionKey.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shardCount;
}

/** Error name without `instanceof` (errors from Node core come from another realm under jest). */
export function errorName(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'name' in error && typeof error.name === 'string') return error.name;
  return typeof error;
}

export function errorMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error && typeof error.message === 'string') return error.message;
  return String(error);
}
