import type { Journey, JourneyRun, JourneyVersionRecord, RunStatus } from './domain/journey/journey';
import type { Profile, ProfileRef } from './domain/profile/profile';
import type { MessageType } from './domain/ingestion/messages';
import type { EvaluationEvent } from './domain/audience/evaluate';
import type { Rule } from './domain/audience/rule';
import type { Broadcast, Counts, SendRecord, SendStatus } from './domain/broadcast/broadcast';

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

/** Write key, API key and the unsubscribe-link signing key; Secrets Manager on AWS, settings locally. */
export interface KeyProvider {
  writeKey(): Promise<string>;
  apiKey(): Promise<string>;
  unsubscribeKey(): Promise<string>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * Logical queues. On AWS each is an SQS queue (with a DLQ) whose URL a function gets in
 * `QUEUE_URL_<NAME>` (upper case); locally an in-process queue with the same semantics.
 */
export type QueueName = 'backfill' | 'send' | 'fanout' | 'entry' | 'feedback';

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

// ---- Messaging ---------------------------------------------------------------------------

export interface EmailMessage {
  to: string;
  from: string;
  subject: string;
  html: string;
  text: string;
  /** Extra headers (List-Unsubscribe, List-Unsubscribe-Post); kept by SESv2 Simple content. */
  headers: Array<{ name: string; value: string }>;
  /** Message tags (SES EmailTags): ids only, e.g. broadcastId, journeyId, messageId. */
  tags: Record<string, string>;
}

export interface SmsMessage {
  to: string;
  body: string;
  tags: Record<string, string>;
}

export interface SendReceipt {
  providerMessageId: string;
}

/**
 * A provider refused this message for good (a malformed address, a message it will never
 * accept): the send fails and is not retried. Anything else thrown is transient and retried.
 */
export class PermanentSendError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PermanentSendError';
  }
}

export interface Mailer {
  sendEmail(message: EmailMessage): Promise<SendReceipt>;
}

export interface SmsSender {
  sendSms(message: SmsMessage): Promise<SendReceipt>;
}

/** One-time schedules (EventBridge Scheduler `at(...)` on AWS), idempotent by name. */
export interface Scheduler {
  /** Creates the schedule, or leaves an existing one of that name as it is. */
  scheduleOnce(name: string, at: Date, payload: Record<string, unknown>): Promise<void>;
  /** Deletes the schedule; no error if it does not exist (fired or never created). */
  cancel(name: string): Promise<void>;
}

// ---- Templates and broadcasts ------------------------------------------------------------

