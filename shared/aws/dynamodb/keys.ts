/**
 * Key builders for every item type of the single table. Keeping them in one place makes the
 * access patterns in docs/data-model.md greppable and stops ad-hoc string building elsewhere.
 */

import { createHash } from 'node:crypto';
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

/**
 * The event name as it appears in a byEvent key: itself, or a hash when it is long enough to
 * push the key past DynamoDB's 1,024-byte limit for an index sort key.
 */
function eventNameKey(event: string): string {
  return Buffer.byteLength(event, 'utf8') <= 400 ? event : `#H${createHash('sha256').update(event).digest('hex')}`;
}

/** Sort key of the byEvent index: name, then time; only events with a name carry it. */
export function eventNameSk(event: string, timestamp: string, messageId: string): string {
  return `${eventNameKey(event)}#${timestamp}#${messageId}`;
}

/**
 * Bounds of a byEvent query for one event name; timestamps start with a digit, so `~` is above
 * all. A name that itself contains `#` can share a range: readers keep only their own name.
 */
export function eventNameRange(event: string, sinceIso: string | null): { from: string; to: string } {
  const name = eventNameKey(event);
  return { from: `${name}#${sinceIso ?? ''}`, to: `${name}#~` };
}

/** Stream sequence numbers are decimal strings of up to 40 digits: padded, they compare as strings. */
export function paddedSequence(sequenceNumber: string): string {
  return sequenceNumber.padStart(40, '0');
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

// ---- Messaging and broadcasts ---------------------------------------------------------

export const TEMPLATE_SK = 'TEMPLATE';
export const TEMPLATE_LIST_PK = 'TEMPLATES';
export const BROADCAST_SK = 'BROADCAST';
export const BROADCAST_LIST_PK = 'BROADCASTS';

export function templatePk(id: string): string {
  return `TEMPLATE#${id}`;
}

export function broadcastPk(id: string): string {
  return `BROADCAST#${id}`;
}

/** A fan-out page of one audience shard: holds how many recipients it enqueued (`n`). */
export function fanoutPageSk(shard: number, page: number): string {
  return `FANOUT#${String(shard).padStart(3, '0')}#${String(page).padStart(6, '0')}`;
}

export const FANOUT_SK_PREFIX = 'FANOUT#';

export function fanoutDoneSk(shard: number): string {
  return `FANOUTDONE#${shard}`;
}

/**
 * A broadcast's send records live in one partition per audience shard (fan-out of shard n
 * writes only partition n); each partition keeps its own counter (`#COUNT`).
 */
export function sendPk(broadcastId: string, shard: number): string {
  return `SEND#${broadcastId}#${shard}`;
}

export function parseSendPk(pk: string): { broadcastId: string; shard: number } | undefined {
  const match = /^SEND#(.+)#(\d+)$/.exec(pk);
  return match?.[1] !== undefined && match[2] !== undefined ? { broadcastId: match[1], shard: Number(match[2]) } : undefined;
}

export const JOURNEY_SEND_SK_PREFIX = 'JSEND#';

/**
 * A journey send claim, under the recipient's profile pk: one per (journey, execution, step).
 * Journey ids and execution names contain no `#` (Step Functions refuses it in a name); the
 * step id, user-chosen, comes last, hashed when long enough to threaten the 1,024-byte limit.
 * Its pk is a profile pk, never `SEND#…`: the stream router does not count it into broadcasts.
 */
export function journeySendSk(journeyId: string, executionName: string, stepId: string): string {
  const step = Buffer.byteLength(stepId, 'utf8') <= 400 ? stepId : `#H${createHash('sha256').update(stepId).digest('hex')}`;
  return `${JOURNEY_SEND_SK_PREFIX}${journeyId}#${executionName}#${step}`;
}

export function messageSk(messageId: string): string {
  return `${MESSAGE_SK_PREFIX}${messageId}`;
}

/** GSI1 key of a message log item, so that delivery feedback finds it by message id alone. */
export function messageLookupKey(messageId: string): string {
  return `MSGID#${messageId}`;
}

export function suppressionPk(channel: string, addressHash: string): string {
  return `SUPPRESS#${channel}#${addressHash}`;
}

/** One item per sender and second: a conditional counter is a rate limit shared by every sender. */
export function rateBucketPk(scope: string, epochSecond: number): string {
  return `RATE#${scope}#${epochSecond}`;
}

// ---- Journeys ---------------------------------------------------------------------------

export const JOURNEY_SK = 'JOURNEY';
export const JOURNEY_LIST_PK = 'JOURNEYS';
/** Journey items under a profile: runs, re-entry slots, holds awaiting an event. */
export const RUN_SK_PREFIX = 'JRUN#';
export const HOLD_SK_PREFIX = 'JHOLD#';
/** Count markers and counters of a journey are spread over this many partitions. */
export const JOURNEY_STAT_SHARD_COUNT = 16;

/** Sort key of a run under its profile: runs of a journey are one `begins_with` away. */
export function runSk(journeyId: string, executionName: string): string {
  return `${runSkPrefix(journeyId)}${executionName}`;
}

export function runSkPrefix(journeyId: string): string {
  return `${RUN_SK_PREFIX}${journeyId}#`;
}

export function isRunSk(sk: string): boolean {
  return sk.startsWith(RUN_SK_PREFIX);
}

export function journeyPk(id: string): string {
  return `JOURNEY#${id}`;
}

export function journeyVersionSk(version: number): string {
  return `VERSION#${String(version).padStart(6, '0')}`;
}

/** The holds of one run (`begins_with`), or of a whole profile without arguments. */
export function holdSkPrefix(run?: { journeyId: string; executionName: string }): string {
  return run === undefined ? HOLD_SK_PREFIX : `${HOLD_SK_PREFIX}${run.journeyId}#${run.executionName}#`;
}

export function holdSk(journeyId: string, executionName: string, stepId: string): string {
  return `${holdSkPrefix({ journeyId, executionName })}${stepId}`;
}

export function journeyStatPk(journeyId: string, shard: number): string {
  return `JSTAT#${journeyId}#${shard}`;
}

export function parseJourneyStatPk(pk: string): { journeyId: string; shard: number } | undefined {
  const match = /^JSTAT#(.+)#(\d+)$/.exec(pk);
  return match?.[1] !== undefined && match[2] !== undefined ? { journeyId: match[1], shard: Number(match[2]) } : undefined;
}
