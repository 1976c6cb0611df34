/**
 * The SMS channel locally: messages are "sent" into an in-memory outbox that the local route
 * `GET /v1/local/outbox?channel=sms` lists. Tests can make the next sends fail, transiently (a
 * plain Error, which the send queue retries) or permanently (PermanentSendError).
 */
import { randomUUID } from 'node:crypto';
import { PermanentSendError, systemClock, type Clock, type SendReceipt, type SmsMessage, type SmsSender } from '../../shared/ports';

export interface OutboxSms {
  id: string;
  to: string;
  body: string;
  tags: Record<string, string>;
  /** ISO time. */
  sentAt: string;
}

export type SmsFaultKind = 'transient' | 'permanent';

export interface LocalSmsOutboxOptions {
  /** Messages kept; the oldest go first. Default 1000. */
  capacity?: number;
  /** Default the system clock. */
  clock?: Clock;
}

/** Error of an injected transient fault: like a throttled provider. */
export class LocalSmsTransientError extends Error {
  constructor() {
    super('local SMS outbox: injected transient failure');
    this.name = 'ThrottlingException';
  }
}

export class LocalSmsOutbox implements SmsSender {
  private readonly capacity: number;
  private readonly clock: Clock;
  private messages: OutboxSms[] = [];
  private readonly faults: SmsFaultKind[] = [];

  constructor(options: LocalSmsOutboxOptions = {}) {
    const capacity = options.capacity ?? 1000;
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.clock = options.clock ?? systemClock;
  }

  async sendSms(message: SmsMessage): Promise<SendReceipt> {
    const fault = this.faults.shift();
    if (fault === 'transient') throw new LocalSmsTransientError();
    if (fault === 'permanent') throw new PermanentSendError('local SMS outbox: injected permanent failure');
    const sms: OutboxSms = { id: randomUUID(), to: message.to, body: message.body, tags: { ...message.tags }, sentAt: this.clock.now().toISOString() };
    this.messages.push(sms);
    if (this.messages.length > this.capacity) this.messages = this.messages.slice(this.messages.length - this.capacity);
    return { providerMessageId: sms.id };
  }

  /** The newest `limit` messages (all by default), oldest first. */
  list(limit?: number): OutboxSms[] {
    const items = limit === undefined ? this.messages : limit <= 0 ? [] : this.messages.slice(-limit);
    return items.map((sms) => ({ ...sms, tags: { ...sms.tags } }));
  }

  /** Empties the outbox and forgets pending injected faults. */
  clear(): void {
    this.messages = [];
    this.faults.length = 0;
  }

  /** Makes the next `n` sends fail with `kind` (added after any faults already pending). */
  failNext(n: number, kind: SmsFaultKind): void {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
    for (let i = 0; i < n; i += 1) this.faults.push(kind);
  }
}
