import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { processSendMessage } from '../../shared/services/messaging/sender';
import { SendMessageSchema } from '../../shared/services/messaging/send-message';
import { metrics } from '../lib/metrics';
import { sqsHandler } from '../lib/sqs';
import { getServices } from '../lib/wiring';

const process = sqsHandler('send', SendMessageSchema, async (message) => {
  const outcome = await processSendMessage(getServices(), message);
  metrics.addMetric(`Send_${outcome}`, MetricUnit.Count, 1);
});

/**
 * The sender: one recipient per message, a broadcast recipient or a journey send step (its
 * `kind`), claimed before the provider call (sender.ts). A malformed message is dropped. A
 * transient provider error fails the message, which SQS delivers again; a held claim or a
 * rate limit puts it back on the queue with a delay.
 */
export const handler: typeof process = async (event, context) => {
  try {
    return await process(event, context);
  } finally {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};
