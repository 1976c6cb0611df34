import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { activeRuns, recordExecutionEnd } from '../../shared/services/journeys/run-status';
import { logger } from '../lib/logger';
import { metrics } from '../lib/metrics';
import { getServices } from '../lib/wiring';
import { parseJsonOrUndefined } from '../../shared/json';

/** The EventBridge event Step Functions sends for a standard workflow's status change. */
const StatusChangeSchema = z.object({
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.object({
    executionArn: z.string(),
    name: z.string(),
    status: z.string(),
    stopDate: z.number().nullish(),
    input: z.string().nullish(),
  }),
});

const END_STATUS: Record<string, 'succeeded' | 'failed' | 'timed_out' | 'aborted'> = {
  SUCCEEDED: 'succeeded',
  FAILED: 'failed',
  TIMED_OUT: 'timed_out',
  ABORTED: 'aborted',
};


/**
 * Execution status changes of this deployment's journeys (an EventBridge rule on the default
 * bus): a run's end is recorded on its item (the stream then counts it and publishes it), and
 * failures are a metric the "failed journey executions" alarm watches. Once a minute another
 * rule asks it for the number of runs in flight (`JourneyRunsActive`).
 */
export const handler = async (event: unknown): Promise<{ outcome: string }> => {
  try {
    // Once a minute (a scheduled rule): the runs in flight, for the dashboard.
    if (typeof event === 'object' && event !== null && (event as { kind?: unknown }).kind === 'active-runs') {
      const { active } = await activeRuns(getServices());
      metrics.addMetric('JourneyRunsActive', MetricUnit.Count, active);
      return { outcome: `active ${active}` };
    }
    const parsed = StatusChangeSchema.safeParse(event);
    if (!parsed.success) {
      logger.error('malformed execution status event dropped');
      return { outcome: 'invalid' };
    }
    const { detail } = parsed.data;
    const status = END_STATUS[detail.status];
    if (status === undefined) return { outcome: 'not-ended' };
    if (status === 'failed' || status === 'timed_out') {
      metrics.addMetric('JourneyExecutionsFailed', MetricUnit.Count, 1);
      logger.warn('journey execution failed', { executionArn: detail.executionArn, status });
    }
    const services = getServices();
    // Large inputs are left out of the event: the execution has them.
    const input = parseJsonOrUndefined(detail.input) ?? (await services.engine.describe(detail.executionArn, { currentState: false }))?.input;
    const outcome = await recordExecutionEnd(services, {
      executionName: detail.name,
      status,
      input,
      ...(typeof detail.stopDate === 'number' ? { stoppedAt: new Date(detail.stopDate).toISOString() } : {}),
    });
    return { outcome };
  } finally {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};
