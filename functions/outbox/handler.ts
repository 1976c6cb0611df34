import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { publishChange } from '../../shared/services/outbox';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger } from '../lib/logger';
import { metrics } from '../lib/metrics';
import { changedAt, processInOrder, toTableChange } from '../lib/stream-records';
import { getServices } from '../lib/wiring';

/**
 * The outbox: publishes the events of SPEC section 4 from the table stream, strictly in order
 * (the first failure stops the batch; see processInOrder).
 */
/** `Audience Entered` → `AudienceEntered`: one metric per published event type. */
function metricName(detailType: string): string {
  return detailType.replace(/\s+/g, '');
}

export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const { bus, ledger } = getServices();
  try {
    return await processInOrder(
      event.Records,
      async (record) => {
        const change = toTableChange(record);
        if (!change || !record.eventID) return;
        const published = await publishChange({ bus, ledger }, record.eventID, { ...change, changedAt: changedAt(record) });
        for (const e of published) metrics.addMetric(metricName(e.detailType), MetricUnit.Count, 1);
      },
      (record, error) => logger.error('outbox publish failed', { eventID: record.eventID, errorName: error instanceof Error ? error.name : 'unknown' }),
    );
  } finally {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};
