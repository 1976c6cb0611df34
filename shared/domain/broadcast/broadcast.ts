import { DateTime, IANAZone } from 'luxon';

export type BroadcastStatus = 'scheduled' | 'sending' | 'sent' | 'cancelled' | 'failed';
export type Channel = 'email' | 'sms';

export interface Broadcast {
  id: string;
  name: string;
  audienceId: string;
  templateId: string;
  channel: Channel;
  /** When sending starts; with `localTime`, the wall-clock time it stands for. */
  sendAt: string;
  localTime: boolean;
  rateLimitPerSecond?: number;
  status: BroadcastStatus;
  /** Audience shards still to snapshot. */
  fanoutRemaining: number;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  completedAt?: string;
  version: number;
}

/** A recipient without a record has not been handled yet. */
export type SendStatus = 'sending' | 'sent' | 'failed' | 'skipped';
export type SkipReason = 'unsubscribed' | 'suppressed' | 'noAddress';
export type DeliveryStatus = 'delivered' | 'bounced' | 'complained';

/**
 * What happened to one recipient of a broadcast. Created by the sender's claim (a conditional
 * put) before the provider is called, so that a redelivered message never sends twice.
 */
export interface SendRecord {
  status: SendStatus;
  skipReason?: SkipReason;
  failReason?: string;
  messageId?: string;
  claimedAt?: string;
  sentAt?: string;
  delivery?: DeliveryStatus;
  opened?: boolean;
  clicked?: boolean;
}

export const COUNT_FIELDS = [
  'recipients',
  'sent',
  'skippedUnsubscribed',
  'skippedSuppressed',
  'skippedNoAddress',
  'failed',
  'delivered',
  'bounced',
  'complained',
  'opened',
  'clicked',
] as const;
export type CountField = (typeof COUNT_FIELDS)[number];
export type Counts = Record<CountField, number>;

export function zeroCounts(): Counts {
  return Object.fromEntries(COUNT_FIELDS.map((f) => [f, 0])) as Counts;
}

/** A record's share of its partition's counter. `recipients` comes from the fan-out instead. */
function contributions(record: SendRecord | undefined): Counts {
  const counts = zeroCounts();
  if (!record) return counts;
  if (record.status === 'sent') counts.sent = 1;
  if (record.status === 'failed') counts.failed = 1;
  if (record.status === 'skipped') {
    if (record.skipReason === 'unsubscribed') counts.skippedUnsubscribed = 1;
    if (record.skipReason === 'suppressed') counts.skippedSuppressed = 1;
    if (record.skipReason === 'noAddress') counts.skippedNoAddress = 1;
  }
  if (record.delivery === 'delivered') counts.delivered = 1;
  if (record.delivery === 'bounced') counts.bounced = 1;
  if (record.delivery === 'complained') counts.complained = 1;
  if (record.opened) counts.opened = 1;
  if (record.clicked) counts.clicked = 1;
  return counts;
}

/** What one change of a send record adds to its partition's counter (pure; applied once per change). */
export function countDelta(before: SendRecord | undefined, after: SendRecord | undefined): Partial<Counts> {
  const a = contributions(before);
  const b = contributions(after);
  const delta: Partial<Counts> = {};
  for (const field of COUNT_FIELDS) if (b[field] !== a[field]) delta[field] = b[field] - a[field];
  return delta;
}

/** The counts of SPEC section 3, from the summed partition counters. */
export function countsView(c: Counts): Record<string, unknown> {
  return {
    recipients: c.recipients,
    sent: c.sent,
    skipped: { unsubscribed: c.skippedUnsubscribed, suppressed: c.skippedSuppressed, noAddress: c.skippedNoAddress },
    failed: c.failed,
    delivered: c.delivered,
    bounced: c.bounced,
    complained: c.complained,
    opened: c.opened,
    clicked: c.clicked,
  };
}

/**
 * With `localTime`, the moment a recipient gets the broadcast: `sendAt`'s wall-clock time (as
 * written, in its own offset) in the recipient's time zone. Without a valid zone, `sendAt` itself.
 */
export function localSendTime(sendAt: string, timezone: unknown): Date {
  const given = DateTime.fromISO(sendAt, { setZone: true });
  if (typeof timezone !== 'string' || !IANAZone.isValidZone(timezone)) return given.toJSDate();
  return DateTime.fromObject(
    { year: given.year, month: given.month, day: given.day, hour: given.hour, minute: given.minute, second: given.second },
    { zone: timezone },
  ).toJSDate();
}

/** The earliest moment a local-time recipient can fall on (UTC+14): when such a broadcast starts. */
export function localTimeStart(sendAt: string): Date {
  const given = DateTime.fromISO(sendAt, { setZone: true });
  const wall = DateTime.fromObject(
    { year: given.year, month: given.month, day: given.day, hour: given.hour, minute: given.minute, second: given.second },
    { zone: 'utc' },
  );
  return wall.minus({ hours: 14 }).toJSDate();
}