export interface StoredTemplate {
  id: string;
  name: string;
  channel: 'email' | 'sms';
  subject?: string;
  html?: string;
  mjml?: string;
  text?: string;
  body?: string;
  usedBy: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export interface TemplateStore {
  create(template: StoredTemplate): Promise<void>;
  get(id: string): Promise<StoredTemplate | undefined>;
  list(page: PageRequest): Promise<Page<StoredTemplate>>;
  /** Conditional on `version`; throws ConcurrentUpdateError. */
  save(template: StoredTemplate): Promise<StoredTemplate>;
  delete(id: string): Promise<void>;
}

export interface BroadcastStore {
  create(broadcast: Broadcast): Promise<void>;
  get(id: string): Promise<Broadcast | undefined>;
  list(page: PageRequest): Promise<Page<Broadcast>>;
  /** Conditional on `version`; throws ConcurrentUpdateError. */
  save(broadcast: Broadcast): Promise<Broadcast>;
  /** Summed partition counters, and recipients from the fan-out pages. */
  counts(broadcast: Broadcast): Promise<Counts>;
  /** Records a fan-out page and how many recipients it enqueued; false if recorded before. */
  recordFanoutPage(id: string, shard: number, page: number, recipients: number): Promise<boolean>;
  /** Records that a shard's fan-out finished (once) and counts it down. */
  completeFanoutShard(id: string, shard: number): Promise<void>;
  /** Shards whose fan-out finished, from their markers (the source of truth for completion). */
  fanoutShardsDone(id: string): Promise<number>;
  /** Broadcasts whose status is `sending` (completion checks). */
  listSending(): Promise<Broadcast[]>;
}

/** A broadcast recipient's send record (`SEND#<broadcastId>#<shard>` / profile pk). */
export interface BroadcastSendKey {
  broadcastId: string;
  shard: number;
  ref: ProfileRef;
}

/**
 * A journey send step's claim for one execution, under the recipient's profile (profile pk /
 * `JSEND#<journeyId>#<executionName>#<stepId>`): one send per (execution, step).
 */
export interface JourneySendKey {
  journeyId: string;
  executionName: string;
  stepId: string;
  ref: ProfileRef;
}

/** Where a send's claim and outcome are kept; broadcasts and journeys share the claim machinery. */
export type SendRecordKey = BroadcastSendKey | JourneySendKey;

export interface SendStore {
  get(key: SendRecordKey): Promise<SendRecord | undefined>;
  /** Creates the record (a claim `sending`, or a `skipped` outcome) unless one exists; true when created. */
  create(key: SendRecordKey, record: SendRecord): Promise<boolean>;
  /** Takes over a claim nobody finished (`claimedAt` unchanged since it was read). */
  takeOver(key: SendRecordKey, staleClaimedAt: string, record: SendRecord): Promise<boolean>;
  /** sending → sent / failed, for the claim of `messageId`. */
  finish(key: SendRecordKey, messageId: string, change: Partial<SendRecord> & { status: SendStatus }): Promise<boolean>;
  /** Drops a claim after a transient failure, so that a retry can claim again. */
  release(key: SendRecordKey, messageId: string): Promise<void>;
  /** Delivery feedback: delivery status, opened, clicked. */
  recordFeedback(key: SendRecordKey, change: Pick<SendRecord, 'delivery' | 'opened' | 'clicked'>): Promise<void>;
  /** Applies a counter change once per stream record (sequence numbers only grow per partition). */
  applyCounts(broadcastId: string, shard: number, delta: Partial<Counts>, sequenceNumber: string): Promise<void>;
}

export interface MessageLogEntry {
  id: string;
  channel: 'email' | 'sms';
  templateId: string;
  broadcastId?: string;
  journeyId?: string;
  /** `sending` while the provider call is under way (or its outcome unknown). */
  status: 'sending' | 'sent' | 'delivered' | 'bounced' | 'complained' | 'failed';
  sentAt: string;
  providerMessageId?: string;
  openedAt?: string;
  clickedAt?: string;
  /** The broadcast send record's shard, for feedback (its profile is the log's). */
  sendShard?: number;
  /** Journey sends: the send step, and the execution whose claim feedback completes. */
  stepId?: string;
  executionName?: string;
}

export interface MessageLog {
  put(ref: ProfileRef, entry: MessageLogEntry): Promise<void>;
  /** Finds a message by id (GSI1), with its profile. */
  find(messageId: string): Promise<{ ref: ProfileRef; entry: MessageLogEntry } | undefined>;
  /** Updates the entry; with `onlyIfStatusIn`, only while its status is one of those (statuses only move forward). */
  update(ref: ProfileRef, messageId: string, change: Partial<MessageLogEntry>, onlyIfStatusIn?: Array<MessageLogEntry['status']>): Promise<void>;
}

export interface SuppressionList {
  isSuppressed(channel: 'email' | 'sms', address: string): Promise<boolean>;
  suppress(channel: 'email' | 'sms', address: string, reason: string, at: string): Promise<void>;
}

/** Sends per second shared by every sender (a broadcast's own limit, the account's). */
export interface RateLimiter {
  /** Takes one slot of this second for every scope, or none: false when one is full. */
  tryAcquire(scopes: Array<{ scope: string; perSecond: number }>, now: Date): Promise<boolean>;
}

// ---- Journeys ------------------------------------------------------------------------------

export type ExecutionStatus = 'running' | 'succeeded' | 'failed' | 'timed_out' | 'aborted';

export interface ExecutionDescription {
  executionArn: string;
  name: string;
  status: ExecutionStatus;
  startedAt: string;
  stoppedAt?: string;
  /** The state the execution is in now (running) or ended in. */
  currentState?: string;
  /** The execution input (parsed JSON). */
  input?: unknown;
}

/**
 * The workflow engine journeys run on: Step Functions on AWS, aws-local-stepfunctions locally.
 * One state machine per journey; each publish creates a version and moves the `live` alias.
 */
export interface WorkflowEngine {
  /** Creates or updates the journey's state machine and publishes a version; returns its ARN and number. */
  publish(journeyId: string, definition: Record<string, unknown>, description: string): Promise<{ stateMachineArn: string; versionArn: string; version: number }>;
  /** Starts an execution of a version. `name` is unique per state machine: a duplicate returns `started: false`. */
  start(versionArn: string, name: string, input: Record<string, unknown>): Promise<{ executionArn: string; started: boolean }>;
  /** The ARN an execution of this name on this version has (or will have): known before it starts. */
  executionArn(versionArn: string, name: string): string;
  /** Stops a running execution; no error if it already ended. */
  stop(executionArn: string, cause: string): Promise<void>;
  /** Completes a `.waitForTaskToken` task. */
  sendTaskSuccess(taskToken: string, output: Record<string, unknown>): Promise<void>;
  sendTaskFailure(taskToken: string, error: string, cause: string): Promise<void>;
  /**
   * Status, times, input and (unless `currentState: false`) the current state. On Step Functions
   * the current state costs a GetExecutionHistory call (and permission): callers that need only
   * the status skip it.
   */
  describe(executionArn: string, options?: { currentState?: boolean }): Promise<ExecutionDescription | undefined>;
}

// ---- Journeys ----------------------------------------------------------------------------

/** A `hold_until` step waiting for an event: its task token, stored under the profile. */
export interface JourneyHold {
  journeyId: string;
  executionName: string;
  stepId: string;
  event: string;
  /** Property values the awaited event must have (from the entry event). */
  match: Record<string, unknown>;
  taskToken: string;
  /** Events since this instant count (the run's start: one that came before the hold registered still resumes it). */
  since: string;
  /** The entry event itself never resumes its own run. */
  entryMessageId?: string;
  expiresAt: number;
}

export interface JourneyStore {
  create(journey: Journey): Promise<void>;
  get(id: string): Promise<Journey | undefined>;
  list(page: PageRequest): Promise<Page<Journey>>;
  listAll(): Promise<Journey[]>;
  /** Optimistic: throws ConcurrentUpdateError when the record changed since it was read. */
  save(journey: Journey): Promise<Journey>;
  /** Writes a new version; false when that version number exists (another publish took it). */
  putVersion(record: JourneyVersionRecord): Promise<boolean>;
  getVersion(journeyId: string, version: number): Promise<JourneyVersionRecord | undefined>;

