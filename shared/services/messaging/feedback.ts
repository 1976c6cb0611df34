import { z } from 'zod';
import type { DeliveryStatus } from '../../domain/broadcast/broadcast';
import type { ProfileRef } from '../../domain/profile/profile';
import type { MessageLog, MessageLogEntry, SendRecordKey, SendStore, SuppressionList } from '../../ports';

/**
 * A delivery event as SES publishes it through a configuration set to EventBridge (the
 * `detail` of `source: aws.ses`), reduced to what the engine uses. The local runtime emits the
 * same shape for what its SES accepted.
 */
export const SesEventSchema = z.object({
  eventType: z.enum(['Send', 'Delivery', 'Bounce', 'Complaint', 'Open', 'Click', 'Reject', 'Rendering Failure', 'DeliveryDelay', 'Subscription']),
  mail: z.object({
    messageId: z.string().optional(),
    timestamp: z.string().optional(),
    destination: z.array(z.string()).optional(),
    tags: z.record(z.string(), z.array(z.string())).optional(),
  }),
  bounce: z.object({ bounceType: z.string(), bouncedRecipients: z.array(z.object({ emailAddress: z.string() })).optional() }).optional(),
  complaint: z.object({ complainedRecipients: z.array(z.object({ emailAddress: z.string() })).optional() }).optional(),
});
export type SesEvent = z.infer<typeof SesEventSchema>;

/**
 * A "Text Message Delivery Status Updated" event of AWS End User Messaging SMS (`source:
 * aws.sms-voice`, sent to EventBridge directly); `context` carries the tags the sender set.
 */
export const SmsEventSchema = z.object({
  eventType: z.string(),
  messageId: z.string().optional(),
  destinationPhoneNumber: z.string().optional(),
  context: z.record(z.string(), z.string()).optional(),
});
export type SmsEvent = z.infer<typeof SmsEventSchema>;

export interface FeedbackDeps {
  messageLog: MessageLog;
  sends: SendStore;
  suppressions: SuppressionList;
}

export type FeedbackOutcome = 'applied' | 'ignored';

/** The message log is found through an index that may lag the send by a moment: retried. */
export class MessageNotFoundYetError extends Error {
  constructor(messageId: string) {
    super(`message ${messageId} not found (yet)`);
    this.name = 'MessageNotFoundYetError';
  }
}

/** What one provider event means for one of our messages, whatever the provider. */
interface DeliveryFact {
  messageId: string;
  status?: MessageLogEntry['status'];
  opened?: boolean;
  clicked?: boolean;
  suppress?: Array<{ channel: 'email' | 'sms'; address: string; reason: string }>;
}

const RANK: Record<MessageLogEntry['status'], number> = { sending: 0, failed: 0, sent: 1, delivered: 2, bounced: 3, complained: 3 };
const DELIVERY: Partial<Record<MessageLogEntry['status'], DeliveryStatus>> = { delivered: 'delivered', bounced: 'bounced', complained: 'complained' };

/** SES event → fact. Only a permanent bounce is final; a transient one may still be delivered. */
export function sesFact(event: SesEvent): DeliveryFact | undefined {
  const messageId = event.mail.tags?.engage_message?.[0];
  if (!messageId) return undefined;
  switch (event.eventType) {
    case 'Send':
      return { messageId, status: 'sent' };
    case 'Delivery':
      return { messageId, status: 'delivered' };
    case 'Bounce':
      if (event.bounce?.bounceType !== 'Permanent') return undefined;
      return { messageId, status: 'bounced', suppress: (event.bounce.bouncedRecipients ?? []).map((r) => ({ channel: 'email', address: r.emailAddress, reason: 'bounce' })) };
    case 'Complaint':
      return { messageId, status: 'complained', suppress: (event.complaint?.complainedRecipients ?? []).map((r) => ({ channel: 'email', address: r.emailAddress, reason: 'complaint' })) };
    case 'Open':
      return { messageId, opened: true };
    case 'Click':
      return { messageId, clicked: true };
    case 'Reject':
    case 'Rendering Failure':
      return { messageId, status: 'failed' };
    case 'DeliveryDelay':
    case 'Subscription':
      return undefined;
  }
}

