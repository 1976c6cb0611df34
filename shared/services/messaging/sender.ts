import type { Channel, SendRecord, SkipReason } from '../../domain/broadcast/broadcast';
import {
  TemplateRenderError,
  renderEmail,
  renderSms,
  type CompiledEmailTemplate,
  type CompiledSmsTemplate,
  type RenderContext,
} from '../../domain/messaging/template';
import { listUnsubscribeHeaders, signUnsubscribeToken, unsubscribeUrl } from '../../domain/messaging/unsubscribe';
import { isActiveProfile, type Profile, type ProfileRef } from '../../domain/profile/profile';
import { parseProfilePk } from '../../aws/dynamodb/keys';
import { assertUnreachable } from '../../errors';
import {
  PermanentSendError,
  type BroadcastStore,
  type Clock,
  type KeyProvider,
  type Mailer,
  type MessageLog,
  type MessageLogEntry,
  type ProfileStore,
  type Queue,
  type RateLimiter,
  type SendRecordKey,
  type SendStore,
  type SmsSender,
  type StoredTemplate,
  type SuppressionList,
  type TemplateStore,
} from '../../ports';
import { newMessageId } from './message-id';
import type { BroadcastSendMessage, JourneySendMessage, SendMessage } from './send-message';

export interface SenderSettings {
  /** The From address (or `Name <address>`) of every email. */
  fromEmail: string;
  /** Public base URL of the API, for unsubscribe links. */
  publicApiUrl: string;
  /** The account's sending rate (SES maximum send rate), per channel, per second. */
  accountSendRatePerSecond: number;
  /** A claim older than this, never finished, is taken over (the sender died before the provider call). */
  claimGraceMs: number;
  /** How often a held claim is looked at again (default 30 s). */
  claimRecheckSeconds?: number;
}

export interface SenderDeps {
  profiles: ProfileStore;
  templates: TemplateStore;
  broadcasts: BroadcastStore;
  sends: SendStore;
  messageLog: MessageLog;
  suppressions: SuppressionList;
  rateLimiter: RateLimiter;
  mailer: Mailer;
  sms: SmsSender;
  queue: Queue;
  keys: KeyProvider;
  clock: Clock;
  messaging: SenderSettings;
}

export type SendOutcome = 'sent' | 'skipped' | 'failed' | 'done-before' | 'cancelled' | 'deferred';


/** Short-lived cache of broadcasts and templates: a send reads them for every recipient. */
export class DefinitionCache {
  private readonly entries = new Map<string, { at: number; value: Promise<unknown> }>();
  constructor(private readonly ttlMs: number) {}

  get<T>(key: string, load: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value as Promise<T>;
    const value = load();
    this.entries.set(key, { at: now, value });
    if (this.entries.size > 1000) this.entries.delete(this.entries.keys().next().value ?? key);
    return value;
  }
}

// A cancel must stop new sends quickly: broadcasts are trusted for one second only.
const broadcastCache = new DefinitionCache(1_000);
const templateCache = new DefinitionCache(30_000);

