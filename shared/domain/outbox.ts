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
  return [];
}
