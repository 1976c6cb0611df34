import type { BusEvent } from '../ports';

/** A table change as the outbox sees it (images unmarshalled). */
export interface OutboxChange {
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  keys: { pk: string; sk: string };
  oldImage?: Record<string, unknown>;
  newImage?: Record<string, unknown>;
  /** When the change happened (the stream record's ApproximateCreationDateTime). */
  changedAt: string;
}

function identity(image: Record<string, unknown>): Record<string, unknown> {
  return {
    userId: typeof image.userId === 'string' ? image.userId : null,
    ...(typeof image.anonymousId === 'string' ? { anonymousId: image.anonymousId } : {}),
  };
}

/**
 * The events of SPEC section 4 that one table change publishes. The table is the outbox:
 * a membership item appearing is an entry, its disappearing an exit, each exactly one change.
 * Later issues add journey, message and broadcast items here.
 */
export function busEventsFor(change: OutboxChange): BusEvent[] {
  const { pk, sk } = change.keys;
  const isProfilePartition = pk.startsWith('USER#') || pk.startsWith('ANON#');
  if (isProfilePartition && sk.startsWith('AUD#')) {
    if (change.eventName === 'INSERT' && change.newImage) {
      const image = change.newImage;
      const timestamp = typeof image.enteredAt === 'string' ? image.enteredAt : change.changedAt;
      return [{ detailType: 'Audience Entered', detail: { audienceId: image.audienceId, ...identity(image), timestamp }, time: timestamp }];
    }
    if (change.eventName === 'REMOVE' && change.oldImage) {
      const image = change.oldImage;
      return [
        {
          detailType: 'Audience Exited',
          detail: { audienceId: image.audienceId, ...identity(image), enteredAt: image.enteredAt, timestamp: change.changedAt },
          time: change.changedAt,
        },
      ];
    }
  }
  if (isProfilePartition && sk.startsWith('MSG#')) return messageEvents(change);
  if (isProfilePartition && sk.startsWith('JRUN#')) return journeyEvents(change);
  if (pk.startsWith('BROADCAST#') && sk === 'BROADCAST') return broadcastEvents(change);
  return [];
}

const MESSAGE_STATUS_EVENTS: Record<string, string> = {
  sent: 'Message Sent',
  delivered: 'Message Delivered',
  bounced: 'Message Bounced',
  complained: 'Message Complained',
};

/** Message log entries: each status reached, and the first open and click, is one event. */
function messageEvents(change: OutboxChange): BusEvent[] {
  const before = change.oldImage ?? {};
  const after = change.newImage;
  if (!after) return [];
  const detail = {
    messageId: after.id,
    ...identityOfPartition(change.keys.pk),
    channel: after.channel,
    templateId: after.templateId,
    ...(after.broadcastId !== undefined ? { broadcastId: after.broadcastId } : {}),
    ...(after.journeyId !== undefined ? { journeyId: after.journeyId } : {}),
  };
  const events: BusEvent[] = [];
  const status = typeof after.status === 'string' ? after.status : undefined;
  const type = status !== undefined && status !== before.status ? MESSAGE_STATUS_EVENTS[status] : undefined;
  // Feedback can move a message past `sent` in one step (a Delivery applied first): it was sent all the same.
  const wasSent = before.status === 'sent' || before.status === 'delivered' || before.status === 'bounced' || before.status === 'complained';
  if (type && status !== 'sent' && !wasSent) events.push({ detailType: 'Message Sent', detail: { ...detail, status: 'sent', timestamp: change.changedAt }, time: change.changedAt });
  if (type) events.push({ detailType: type, detail: { ...detail, status, timestamp: change.changedAt }, time: change.changedAt });
  if (after.openedAt !== undefined && before.openedAt === undefined) events.push({ detailType: 'Message Opened', detail: { ...detail, timestamp: after.openedAt }, time: change.changedAt });
  if (after.clickedAt !== undefined && before.clickedAt === undefined) events.push({ detailType: 'Message Clicked', detail: { ...detail, timestamp: after.clickedAt }, time: change.changedAt });
  return events;
}

/**
 * Journey runs: the run item appearing is `Journey Entered`, each step it records `Journey Step
 * Reached` (with the branch or variant taken), and its end `Journey Completed` or `Journey
 * Exited` (exited early, or failed: `reason` says which).
 */
function journeyEvents(change: OutboxChange): BusEvent[] {
  const before = change.oldImage;
  const after = change.newImage;
  if (!after) return [];
  const detail = {
    journeyId: after.journeyId,
    ...identityOfPartition(change.keys.pk),
    executionName: after.executionName,
    version: after.version,
  };
  const event = (detailType: string, extra: Record<string, unknown>, timestamp: string): BusEvent => ({ detailType, detail: { ...detail, ...extra, timestamp }, time: change.changedAt });
  const events: BusEvent[] = [];
  if (!before) events.push(event('Journey Entered', {}, typeof after.startedAt === 'string' ? after.startedAt : change.changedAt));
  if (typeof after.currentStep === 'string' && after.currentStep !== before?.currentStep) {
    events.push(event('Journey Step Reached', { stepId: after.currentStep, ...(typeof after.stepOutcome === 'string' ? { outcome: after.stepOutcome } : {}) }, change.changedAt));
  }
  if (after.runStatus !== before?.runStatus) {
    const at = typeof after.endedAt === 'string' ? after.endedAt : change.changedAt;
    if (after.runStatus === 'completed') events.push(event('Journey Completed', {}, at));
    if (after.runStatus === 'exited') events.push(event('Journey Exited', { reason: after.exitReason ?? 'stopped' }, at));
    if (after.runStatus === 'failed') events.push(event('Journey Exited', { reason: 'failed' }, at));
  }
  return events;
}

function broadcastEvents(change: OutboxChange): BusEvent[] {
  const after = change.newImage;
  const previous = change.oldImage?.status;
  if (!after || after.status === previous) return [];
  return [
    {
      detailType: 'Broadcast Status Changed',
      detail: { broadcastId: after.id, status: after.status, ...(previous !== undefined ? { previousStatus: previous } : {}), timestamp: change.changedAt },
      time: change.changedAt,
    },
  ];
}

function identityOfPartition(pk: string): Record<string, unknown> {
  if (pk.startsWith('USER#')) return { userId: pk.slice(5) };
  return { userId: null, anonymousId: pk.slice(5) };
}