function addressOf(profile: Profile | undefined, channel: 'email' | 'sms'): string | undefined {
  if (!isActiveProfile(profile)) return undefined;
  const value = channel === 'email' ? profile.traits.email : profile.traits.phone;
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

async function skipReason(deps: SenderDeps, profile: Profile | undefined, channel: 'email' | 'sms'): Promise<SkipReason | undefined> {
  const address = addressOf(profile, channel);
  if (!address || !profile) return 'noAddress';
  if (profile.subscriptions[channel] === 'unsubscribed') return 'unsubscribed';
  if (await deps.suppressions.isSuppressed(channel, address)) return 'suppressed';
  return undefined;
}

/**
 * Sends one message of the send queue, at most once: a broadcast recipient or a journey send
 * step. Both go through the same claim, consent checks, rate limit and provider call
 * ({@link sendOnce}); they differ in what they check first and in what they record.
 */
export async function processSendMessage(deps: SenderDeps, message: SendMessage): Promise<SendOutcome> {
  switch (message.kind) {
    case 'broadcast':
      return processBroadcastSend(deps, message);
    case 'journey':
      return processJourneySend(deps, message);
    default:
      return assertUnreachable(message);
  }
}

async function processBroadcastSend(deps: SenderDeps, message: BroadcastSendMessage): Promise<SendOutcome> {
  const ref = parseProfilePk(message.profile);
  if (!ref) return 'done-before';
  const now = deps.clock.now();

  const broadcast = await broadcastCache.get(`b:${message.broadcastId}`, () => deps.broadcasts.get(message.broadcastId));
  if (!broadcast || broadcast.status === 'cancelled' || broadcast.status === 'failed') return 'cancelled';

  if (message.notBefore && Date.parse(message.notBefore) > now.getTime()) {
    // Local time not reached: back on the queue, up to SQS's 15-minute delay at a time.
    const delaySeconds = Math.min(900, Math.ceil((Date.parse(message.notBefore) - now.getTime()) / 1000));
    await deps.queue.send('send', [{ body: message, delaySeconds }]);
    return 'deferred';
  }

  return sendOnce(
    deps,
    {
      key: { broadcastId: message.broadcastId, shard: message.shard, ref },
      ref,
      channel: broadcast.channel,
      templateId: broadcast.templateId,
      scopes: broadcast.rateLimitPerSecond ? [{ scope: `broadcast-${broadcast.id}`, perSecond: broadcast.rateLimitPerSecond }] : [],
      log: { broadcastId: broadcast.id, sendShard: message.shard },
      origin: { broadcastId: broadcast.id },
      context: {},
      message,
    },
    now,
  );
}

/**
 * A journey's send step: claimed under the recipient's profile for (journey, execution, step),
 * so that Step Functions retrying `SendMessage` or SQS redelivering it sends once. Only the
 * account's rate limit applies; nothing is counted into broadcasts.
 */
async function processJourneySend(deps: SenderDeps, message: JourneySendMessage): Promise<SendOutcome> {
  const ref = parseProfilePk(message.profile);
  if (!ref) return 'done-before';
  const { journeyId, executionName, stepId } = message;
  return sendOnce(
    deps,
    {
      key: { journeyId, executionName, stepId, ref },
      ref,
      channel: message.channel,
      templateId: message.templateId,
      scopes: [],
      log: { journeyId, stepId, executionName },
      origin: { journeyId },
      context: { entry: message.entry, journeyId },
      message,
    },
    deps.clock.now(),
  );
}

/** One message to one recipient, as the shared part of the send path sees it. */
interface SendJob {
  /** The claim: a broadcast's send record or a journey's send claim. */
  key: SendRecordKey;
  ref: ProfileRef;
  channel: Channel;
  templateId: string;
  /** Rate-limit scopes taken before the account's (a broadcast's own limit). */
  scopes: Array<{ scope: string; perSecond: number }>;
  /** What the message log entry records of where the message came from. */
  log: Pick<MessageLogEntry, 'broadcastId' | 'sendShard' | 'journeyId' | 'stepId' | 'executionName'>;
  /** The origin the unsubscribe link and the provider tags name. */
  origin: { broadcastId: string } | { journeyId: string };
  /** Template variables besides `traits`, `userId` and `unsubscribe_url`. */
  context: Pick<RenderContext, 'entry' | 'journeyId'>;
  /** The queue message, put back when the claim is held or the rate is spent. */
  message: SendMessage;
}

/**
 * Sends one message to one recipient, at most once. Order of writes:
 * 1. the send record is claimed (conditional put `sending` with a new message id);
 * 2. the message log entry is written (`sending`), so delivery feedback can find the claim;
 * 3. the provider is called, tagged with the message id;
 * 4. the claim becomes `sent` (or `failed`).
 * A sender dying after 3 leaves the claim `sending`: a redelivery does not send again (it comes
 * back later) — the provider's Send event (feedback) completes it. A claim that no Send event
 * completes within `claimGraceMs` was never sent (the sender died before 3) and is taken over.
 */
async function sendOnce(deps: SenderDeps, job: SendJob, now: Date): Promise<SendOutcome> {
  const { key, ref } = job;
  const existing = await deps.sends.get(key);
  if (existing && existing.status !== 'sending') return 'done-before';
  const heldFor = existing ? now.getTime() - Date.parse(existing.claimedAt ?? '') : 0;
  if (existing && heldFor < deps.messaging.claimGraceMs) {
    // Someone holds the claim (or died holding it after the provider accepted). Look again
    // later: by then the provider's event has completed it, or the grace period has run out.
    // Re-queued rather than failed, so that waiting never spends the message's receive count.
    const delaySeconds = Math.max(1, Math.min(deps.messaging.claimRecheckSeconds ?? 30, Math.ceil((deps.messaging.claimGraceMs - heldFor) / 1000)));
    await deps.queue.send('send', [{ body: job.message, delaySeconds }]);
    return 'deferred';
  }

  const profile = await deps.profiles.getProfile(ref);
  const reason = await skipReason(deps, profile, job.channel);
  if (reason) {
    const skipped: SendRecord = { status: 'skipped', skipReason: reason };
    // A stale claim (its sender died before calling the provider) is replaced by the outcome.
    if (existing) {
      if (!(await deps.sends.takeOver(key, existing.claimedAt ?? '', skipped))) return 'done-before';
      if (existing.messageId) await deps.messageLog.update(ref, existing.messageId, { status: 'failed' }, ['sending']);
    } else if (!(await deps.sends.create(key, skipped))) return 'done-before';
    return 'skipped';
  }

  const scopes = [...job.scopes, { scope: `account-${job.channel}`, perSecond: deps.messaging.accountSendRatePerSecond }];
  if (!(await deps.rateLimiter.tryAcquire(scopes, now))) {
    await deps.queue.send('send', [{ body: job.message, delaySeconds: 1 }]);
    return 'deferred';
  }

  const messageId = newMessageId(now);
  const claim: SendRecord = { status: 'sending', messageId, claimedAt: now.toISOString() };
  const claimed = existing ? await deps.sends.takeOver(key, existing.claimedAt ?? '', claim) : await deps.sends.create(key, claim);
  if (!claimed) return 'done-before';
  // The abandoned claim's message never went out (no Send event came within the grace period).
  if (existing?.messageId) await deps.messageLog.update(ref, existing.messageId, { status: 'failed' }, ['sending']);

  const template = await templateCache.get(`t:${job.templateId}`, () => deps.templates.get(job.templateId));
  await deps.messageLog.put(ref, {
    id: messageId,
    channel: job.channel,
    templateId: job.templateId,
    ...job.log,
    status: 'sending',
    sentAt: now.toISOString(),
  });

  let receipt: { providerMessageId: string };
  try {
    receipt = await deliver(deps, job, template, profile, messageId);
  } catch (error) {
    if (error instanceof PermanentSendError) {
      await deps.sends.finish(key, messageId, { status: 'failed', failReason: error.message.slice(0, 200) });
      await deps.messageLog.update(ref, messageId, { status: 'failed' }, ['sending']);
      return 'failed';
    }
    // Transient, and the provider did not accept: the claim is dropped so that a retry can claim again.
    await deps.sends.release(key, messageId);
    await deps.messageLog.update(ref, messageId, { status: 'failed' }, ['sending']);
    throw error;
  }
  // The provider accepted: from here on the claim is never dropped. If recording fails, the
  // message is redelivered, finds the claim held, and the provider's Send event completes it.
  await deps.sends.finish(key, messageId, { status: 'sent', sentAt: deps.clock.now().toISOString() });
  await deps.messageLog.update(ref, messageId, { providerMessageId: receipt.providerMessageId });
  // Delivery feedback may already have moved the status further.
  await deps.messageLog.update(ref, messageId, { status: 'sent' }, ['sending']);
  return 'sent';
}

async function deliver(deps: SenderDeps, job: SendJob, template: StoredTemplate | undefined, profile: Profile | undefined, messageId: string): Promise<{ providerMessageId: string }> {
  if (!template || !profile) throw new PermanentSendError('template or profile missing');
  // A journey names its template and channel separately; a template of the other channel has no body for this one.
  if (template.channel !== job.channel) throw new PermanentSendError(`template ${template.id} is for ${template.channel}, not ${job.channel}`);
  const { ref } = job;
  const address = addressOf(profile, job.channel) ?? '';
  const token = signUnsubscribeToken(await deps.keys.unsubscribeKey(), {
    userId: ref.id,
    anonymous: ref.kind === 'anonymous',
    channel: job.channel,
    messageId,
    ...job.origin,
    issuedAt: deps.clock.now().toISOString(),
  });
  const url = unsubscribeUrl(deps.messaging.publicApiUrl, token);
  const context: RenderContext = { traits: profile.traits, userId: ref.kind === 'user' ? ref.id : null, unsubscribe_url: url, ...job.context };
  const tags = { engage_message: messageId, ...('broadcastId' in job.origin ? { engage_broadcast: job.origin.broadcastId } : { engage_journey: job.origin.journeyId }) };
  try {
    if (job.channel === 'email') {
      const email: CompiledEmailTemplate = { channel: 'email', subject: template.subject ?? '', html: template.html ?? '', ...(template.text ? { text: template.text } : {}) };
      const rendered = await renderEmail(email, context);
      return await deps.mailer.sendEmail({ to: address, from: deps.messaging.fromEmail, ...rendered, headers: listUnsubscribeHeaders(url), tags });
    }
    const sms: CompiledSmsTemplate = { channel: 'sms', body: template.body ?? '' };
    const rendered = await renderSms(sms, context);
    return await deps.sms.sendSms({ to: address, body: rendered.body, tags });
  } catch (error) {
    // A template that cannot render for this recipient will not render on a retry either.
    if (error instanceof TemplateRenderError) throw new PermanentSendError('template could not be rendered', { cause: error });
    throw error;
  }
}
