import { z } from 'zod';
import type { DeliveryStatus } from '../../domain/broadcast/broadcast';
import type { MessageLog, MessageLogEntry, SendStore, SuppressionList } from '../../ports';

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

export interface FeedbackDeps {
  messageLog: MessageLog;
  sends: SendStore;
  suppressions: SuppressionList;
}

export type FeedbackOutcome = 'applied' | 'unknown-message' | 'ignored';

/** The message log is found through an index that may lag the send by a moment: retried. */
export class MessageNotFoundYetError extends Error {
  constructor(messageId: string) {
    super(`message ${messageId} not found (yet)`);
    this.name = 'MessageNotFoundYetError';
  }
}

const RANK: Record<MessageLogEntry['status'], number> = { sending: 0, failed: 0, sent: 1, delivered: 2, bounced: 3, complained: 3 };

/**
 * Applies one delivery event: the message log's status, the broadcast send record's delivery
 * fields (which the counters follow), and the suppression list for hard bounces and complaints.
 * Statuses only move forward (a late Delivery does not undo a Complaint), so redelivered or
 * reordered events change nothing.
 */
export async function applySesEvent(deps: FeedbackDeps, event: SesEvent, now: string): Promise<FeedbackOutcome> {
  const messageId = event.mail.tags?.engage_message?.[0];
  if (!messageId) return 'ignored';
  const found = await deps.messageLog.find(messageId);
  if (!found) throw new MessageNotFoundYetError(messageId);
  const { ref, entry } = found;

  let status: MessageLogEntry['status'] | undefined;
  let delivery: DeliveryStatus | undefined;
  const change: Partial<MessageLogEntry> = {};
  switch (event.eventType) {
    case 'Send':
      status = 'sent';
      break;
    case 'Delivery':
      status = 'delivered';
      delivery = 'delivered';
      break;
    case 'Bounce':
      // Only a permanent bounce is final; a transient one may still be delivered.
      if (event.bounce?.bounceType !== 'Permanent') return 'ignored';
      status = 'bounced';
      delivery = 'bounced';
      for (const r of event.bounce.bouncedRecipients ?? []) await deps.suppressions.suppress('email', r.emailAddress, 'bounce', now);
      break;
    case 'Complaint':
      status = 'complained';
      delivery = 'complained';
      for (const r of event.complaint?.complainedRecipients ?? []) await deps.suppressions.suppress('email', r.emailAddress, 'complaint', now);
      break;
    case 'Open':
      if (!entry.openedAt) change.openedAt = now;
      break;
    case 'Click':
      if (!entry.clickedAt) change.clickedAt = now;
      break;
    case 'Reject':
    case 'Rendering Failure':
      status = 'failed';
      break;
    case 'DeliveryDelay':
    case 'Subscription':
      return 'ignored';
  }
  if (status && RANK[status] > RANK[entry.status]) change.status = status;
  const { status: newStatus, ...rest } = change;
  if (Object.keys(rest).length > 0) await deps.messageLog.update(ref, messageId, rest);
  if (newStatus) {
    // Conditional: a concurrent event that moved the status further is not undone.
    const lower = (Object.keys(RANK) as Array<MessageLogEntry['status']>).filter((s) => RANK[s] < RANK[newStatus]);
    await deps.messageLog.update(ref, messageId, { status: newStatus }, lower);
  }

  if (entry.broadcastId !== undefined && entry.sendShard !== undefined) {
    const key = { broadcastId: entry.broadcastId, shard: entry.sendShard, ref };
    // A claim the sender could not finish (it died after the provider accepted): the Send event does.
    if (status === 'sent' || status === 'delivered') await deps.sends.finish(key, messageId, { status: 'sent', sentAt: entry.sentAt });
    const advanced = change.status !== undefined && change.status === status;
    const feedback = { delivery: advanced ? delivery : undefined, opened: change.openedAt !== undefined || undefined, clicked: change.clickedAt !== undefined || undefined };
    await deps.sends.recordFeedback(key, feedback);
  }
  return 'applied';
}