  /**
   * Claims the re-entry slot for a trigger; returns the execution name the trigger's run has
   * (the one given, or the one it got when first claimed), or undefined when another trigger's
   * run holds the slot (or held it, for `never`).
   */
  claimSlot(profileKey: string, slotSk: string, claim: { triggerId: string; executionName: string; journeyId: string; reentryBound?: string }): Promise<string | undefined>;
  /** Who holds a slot now (undefined: nobody ever did). */
  slotHolder(profileKey: string, slotSk: string): Promise<{ triggerId: string; executionName: string } | undefined>;
  /** The slot's run ended: an `after_exit` journey may admit the user again (after the cooldown). */
  releaseSlot(profileKey: string, slotSk: string, executionName: string, endedAt: string): Promise<void>;

  /** Writes a new run; false if it exists (a redelivered entry). */
  putRun(profileKey: string, run: JourneyRun): Promise<boolean>;
  getRun(profileKey: string, journeyId: string, executionName: string): Promise<JourneyRun | undefined>;
  /** A profile's runs of one journey (or of every journey), oldest key first. */
  runsOf(profileKey: string, journeyId?: string): Promise<JourneyRun[]>;
  /** Moves a running run to an end status; false when it was no longer running. */
  endRun(profileKey: string, journeyId: string, executionName: string, status: Exclude<RunStatus, 'running'>, at: string, reason?: string): Promise<boolean>;
  setExecutionArn(profileKey: string, journeyId: string, executionName: string, executionArn: string): Promise<void>;
  /** Records the time of the event that resumed the run's latest hold. */
  markHoldResumed(profileKey: string, journeyId: string, executionName: string, eventTimestamp: string): Promise<void>;
  /** Records the goal conversion once; false when already converted. */
  markConverted(profileKey: string, journeyId: string, executionName: string, at: string): Promise<boolean>;

  putHold(profileKey: string, hold: JourneyHold): Promise<void>;
  /** The profile's holds still in time, or only those of one run. */
  holdsOf(profileKey: string, run?: { journeyId: string; executionName: string }): Promise<JourneyHold[]>;
  deleteHold(profileKey: string, hold: Pick<JourneyHold, 'journeyId' | 'executionName' | 'stepId'>): Promise<void>;

  /** Marks that a run's change was counted as `kind`; false when it was already. */
  putCountMarker(journeyId: string, executionName: string, kind: string): Promise<boolean>;
  /** Adds a marker's count to its shard's counter, once per stream record. */
  applyCount(journeyId: string, shard: number, kind: string, sequenceNumber: string): Promise<void>;
  /** The journey's counters summed over its shards. */
  countTotals(journeyId: string): Promise<Record<string, number>>;
}
