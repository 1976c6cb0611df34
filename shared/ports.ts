import type { Profile, ProfileRef } from './domain/profile/profile';
import type { MessageType } from './domain/ingestion/messages';

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
