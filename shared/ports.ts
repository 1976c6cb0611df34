import type { Profile, ProfileRef } from './domain/profile/profile';
import type { MessageType } from './domain/ingestion/messages';
import type { EvaluationEvent } from './domain/audience/evaluate';
import type { Rule } from './domain/audience/rule';

/** A page of a listing; `nextCursor` is opaque to callers and absent on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface PageRequest {
  limit: number;
  cursor?: string;
}

/** An event as stored under its profile. */
export interface StoredEvent {
  messageId: string;
  type: MessageType;
  event?: string;
  properties: Record<string, unknown>;
  traits?: Record<string, unknown>;
  groupId?: string;
  previousId?: string;
  userId?: string;
  anonymousId?: string;
  timestamp: string;
  receivedAt: string;
  context?: Record<string, unknown>;
  /** Set on an event re-attributed by a merge: `<kind>:<id>` of the identity it came from. */
  movedFrom?: string;
}

export interface Membership {
  id: string;
  enteredAt: string;
}

/** Profiles, their events and everything else stored under a profile's partition. */
export interface ProfileStore {
  getProfile(ref: ProfileRef): Promise<Profile | undefined>;
  /**
   * Stores the profile if its stored version still equals `profile.version` (0: not stored yet).
   * Returns the profile with its new version. Throws ConcurrentUpdateError when it lost a race.
   */
  saveProfile(profile: Profile): Promise<Profile>;
  hasEvent(ref: ProfileRef, messageId: string): Promise<boolean>;
  /** Stores the event unless one with its messageId exists; returns whether it was stored. */
  putEvent(ref: ProfileRef, event: StoredEvent): Promise<boolean>;
  deleteEvent(ref: ProfileRef, messageId: string): Promise<void>;
  /** Newest first by event timestamp. */
  listEvents(ref: ProfileRef, page: PageRequest): Promise<Page<StoredEvent>>;
  /** A page of a profile's events in key (messageId) order, for re-attribution (merges). */
  scanEvents(ref: ProfileRef, limit: number): Promise<StoredEvent[]>;
  /** Records, under the surviving user, that `source` was merged into it. */
  putAlias(userId: string, source: ProfileRef, at: string): Promise<void>;
  listAliases(userId: string): Promise<ProfileRef[]>;
  listMemberships(ref: ProfileRef): Promise<Membership[]>;
  listMessages(ref: ProfileRef, page: PageRequest): Promise<Page<Record<string, unknown>>>;
  /** Sort keys of up to `limit` items under the profile's partition other than the profile itself. */
  listOwnedItems(ref: ProfileRef, limit: number): Promise<string[]>;
  deleteOwnedItems(ref: ProfileRef, sortKeys: string[]): Promise<void>;
  deleteProfile(ref: ProfileRef): Promise<void>;
  /** One page of a parallel scan of every profile (backfill, preview). */
  scanProfiles(segment: number, totalSegments: number, limit: number, cursor?: string): Promise<Page<Profile>>;
}

