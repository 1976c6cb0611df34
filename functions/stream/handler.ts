import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { DEFAULT_BUDGET_MS } from '../../shared/services/identity-merge';
import { routeChange } from '../../shared/services/stream-router';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger } from '../lib/logger';
import { metrics } from '../lib/metrics';
import { processInOrder, toTableChange } from '../lib/stream-records';
import { getServices } from '../lib/wiring';

async function processRecord(record: DynamoDBRecord, context: Context): Promise<void> {
  const change = toTableChange(record);
  if (!change) return;
  const services = getServices();
  const result = await routeChange({ ...services, budgetMs: Math.min(DEFAULT_BUDGET_MS, context.getRemainingTimeInMillis() - 10_000) }, change);
  if (result.kind === 'maintenance') logger.info('profile maintenance', { pk: change.keys.pk, outcome: result.outcome, eventID: record.eventID });
  if (result.kind === 'evaluated' && result.outcome.evaluated > 0) {
    // From the change to its audiences written: the "evaluation lag" of the dashboard.
    const lagMs = Date.now() - (record.dynamodb?.ApproximateCreationDateTime ?? Date.now() / 1000) * 1000;
    metrics.addMetric('AudienceEvaluationLag', MetricUnit.Milliseconds, Math.max(0, lagMs));
    metrics.addMetric('AudienceEvaluations', MetricUnit.Count, result.outcome.evaluated);
  }
}

/**
 * The table stream's router: identity merges, erasure, audience evaluation and projection.
 * Failed records are reported (partial batch response); the mapping retries and bisects.
 */
export const handler = async (event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> => {
  try {
    return await processInOrder(
      event.Records,
      (record) => processRecord(record, context),
      (record, error) => logger.error('stream record failed', { eventID: record.eventID, errorName: error instanceof Error ? error.name : 'unknown' }),
    );
  } finally {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};
