/**
 * The single table's key schema, shared by the CDK stack and the local runtime so that the
 * two can never drift apart. See docs/data-model.md for every item type stored in it.
 */
export const TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** TTL attribute: epoch seconds. DynamoDB deletes the item some time after it passes. */
  ttlAttribute: 'expiresAt',
} as const;

/** Local secondary index ordering a profile's events by time (newest-first listing, windows). */
export const EVENTS_BY_TIME_INDEX = { name: 'byTime', sortKey: 'tsk' } as const;

/**
 * Local secondary index ordering a profile's named events by name, then time, so that an
 * audience window ("Order Completed within P7D") reads only the events it counts.
 */
export const EVENTS_BY_NAME_INDEX = { name: 'byEvent', sortKey: 'esk' } as const;

/** Sparse global secondary index for listings and reverse lookups (audiences, journeys, ...). */
export const GSI1 = { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' } as const;
