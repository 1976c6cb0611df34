import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { profileFromItem } from '../../shared/aws/dynamodb/profile-store';
import { continueErasure } from '../../shared/services/erasure';
import { continueMerge, DEFAULT_BUDGET_MS } from '../../shared/services/identity-merge';
import { logger } from '../lib/logger';
import { getServices } from '../lib/wiring';

// Records are handled one after another: a stream shard carries one profile's changes in order.
const processor = new BatchProcessor(EventType.DynamoDBStreams);

function image(value: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  return value ? unmarshall(value as Record<string, AttributeValue>) : undefined;
}

/**
 * Routes one table change to the work it starts: identity merges and erasures (and, in later
 * issues, audience evaluation). Every step is idempotent, so a replayed record changes nothing.
 */
async function processRecord(record: DynamoDBRecord, context: Context): Promise<void> {
  const newImage = image(record.dynamodb?.NewImage);
  const changed = newImage ? profileFromItem(newImage) : undefined;
  if (!changed || (changed.erasureRequestedAt === undefined && changed.mergedInto === undefined)) return;
  const services = getServices();
  const deps = { profiles: services.profiles, clock: services.clock, budgetMs: Math.min(DEFAULT_BUDGET_MS, context.getRemainingTimeInMillis() - 10_000) };
  // Act on the profile as it is now, not as the (possibly replayed, stale) record shows it.
  const profile = await services.profiles.getProfile(changed.ref);
  if (!profile) return;
  const outcome = profile.erasureRequestedAt !== undefined ? await continueErasure(deps, profile) : await continueMerge(deps, profile);
  if (outcome !== 'skipped') logger.info('profile maintenance', { pk: String(newImage?.pk ?? ''), outcome, eventID: record.eventID });
}

export const handler = async (event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> =>
  processPartialResponse(event, (record: DynamoDBRecord) => processRecord(record, context), processor, { context, processInParallel: false });
