import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { JourneyMessageSchema, processJourneyMessage } from '../../shared/services/journeys/entry';
import { logger } from '../lib/logger';
import { metrics } from '../lib/metrics';
import { sqsHandler } from '../lib/sqs';
import { getServices } from '../lib/wiring';

const process = sqsHandler('journey', JourneyMessageSchema, async (message) => {
  const outcome = await processJourneyMessage(getServices(), message);
  if (message.type === 'enter') metrics.addMetric(outcome === 'started' ? 'JourneyExecutionsStarted' : `JourneyEntry_${outcome}`, MetricUnit.Count, 1);
  logger.debug('journey message', { type: message.type, journeyId: message.journeyId, outcome });
});

/**
 * The journey worker, on the entry queue: enters users (re-entry rule, deterministic execution
 * name), stops runs on exit, completes holds. A throttled start goes back on the queue with a
 * growing delay (it spends no receive); the event source's maximum concurrency bounds the calls.
 */
export const handler: typeof process = async (event, context) => {
  try {
    return await process(event, context);
  } finally {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};
