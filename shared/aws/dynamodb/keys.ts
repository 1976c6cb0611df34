/**
 * Key builders for every item type of the single table. Keeping them in one place makes the
 * access patterns in docs/data-model.md greppable and stops ad-hoc string building elsewhere.
 */

import type { ProfileRef } from '../../domain/profile/profile';

export const PROFILE_SK = 'PROFILE';
export const EVENT_SK_PREFIX = 'EVT#';
export const ALIAS_SK_PREFIX = 'ALIAS#';

export function profilePk(ref: ProfileRef): string {
  return ref.kind === 'user' ? `USER#${ref.id}` : `ANON#${ref.id}`;
}

export function parseProfilePk(pk: string): ProfileRef | undefined {
  if (pk.startsWith('USER#')) return { kind: 'user', id: pk.slice(5) };
  if (pk.startsWith('ANON#')) return { kind: 'anonymous', id: pk.slice(5) };
  return undefined;
}

export function eventSk(messageId: string): string {
  return `${EVENT_SK_PREFIX}${messageId}`;
}

/** Sort key of the byTime index: ISO timestamps in UTC with milliseconds sort lexically. */
export function eventTimeSk(timestamp: string, messageId: string): string {
  return `${timestamp}#${messageId}`;
}

/** A link, under the surviving user, to a profile merged into it (erasure follows links). */
export function aliasSk(source: ProfileRef): string {
  return `${ALIAS_SK_PREFIX}${profilePk(source)}`;
}

export const MEMBERSHIP_SK_PREFIX = 'AUD#';
export const MESSAGE_SK_PREFIX = 'MSG#';

/** Sort key of the byEvent index: name, then time; only events with a name carry it. */
export function eventNameSk(event: string, timestamp: string, messageId: string): string {
  return `${event}#${timestamp}#${messageId}`;
}

/** Bounds of a byEvent query for one event name; timestamps start with a digit, so `~` is above all. */
export function eventNameRange(event: string, sinceIso: string | null): { from: string; to: string } {
  return { from: `${event}#${sinceIso ?? ''}`, to: `${event}#~` };
}

// ---- Audiences -------------------------------------------------------------------------

/** Membership lists and counters are split over this many partitions per audience. */
export const AUDIENCE_SHARD_COUNT = 16;
/** Timers are indexed over this many GSI partitions (one query each finds every due timer). */
export const TIMER_SHARD_COUNT = 32;

export const TIMER_SK_PREFIX = 'AUDT#';
export const AUDIENCE_SK = 'AUDIENCE';
export const AUDIENCE_LIST_PK = 'AUDIENCES';
export const COUNTER_SK = '#COUNT';

export function membershipSk(audienceId: string): string {
  return `${MEMBERSHIP_SK_PREFIX}${audienceId}`;
}

export function timerSk(audienceId: string): string {
  return `${TIMER_SK_PREFIX}${audienceId}`;
}

export function audiencePk(audienceId: string): string {
  return `AUDIENCE#${audienceId}`;
}

export function audienceShardPk(audienceId: string, shard: number): string {
  return `AUDM#${audienceId}#${shard}`;
}

export function parseAudienceShardPk(pk: string): { audienceId: string; shard: number } | undefined {
  const match = /^AUDM#(.+)#(\d+)$/.exec(pk);
  return match?.[1] !== undefined && match[2] !== undefined ? { audienceId: match[1], shard: Number(match[2]) } : undefined;
}

export function backfillSegmentSk(ruleVersion: number, segment: number): string {
  return `BACKFILL#${ruleVersion}#${segment}`;
}

/** GSI1 partition of a timer; its GSI1 sort key starts with the due time, so "due by now" is one range. */
export function timerPartition(shard: number): string {
  return `TIMERS#${shard}`;
}

export function timerSortKey(dueAt: Date, pk: string, audienceId: string): string {
  return `${dueAt.toISOString()}#${pk}|${audienceId}`;
}

/** Upper bound of the timers due at `now`: `#` and every key character sort below `~`. */
export function timersDueBound(now: Date): string {
  return `${now.toISOString()}#~`;
}

/** Stable shard of a profile partition key (FNV-1a), for audience member lists and timers. */
export function shardOf(pk: string, count: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < pk.length; i++) {
    hash ^= pk.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}

/** Marks that a stream record was published to the bus (the outbox never publishes it twice). */
export function outboxPk(eventId: string): string {
  return `OUTBOX#${eventId}`;
}
