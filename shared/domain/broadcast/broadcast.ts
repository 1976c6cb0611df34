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
  /** Recipient groups: `all`, or one per UTC offset (`o60`, `o-300`) when sending by local time. */
  groups: string[];
  /** Fan-out shards (group × audience shard) still to snapshot. */
  fanoutRemaining: number;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  completedAt?: string;
  version: number;
}

export type SendStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'skipped';
export type SkipReason = 'unsubscribed' | 'suppressed' | 'noAddress';
export type DeliveryStatus = 'delivered' | 'bounced' | 'complained';

/** A recipient of a broadcast: one per member of the snapshot, claimed before the provider call. */
export interface SendRecord {
  status: SendStatus;
  skipReason?: SkipReason;
  failReason?: string;
  messageId?: string;
  claimedAt?: string;
  attempts?: number;
  sentAt?: string;
  delivery?: DeliveryStatus;
  opened?: boolean;
  clicked?: boolean;
  /** When the message may go out (local-time broadcasts). */
  notBefore?: string;
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

function contributions(record: SendRecord | undefined): Counts {
  const counts = zeroCounts();
  if (!record) return counts;
  counts.recipients = 1;
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

export function isTerminal(record: SendRecord): boolean {
  return record.status === 'sent' || record.status === 'failed' || record.status === 'skipped';
}

/**
 * With `localTime`, the moment a recipient gets the broadcast: `sendAt`'s wall-clock time (as
 * written, in its own offset) in the recipient's time zone. Without a valid zone, `sendAt` itself.
 * Returns the group (`o<offset minutes>`) so that recipients of one offset go out together.
 */
export function localSendTime(sendAt: string, timezone: unknown): { at: Date; group: string } {
  const given = DateTime.fromISO(sendAt, { setZone: true });
  const zone = typeof timezone === 'string' && IANAZone.isValidZone(timezone) ? timezone : undefined;
  const local = zone
    ? DateTime.fromObject(
        { year: given.year, month: given.month, day: given.day, hour: given.hour, minute: given.minute, second: given.second },
        { zone },
      )
    : given;
  return { at: local.toJSDate(), group: `o${local.offset}` };
}

/** The earliest and latest moments local-time recipients can fall on (UTC+14 … UTC−12). */
export function localTimeWindow(sendAt: string): { earliest: Date; latest: Date } {
  const given = DateTime.fromISO(sendAt, { setZone: true });
  const wall = DateTime.fromObject(
    { year: given.year, month: given.month, day: given.day, hour: given.hour, minute: given.minute, second: given.second },
    { zone: 'utc' },
  );
  return { earliest: wall.minus({ hours: 14 }).toJSDate(), latest: wall.plus({ hours: 12 }).toJSDate() };
}