/** Write key and API key; Secrets Manager on AWS, settings locally. */
export interface KeyProvider {
  writeKey(): Promise<string>;
  apiKey(): Promise<string>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * Logical queues. On AWS each is an SQS queue (with a DLQ) whose URL a function gets in
 * `QUEUE_URL_<NAME>` (upper case); locally an in-process queue with the same semantics.
 */
export type QueueName = 'backfill' | 'send' | 'fanout' | 'entry';

export interface OutgoingMessage {
  /** Serialised as JSON. */
  body: unknown;
  /** Up to 900 seconds (SQS limit). */
  delaySeconds?: number;
}

export interface Queue {
  /** Sends every message or throws: partial failures are retried inside, never dropped. */
  send(queue: QueueName, messages: OutgoingMessage[]): Promise<void>;
}

/** An event for the deployment's bus (SPEC section 4): source `engage`. */
export interface BusEvent {
  detailType: string;
  detail: Record<string, unknown>;
  /** ISO time of the change; default now. */
  time?: string;
}

export interface EventBus {
  /** Publishes every event or throws: partial failures are retried inside, never dropped. */
  publish(events: BusEvent[]): Promise<void>;
}

// ---- Audiences -------------------------------------------------------------------------

export type AudienceStatus = 'building' | 'ready';

export interface AudienceDefinition {
  id: string;
  name: string;
  description?: string;
  /** A validated rule (shared/domain/audience/rule.ts). */
  rule: Rule;
  /** Bumped on every rule change; backfill work for an older version is dropped. */
  ruleVersion: number;
  status: AudienceStatus;
  /** Backfill segments still running for `ruleVersion`. */
  backfillRemaining: number;
  /** Who uses the audience (journeys, broadcasts): id → kind. Deleting is refused while set. */
  usedBy: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  /** Optimistic-concurrency counter. */
  version: number;
}

export interface AudienceMemberEntry {
  ref: ProfileRef;
  enteredAt: string;
}

export interface ProfileAudienceState {
  memberships: Map<string, { enteredAt: string }>;
  timers: Map<string, string>;
}

/** Audience definitions, their member shards and counters. */
export interface AudienceStore {
  create(definition: AudienceDefinition): Promise<void>;
  get(id: string): Promise<AudienceDefinition | undefined>;
  list(page: PageRequest): Promise<Page<AudienceDefinition>>;
  listAll(): Promise<AudienceDefinition[]>;
  /** Stores if the stored version equals `definition.version`; returns the new version. Throws ConcurrentUpdateError. */
  save(definition: AudienceDefinition): Promise<AudienceDefinition>;
  delete(id: string): Promise<void>;
  /** Members across all shards. */
  size(id: string): Promise<number>;
  members(id: string, page: PageRequest): Promise<Page<AudienceMemberEntry>>;
  /** Page of one shard's members (purge, broadcast snapshots). */
  shardMembers(id: string, shard: number, limit: number, cursor?: string): Promise<Page<AudienceMemberEntry>>;
  putShardMember(id: string, ref: ProfileRef, enteredAt: string): Promise<void>;
  deleteShardMember(id: string, ref: ProfileRef): Promise<void>;
  /** Applies a member-count change once per stream record (sequence numbers only grow per partition). */
  applyCount(id: string, shard: number, delta: number, sequenceNumber: string): Promise<void>;
  /** Records that a backfill segment finished; false if it was recorded before. */
  markSegmentDone(id: string, ruleVersion: number, segment: number): Promise<boolean>;
  /** One segment less to wait for; marks the audience ready when none remain. */
  completeSegment(id: string, ruleVersion: number): Promise<void>;
}

/** Per-profile audience state: memberships, timers, and events read by name and window. */
export interface MembershipStore {
  state(ref: ProfileRef): Promise<ProfileAudienceState>;
  /** The membership as stored now (consistent read), if any. */
  membership(ref: ProfileRef, audienceId: string): Promise<{ enteredAt: string } | undefined>;
  /** Conditional: true when the profile was not a member. */
  enter(ref: ProfileRef, audienceId: string, enteredAt: string): Promise<boolean>;
  /** Conditional: true when the profile was a member. */
  exit(ref: ProfileRef, audienceId: string): Promise<boolean>;
  setTimer(ref: ProfileRef, audienceId: string, dueAt: Date): Promise<void>;
  clearTimer(ref: ProfileRef, audienceId: string): Promise<void>;
  /** Events of one name since `sinceIso` (null: all kept), ascending by time, future ones included. */
  eventsNamed(ref: ProfileRef, name: string, sinceIso: string | null): Promise<EvaluationEvent[]>;
  /** Up to `limit` timers of one shard due at `now` (however long ago), earliest first. */
  dueTimers(shard: number, now: Date, limit: number): Promise<Array<{ ref: ProfileRef; audienceId: string; dueAt: string }>>;
}
