import type { Broadcast, SendRecord, SkipReason } from '../../domain/broadcast/broadcast';
import { TemplateRenderError, renderEmail, renderSms, type CompiledEmailTemplate, type CompiledSmsTemplate } from '../../domain/messaging/template';
import { listUnsubscribeHeaders, signUnsubscribeToken, unsubscribeUrl } from '../../domain/messaging/unsubscribe';
import type { Profile, ProfileRef } from '../../domain/profile/profile';
import { parseProfilePk } from '../../aws/dynamodb/keys';
import {
  PermanentSendError,
  type BroadcastStore,
  type Clock,
  type KeyProvider,
  type Mailer,
  type MessageLog,
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
import type { SendMessage } from './send-message';

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
  if (!profile || profile.erasureRequestedAt !== undefined || profile.mergedInto !== undefined) return undefined;
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
 * Sends one broadcast message to one recipient, at most once. Order of writes:
 * 1. the send record is claimed (conditional put `sending` with a new message id);
 * 2. the message log entry is written (`sending`), so delivery feedback can find the claim;
 * 3. the provider is called, tagged with the message id;
 * 4. the claim becomes `sent` (or `failed`).
 * A sender dying after 3 leaves the claim `sending`: a redelivery does not send again (it comes
 * back later) — the provider's Send event (feedback) completes it. A claim that no Send event
 * completes within `claimGraceMs` was never sent (the sender died before 3) and is taken over.
 */
export async function processSendMessage(deps: SenderDeps, message: SendMessage): Promise<SendOutcome> {
  const ref = parseProfilePk(message.profile);
  if (!ref) return 'done-before';
  const key: SendRecordKey = { broadcastId: message.broadcastId, shard: message.shard, ref };
  const now = deps.clock.now();

  const broadcast = await broadcastCache.get(`b:${message.broadcastId}`, () => deps.broadcasts.get(message.broadcastId));
  if (!broadcast || broadcast.status === 'cancelled' || broadcast.status === 'failed') return 'cancelled';

  if (message.notBefore && Date.parse(message.notBefore) > now.getTime()) {
    // Local time not reached: back on the queue, up to SQS's 15-minute delay at a time.
    const delaySeconds = Math.min(900, Math.ceil((Date.parse(message.notBefore) - now.getTime()) / 1000));
    await deps.queue.send('send', [{ body: message, delaySeconds }]);
    return 'deferred';
  }

  const existing = await deps.sends.get(key);
  if (existing && existing.status !== 'sending') return 'done-before';
  const heldFor = existing ? now.getTime() - Date.parse(existing.claimedAt ?? '') : 0;
  if (existing && heldFor < deps.messaging.claimGraceMs) {
    // Someone holds the claim (or died holding it after the provider accepted). Look again
    // later: by then the provider's event has completed it, or the grace period has run out.
    // Re-queued rather than failed, so that waiting never spends the message's receive count.
    const delaySeconds = Math.max(1, Math.min(deps.messaging.claimRecheckSeconds ?? 30, Math.ceil((deps.messaging.claimGraceMs - heldFor) / 1000)));
    await deps.queue.send('send', [{ body: message, delaySeconds }]);
    return 'deferred';
  }

  const profile = await deps.profiles.getProfile(ref);
  const reason = await skipReason(deps, profile, broadcast.channel);
  if (reason) {
    const skipped: SendRecord = { status: 'skipped', skipReason: reason };
    // A stale claim (its sender died before calling the provider) is replaced by the outcome.
    if (existing) {
      if (!(await deps.sends.takeOver(key, existing.claimedAt ?? '', skipped))) return 'done-before';
      if (existing.messageId) await deps.messageLog.update(ref, existing.messageId, { status: 'failed' }, ['sending']);
    } else if (!(await deps.sends.create(key, skipped))) return 'done-before';
    return 'skipped';
  }

  const scopes = [{ scope: `account-${broadcast.channel}`, perSecond: deps.messaging.accountSendRatePerSecond }];
  if (broadcast.rateLimitPerSecond) scopes.unshift({ scope: `broadcast-${broadcast.id}`, perSecond: broadcast.rateLimitPerSecond });
  if (!(await deps.rateLimiter.tryAcquire(scopes, now))) {
    await deps.queue.send('send', [{ body: message, delaySeconds: 1 }]);
    return 'deferred';
  }

  const messageId = newMessageId(now);
  const claim: SendRecord = { status: 'sending', messageId, claimedAt: now.toISOString() };
  const claimed = existing ? await deps.sends.takeOver(key, existing.claimedAt ?? '', claim) : await deps.sends.create(key, claim);
  if (!claimed) return 'done-before';
  // The abandoned claim's message never went out (no Send event came within the grace period).
  if (existing?.messageId) await deps.messageLog.update(ref, existing.messageId, { status: 'failed' }, ['sending']);

  const template = await templateCache.get(`t:${broadcast.templateId}`, () => deps.templates.get(broadcast.templateId));
  await deps.messageLog.put(ref, {
    id: messageId,
    channel: broadcast.channel,
    templateId: broadcast.templateId,
    broadcastId: broadcast.id,
    status: 'sending',
    sentAt: now.toISOString(),
    sendShard: message.shard,
  });

  let receipt: { providerMessageId: string };
  try {
    receipt = await deliver(deps, broadcast, template, profile, ref, messageId);
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

async function deliver(
  deps: SenderDeps,
  broadcast: Broadcast,
  template: StoredTemplate | undefined,
  profile: Profile | undefined,
  ref: ProfileRef,
  messageId: string,
): Promise<{ providerMessageId: string }> {
  if (!template || !profile) throw new PermanentSendError('template or profile missing');
  const address = addressOf(profile, broadcast.channel) ?? '';
  const token = signUnsubscribeToken(await deps.keys.unsubscribeKey(), {
    userId: ref.id,
    anonymous: ref.kind === 'anonymous',
    channel: broadcast.channel,
    messageId,
    broadcastId: broadcast.id,
    issuedAt: deps.clock.now().toISOString(),
  });
  const url = unsubscribeUrl(deps.messaging.publicApiUrl, token);
  const context = { traits: profile.traits, userId: ref.kind === 'user' ? ref.id : null, unsubscribe_url: url };
  const tags = { engage_message: messageId, engage_broadcast: broadcast.id };
  try {
    if (broadcast.channel === 'email') {
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
