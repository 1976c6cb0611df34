import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { TableChange } from '../../shared/services/stream-router';

function image(value: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  return value ? unmarshall(value as Record<string, AttributeValue>) : undefined;
}

/** A DynamoDB Streams record as the shared code sees it: keys and images unmarshalled. */
export function toTableChange(record: DynamoDBRecord): TableChange | undefined {
  const keys = image(record.dynamodb?.Keys);
  const eventName = record.eventName;
  if (!keys || typeof keys.pk !== 'string' || typeof keys.sk !== 'string' || eventName === undefined) return undefined;
  return {
    eventName,
    sequenceNumber: record.dynamodb?.SequenceNumber ?? '0',
    keys: { pk: keys.pk, sk: keys.sk },
    oldImage: image(record.dynamodb?.OldImage),
    newImage: image(record.dynamodb?.NewImage),
  };
}

/** When the change happened, from the record (seconds since the epoch). */
export function changedAt(record: DynamoDBRecord): string {
  const seconds = record.dynamodb?.ApproximateCreationDateTime;
  return (seconds ? new Date(seconds * 1000) : new Date()).toISOString();
}

/**
 * Processes stream records strictly in order and stops at the first failure: that record and
 * every later one are reported failed, so the retry starts there (ReportBatchItemFailures) and
 * nothing after a failed record is applied ahead of it — which per-partition counters and the
 * outbox's ordering rely on.
 */
export async function processInOrder(
  records: DynamoDBRecord[],
  process: (record: DynamoDBRecord) => Promise<void>,
  onFailure: (record: DynamoDBRecord, error: unknown) => void,
): Promise<{ batchItemFailures: Array<{ itemIdentifier: string }> }> {
  for (const [index, record] of records.entries()) {
    try {
      await process(record);
    } catch (error) {
      onFailure(record, error);
      return { batchItemFailures: records.slice(index).map((r) => ({ itemIdentifier: r.eventID ?? '' })) };
    }
  }
  return { batchItemFailures: [] };
}
