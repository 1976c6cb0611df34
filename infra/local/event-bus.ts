/**
 * In-process stand-in for the deployment's EventBridge bus.
 *
 * - `publish` validates events as PutEvents would (detail a JSON object, entry size limit), wraps
 *   each in the EventBridge envelope, keeps it in a bounded recent list and returns; delivery is
 *   asynchronous.
 * - `subscribe` plays the part of a rule with a target: every matching event is delivered at least
 *   once, each delivery with its own parsed copy, retried with back-off when the handler throws,
 *   and after the last attempt logged (ids only) and kept in `failedDeliveries()`.
 */
import { randomUUID } from 'node:crypto';
import { EVENT_SOURCE, PUT_EVENTS_MAX_BYTES, encodeBusEvent, putEventsEntrySize } from '../../shared/aws/eventbridge/event-bus';
import { systemClock, type BusEvent, type Clock, type EventBus } from '../../shared/ports';
import { ChangeSignal } from './change-signal';
import { errorName } from './streams';

/** An event as EventBridge hands it to a target. */
export interface BusEnvelope {
  version: '0';
  id: string;
  'detail-type': string;
  source: typeof EVENT_SOURCE;
  account: string;
  /** ISO time to the second, as EventBridge gives it. */
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

export interface BusFilter {
  /** One detail type or any of several; absent: every event. */
  detailType?: string | string[];
}

export type BusSubscriber = (event: BusEnvelope) => Promise<void>;

export interface SubscribeOptions {
  /** Shown in logs and failed deliveries. Default `subscription-<n>`. */
  name?: string;
}

export interface FailedDelivery {
  eventId: string;
  detailType: string;
  subscription: string;
  attempts: number;
  /** Name of the last error (not its message, which may carry personal data). */
  errorName: string;
  at: string;
}

export interface LocalEventBusOptions {
  /** Events kept for `recent()`. Default 1000. */
  capacity?: number;
  /** Delivery attempts per event and subscription, the first included. Default 4. */
  maxAttempts?: number;
  /** First back-off between attempts; doubles each time. Default 100 ms. */
  retryDelayMs?: number;
  /** Time of events published without one. Default: the system clock. */
  clock?: Clock;
  /** Default us-east-1. */
  region?: string;
  /** Where final delivery failures are reported (ids only). Default console.error. */
  log?: (message: string) => void;
}

interface Subscription {
  readonly name: string;
  readonly detailTypes: ReadonlySet<string> | undefined;
  readonly handler: BusSubscriber;
  active: boolean;
}

const ACCOUNT_ID = '000000000000';
const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/**
 * The event bus port locally.
 * @example
 * const bus = new LocalEventBus();
 * bus.subscribe({ detailType: 'Audience Membership Changed' }, async (event) => startJourneys(event.detail));
 * await bus.publish([{ detailType: 'Audience Membership Changed', detail: { audienceId: 'a-1' } }]);
 * await bus.drain();
 */
export class LocalEventBus implements EventBus {
  private readonly events: BusEnvelope[] = [];
  private readonly subscriptions = new Set<Subscription>();
  private readonly deliveries = new Set<Promise<void>>();
  private readonly failures: FailedDelivery[] = [];
  private readonly changed = new ChangeSignal();
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private readonly capacity: number;
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;
  private readonly clock: Clock;
  private readonly region: string;
  private readonly log: (message: string) => void;
  private subscriptionCount = 0;
  private closing = false;

  constructor(options: LocalEventBusOptions = {}) {
    this.capacity = positiveInteger(options.capacity ?? 1000, 'capacity');
    this.maxAttempts = positiveInteger(options.maxAttempts ?? 4, 'maxAttempts');
    this.retryDelayMs = Math.max(0, options.retryDelayMs ?? 100);
    this.clock = options.clock ?? systemClock;
    this.region = options.region ?? 'us-east-1';
    this.log = options.log ?? ((message) => console.error(message));
  }

