import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { BackfillMessageSchema, processBackfillMessage } from '../../shared/services/audiences/backfill';
import { logger } from '../lib/logger';
import { getServices } from '../lib/wiring';

const processor = new BatchProcessor(EventType.SQS);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function processRecord(record: SQSRecord): Promise<void> {
  const parsed = BackfillMessageSchema.safeParse(parseJson(record.body));
  if (!parsed.success) {
    // A malformed message can never succeed: drop it with its id rather than retry it.
    logger.error('malformed backfill message dropped', { messageId: record.messageId });
    return;
  }
  await processBackfillMessage(getServices(), parsed.data);
}

/** Audience backfill and purge: one scan page or one member-shard page per message. */
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
  processPartialResponse(event, processRecord, processor, { context });