/** Carrier outcomes that will not change: the number cannot receive this message. */
const SMS_UNDELIVERABLE = new Set(['TEXT_BLOCKED', 'TEXT_INVALID', 'TEXT_CARRIER_UNREACHABLE', 'TEXT_UNREACHABLE', 'TEXT_INVALID_MESSAGE', 'TEXT_SPAM', 'TEXT_TTL_EXPIRED', 'TEXT_CARRIER_BLOCKED']);

/** SMS event → fact. An invalid number is suppressed, as a hard bounce is for email. */
export function smsFact(event: SmsEvent): DeliveryFact | undefined {
  const messageId = event.context?.engage_message;
  if (!messageId) return undefined;
  if (event.eventType === 'TEXT_SUCCESSFUL' || event.eventType === 'TEXT_QUEUED' || event.eventType === 'TEXT_PENDING') return { messageId, status: 'sent' };
  if (event.eventType === 'TEXT_DELIVERED') return { messageId, status: 'delivered' };
  if (SMS_UNDELIVERABLE.has(event.eventType)) {
    const suppress = event.eventType === 'TEXT_INVALID' && event.destinationPhoneNumber ? [{ channel: 'sms' as const, address: event.destinationPhoneNumber, reason: 'invalid' }] : [];
    return { messageId, status: 'bounced', suppress };
  }
  return undefined;
}

/** The claim a logged message was sent under: a broadcast's send record or a journey's send claim. */
function sendKeyOf(ref: ProfileRef, entry: MessageLogEntry): SendRecordKey | undefined {
  if (entry.broadcastId !== undefined && entry.sendShard !== undefined) return { broadcastId: entry.broadcastId, shard: entry.sendShard, ref };
  if (entry.journeyId !== undefined && entry.executionName !== undefined && entry.stepId !== undefined) {
    return { journeyId: entry.journeyId, executionName: entry.executionName, stepId: entry.stepId, ref };
  }
  return undefined;
}

/**
 * Applies one delivery fact: the message log's status, the send record's delivery fields (which
 * a broadcast's counters follow; a journey's send claim keeps them too), and the suppression
 * list. Statuses only move forward (conditional updates), so redelivered or reordered events
 * change nothing.
 */
export async function applyDeliveryFact(deps: FeedbackDeps, fact: DeliveryFact | undefined, now: string): Promise<FeedbackOutcome> {
  if (!fact) return 'ignored';
  const found = await deps.messageLog.find(fact.messageId);
  if (!found) throw new MessageNotFoundYetError(fact.messageId);
  const { ref, entry } = found;
  for (const s of fact.suppress ?? []) await deps.suppressions.suppress(s.channel, s.address, s.reason, now);

  const firsts: Partial<MessageLogEntry> = {};
  if (fact.opened && !entry.openedAt) firsts.openedAt = now;
  if (fact.clicked && !entry.clickedAt) firsts.clickedAt = now;
  if (Object.keys(firsts).length > 0) await deps.messageLog.update(ref, fact.messageId, firsts);
  const status = fact.status;
  // SES can still reject a message it accepted (Reject, Rendering Failure): sent → failed.
  if (status === 'failed') await deps.messageLog.update(ref, fact.messageId, { status }, ['sending', 'sent']);
  const advances = status !== undefined && RANK[status] > RANK[entry.status];
  if (status && advances) {
    const lower = (Object.keys(RANK) as Array<MessageLogEntry['status']>).filter((s) => RANK[s] < RANK[status]);
    await deps.messageLog.update(ref, fact.messageId, { status }, lower);
  }

  const key = sendKeyOf(ref, entry);
  if (key) {
    // A claim the sender could not finish (it died after the provider accepted): the provider's
    // event does. The sender finishes the record before the log leaves `sending`, so past that
    // there is nothing to finish (and a failing conditional write would still cost capacity).
    if ((status === 'sent' || status === 'delivered') && entry.status === 'sending') {
      await deps.sends.finish(key, fact.messageId, { status: 'sent', sentAt: entry.sentAt });
    }
    await deps.sends.recordFeedback(key, {
      delivery: advances && status ? DELIVERY[status] : undefined,
      opened: firsts.openedAt !== undefined || undefined,
      clicked: firsts.clickedAt !== undefined || undefined,
    });
  }
  return 'applied';
}
