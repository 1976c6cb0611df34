import { busEventsFor, type OutboxChange } from '../domain/outbox';
import type { BusEvent, EventBus } from '../ports';

/** Remembers which stream records were published, so that a replayed record is not published again. */
export interface OutboxLedger {
  wasPublished(recordId: string): Promise<boolean>;
  markPublished(recordId: string): Promise<void>;
}

export interface OutboxDeps {
  bus: EventBus;
  ledger: OutboxLedger;
}

/**
 * Publishes the events of one table change. Order: check the ledger, publish, record it. A
 * crash between publishing and recording is the one case that publishes twice (EventBridge has
 * no de-duplication); every event carries `detail.eventId`, the same on both, for consumers.
 */
export async function publishChange(deps: OutboxDeps, recordId: string, change: OutboxChange): Promise<BusEvent[]> {
  const events = busEventsFor(change);
  if (events.length === 0) return [];
  if (await deps.ledger.wasPublished(recordId)) return [];
  const published = events.map((e, i) => ({ ...e, detail: { ...e.detail, eventId: events.length > 1 ? `${recordId}:${i}` : recordId } }));
  await deps.bus.publish(published);
  await deps.ledger.markPublished(recordId);
  return published;
}
