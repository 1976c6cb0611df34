import { FanoutMessageSchema, processFanout } from '../../shared/services/broadcasts/broadcasts';
import { sqsHandler } from '../lib/sqs';
import { getServices } from '../lib/wiring';

/** Broadcast snapshot: one page of one audience shard per message, onto the send queue. */
export const handler = sqsHandler('fanout', FanoutMessageSchema, async (message) => {
  await processFanout(getServices(), message);
});
