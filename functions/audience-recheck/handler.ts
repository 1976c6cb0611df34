import { recheckDueTimers, type RecheckOutcome } from '../../shared/services/audiences/recheck';
import { logger } from '../lib/logger';
import { getServices } from '../lib/wiring';

/** Runs every minute (EventBridge Scheduler): memberships that change with the passage of time. */
export const handler = async (): Promise<RecheckOutcome> => {
  const outcome = await recheckDueTimers(getServices());
  if (outcome.due > 0) logger.info('audience recheck', { ...outcome });
  return outcome;
};
