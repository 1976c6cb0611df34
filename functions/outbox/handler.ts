import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { publishChange } from '../../shared/services/outbox';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger } from '../lib/logger';
import { metrics } from '../lib/metrics';
import { changedAt, toTableChange } from '../lib/stream-records';
import { getServices } from '../lib/wiring';

/**
 * The outbox: publishes the events of SPEC section 4 from the table stream. Records are
 * published strictly in order and the first failure stops the batch (it and every later
 * record are reported failed), so a retry never publishes a later record twice.
 */
/** `Audience Entered` → `AudienceEntered`: one metric per published event type. */
function metricName(detailType: string): string {
  return detailType.replace(/\s+/g, '');
}

export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const { bus, ledger } = getServices();
  try {
    for (const [index, record] of event.Records.entries()) {
      const change = toTableChange(record);
      if (!change || !record.eventID) continue;
      try {
        const published = await publishChange({ bus, ledger }, record.eventID, { ...change, changedAt: changedAt(record) });
        for (const e of published) metrics.addMetric(metricName(e.detailType), MetricUnit.Count, 1);
      } catch (error) {
        logger.error('outbox publish failed', { eventID: record.eventID, pk: change.keys.pk, errorName: error instanceof Error ? error.name : 'unknown' });
        return { batchItemFailures: event.Records.slice(index).map((r) => ({ itemIdentifier: r.eventID ?? '' })) };
      }
    }
    return { batchItemFailures: [] };
  } finally {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};
