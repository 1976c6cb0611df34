import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { z } from 'zod';
import { logger } from './logger';
import { parseJsonOrUndefined } from '../../shared/json';


/**
 * An SQS handler for one message schema: each record is parsed and processed; failures are
 * reported per message (partial batch response) so only they are retried. A message that does
 * not match the schema can never succeed: it is logged with its id and dropped.
 */
export function sqsHandler<T>(
  name: string,
  schema: z.ZodType<T>,
  process: (message: T, record: SQSRecord) => Promise<void>,
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  const handleRecord = async (record: SQSRecord): Promise<void> => {
    const parsed = schema.safeParse(parseJsonOrUndefined(record.body));
    if (!parsed.success) {
      logger.error(`malformed ${name} message dropped`, { messageId: record.messageId });
      return;
    }
    await process(parsed.data, record);
  };
  // A processor per invocation: it holds the batch's state, and the local runtime (unlike one
  // Lambda container) runs several batches of one queue at the same time.
  return (event, context) => processPartialResponse(event, handleRecord, new BatchProcessor(EventType.SQS), { context });
}