  /** Accepts every event or none (invalid input throws); after close() events are kept, not delivered. */
  async publish(events: BusEvent[]): Promise<void> {
    const envelopes = events.map((event, index): BusEnvelope => {
      const { detailType, detail, time } = encodeBusEvent(event, index, this.clock);
      const bytes = putEventsEntrySize({ Source: EVENT_SOURCE, DetailType: detailType, Detail: detail, Time: time });
      if (bytes >= PUT_EVENTS_MAX_BYTES) {
        throw new RangeError(`event ${index} (${detailType}) is ${bytes} bytes, over the ${PUT_EVENTS_MAX_BYTES}-byte PutEvents limit`);
      }
      const parsed: Record<string, unknown> = JSON.parse(detail);
      return {
        version: '0',
        id: randomUUID(),
        'detail-type': detailType,
        source: EVENT_SOURCE,
        account: ACCOUNT_ID,
        // PutEvents keeps whole seconds.
        time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        region: this.region,
        resources: [],
        detail: parsed,
      };
    });
    for (const envelope of envelopes) {
      this.events.push(envelope);
      if (this.events.length > this.capacity) this.events.shift();
      if (this.closing) continue;
      for (const subscription of this.subscriptions) {
        if (matches(subscription.detailTypes, envelope['detail-type'])) this.schedule(subscription, envelope);
      }
    }
  }

  /**
   * Delivers every later event that matches the filter to the handler. Returns a function that
   * ends the subscription (deliveries not yet attempted are then skipped).
   */
  subscribe(filter: BusFilter, handler: BusSubscriber, options: SubscribeOptions = {}): () => void {
    this.subscriptionCount += 1;
    const detailTypes = filter.detailType === undefined ? undefined : new Set([filter.detailType].flat());
    const subscription: Subscription = { name: options.name ?? `subscription-${this.subscriptionCount}`, detailTypes, handler, active: true };
    this.subscriptions.add(subscription);
    return () => {
      subscription.active = false;
      this.subscriptions.delete(subscription);
    };
  }

  /** The last `limit` published events that match the filter, oldest first (copies). */
  recent(limit = 100, filter: BusFilter = {}): BusEnvelope[] {
    const detailTypes = filter.detailType === undefined ? undefined : new Set([filter.detailType].flat());
    const matching = this.events.filter((event) => matches(detailTypes, event['detail-type']));
    return matching.slice(Math.max(0, matching.length - limit)).map((event) => structuredClone(event));
  }

  /** Deliveries that failed every attempt, oldest first. */
  failedDeliveries(): FailedDelivery[] {
    return this.failures.map((failure) => ({ ...failure }));
  }

  /** Resolves when no delivery is pending or running (deliveries of events published meanwhile included). */
  async drain(timeoutMs: number = DEFAULT_DRAIN_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.deliveries.size === 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.deliveries.size === 0) return;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`drain() timed out after ${timeoutMs} ms: ${this.deliveries.size} delivery(ies) pending`);
      await this.changed.wait(Math.min(remaining, 100));
    }
  }

  /** Stops delivering: cancels back-off waits (those deliveries are dropped) and waits for running handlers. */
  async close(): Promise<void> {
    this.closing = true;
    for (const sleeper of this.sleepers) {
      clearTimeout(sleeper.timer);
      sleeper.resolve();
    }
    this.sleepers.clear();
    while (this.deliveries.size > 0) await Promise.allSettled([...this.deliveries]);
    this.changed.notify();
  }

  private schedule(subscription: Subscription, envelope: BusEnvelope): void {
    const delivery = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.deliver(subscription, envelope))
      .catch((error: unknown) => this.log(`[local-event-bus] delivering event ${envelope.id} failed: ${errorName(error)}`))
      .finally(() => {
        this.deliveries.delete(delivery);
        this.changed.notify();
      });
    this.deliveries.add(delivery);
  }

  private async deliver(subscription: Subscription, envelope: BusEnvelope): Promise<void> {
    let lastError = 'Error';
    for (let attempt = 1; attempt <= this.maxAttempts; attempt += 1) {
      if (this.closing || !subscription.active) return;
      try {
        await subscription.handler(structuredClone(envelope));
        return;
      } catch (error) {
        lastError = errorName(error);
      }
      if (attempt < this.maxAttempts) await this.sleep(Math.min(this.retryDelayMs * 2 ** (attempt - 1), 10_000));
    }
    this.failures.push({
      eventId: envelope.id,
      detailType: envelope['detail-type'],
      subscription: subscription.name,
      attempts: this.maxAttempts,
      errorName: lastError,
      at: new Date().toISOString(),
    });
    this.log(
      `[local-event-bus] event ${envelope.id} not delivered to ${subscription.name} after ${this.maxAttempts} attempt(s) (${lastError})`,
    );
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
      sleeper.timer.unref();
      this.sleepers.add(sleeper);
    });
  }
}

function matches(detailTypes: ReadonlySet<string> | undefined, detailType: string): boolean {
  return detailTypes === undefined || detailTypes.has(detailType);
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}
