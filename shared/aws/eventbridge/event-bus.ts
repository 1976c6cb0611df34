import { PutEventsCommand, type EventBridgeClient, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { systemClock, type BusEvent, type Clock, type EventBus } from '../../ports';
import { backoffMs, chunk, sleep } from '../batching';

/** Source of every event the engine publishes (SPEC section 4). */
export const EVENT_SOURCE = 'engage';
/** PutEvents takes at most 10 entries. */
export const PUT_EVENTS_MAX_ENTRIES = 10;
/**
 * The total entry size of one PutEvents call must stay below this. EventBridge now accepts 1 MB,
 * but 256 KiB is what rules' targets (SQS, Lambda async, Step Functions) were built around.
 */
export const PUT_EVENTS_MAX_BYTES = 256 * 1024;

/** Thrown when events could not be published, after the retries. Names the bus, never the details. */
export class EventPublishError extends Error {
  constructor(
    readonly busName: string,
    readonly failedCount: number,
    readonly total: number,
    readonly codes: readonly string[],
    options?: ErrorOptions,
  ) {
    super(
      `event bus "${busName}": ${failedCount} of ${total} event(s) were not published` + (codes.length > 0 ? ` (${codes.join(', ')})` : ''),
      options,
    );
    this.name = 'EventPublishError';
  }
}

/**
 * Size of a PutEvents entry as EventBridge counts it ("Calculating PutEvents event entry size"):
 * 14 bytes for a Time, plus the UTF-8 bytes of Source, DetailType, Detail and each resource.
 */
export function putEventsEntrySize(entry: PutEventsRequestEntry): number {
  let size = entry.Time !== undefined ? 14 : 0;
  for (const text of [entry.Source, entry.DetailType, entry.Detail, ...(entry.Resources ?? [])]) {
    if (text !== undefined) size += Buffer.byteLength(text, 'utf8');
  }
  return size;
}

/** Validates a bus event and gives its detail as JSON; throws for what PutEvents would reject anyway. */
export function encodeBusEvent(event: BusEvent, index: number, clock: Clock): { detailType: string; detail: string; time: Date } {
  if (typeof event.detailType !== 'string' || event.detailType === '') throw new TypeError(`event ${index} has no detailType`);
  const detail: unknown = JSON.stringify(event.detail);
  if (typeof detail !== 'string' || !detail.startsWith('{')) throw new TypeError(`event ${index} (${event.detailType}): detail must be a JSON object`);
  const time = event.time === undefined ? clock.now() : new Date(event.time);
  if (Number.isNaN(time.getTime())) throw new RangeError(`event ${index} (${event.detailType}): time is not a valid date`);
  return { detailType: event.detailType, detail, time };
}

export interface EventBridgeBusOptions {
  /** Attempts per entry, the first included. Default 4. */
  maxAttempts?: number;
  /** First back-off before retrying failed entries; doubles each time, with jitter. Default 100 ms. */
  baseDelayMs?: number;
  /** Time of events published without one. Default: the system clock. */
  clock?: Clock;
}

interface Prepared {
  entry: PutEventsRequestEntry;
  bytes: number;
}

/**
 * The event bus port on EventBridge: PutEvents in chunks of 10 entries and under 256 KiB, entries
 * whose result carries an ErrorCode retried with back-off, and an EventPublishError if any event
 * is still unpublished. Events of other chunks may have been published when it throws: the caller
 * retries, and the bus's consumers are idempotent (event ids are not stable across retries).
 */
export class EventBridgeBus implements EventBus {
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly clock: Clock;

  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
    options: EventBridgeBusOptions = {},
  ) {
    if (busName === '') throw new Error('EventBridgeBus needs a bus name (EVENT_BUS_NAME)');
    this.maxAttempts = options.maxAttempts ?? 4;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) throw new RangeError(`maxAttempts must be a positive integer, got ${this.maxAttempts}`);
    this.baseDelayMs = Math.max(0, options.baseDelayMs ?? 100);
    this.clock = options.clock ?? systemClock;
  }

  async publish(events: BusEvent[]): Promise<void> {
    if (events.length === 0) return;
    const prepared: Prepared[] = events.map((event, index) => {
      const { detailType, detail, time } = encodeBusEvent(event, index, this.clock);
      const entry: PutEventsRequestEntry = { EventBusName: this.busName, Source: EVENT_SOURCE, DetailType: detailType, Detail: detail, Time: time };
      const bytes = putEventsEntrySize(entry);
      if (bytes >= PUT_EVENTS_MAX_BYTES) {
        throw new RangeError(`event ${index} (${detailType}) is ${bytes} bytes, over the ${PUT_EVENTS_MAX_BYTES}-byte PutEvents limit`);
      }
      return { entry, bytes };
    });

    const unsent: string[] = [];
    for (const batch of chunk(prepared, PUT_EVENTS_MAX_ENTRIES, PUT_EVENTS_MAX_BYTES - 1)) {
      unsent.push(...(await this.putBatch(batch.map((p) => p.entry))));
    }
    if (unsent.length > 0) {
      throw new EventPublishError(this.busName, unsent.length, events.length, [...new Set(unsent)].sort());
    }
  }

  /** Puts one chunk, retrying failed entries; returns the error codes of those still failing. */
  private async putBatch(entries: PutEventsRequestEntry[]): Promise<string[]> {
    let pending = entries;
    let codes: string[] = [];
    for (let attempt = 1; attempt <= this.maxAttempts && pending.length > 0; attempt += 1) {
      if (attempt > 1) await sleep(backoffMs(this.baseDelayMs, attempt - 1));
      const out = await this.client.send(new PutEventsCommand({ Entries: pending }));
      const results = out.Entries ?? [];
      const failedCount = out.FailedEntryCount ?? 0;
      const retry: PutEventsRequestEntry[] = [];
      codes = [];
      if (failedCount > 0 && results.length !== pending.length) {
        // Results are positional; without one per entry we cannot tell which failed: retry them all.
        retry.push(...pending);
        codes = pending.map(() => 'Unknown');
      } else {
        pending.forEach((entry, i) => {
          const code = results[i]?.ErrorCode;
          if (code !== undefined && code !== '') {
            retry.push(entry);
            codes.push(code);
          }
        });
      }
      pending = retry;
    }
    return pending.length > 0 ? codes : [];
  }
}
