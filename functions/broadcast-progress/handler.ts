import { checkCompletion } from '../../shared/services/broadcasts/broadcasts';
import { logger } from '../lib/logger';
import { getServices } from '../lib/wiring';

/** Every minute: a sending broadcast whose recipients all have an outcome becomes `sent`. */
export const handler = async (): Promise<{ completed: string[] }> => {
  const completed = await checkCompletion(getServices());
  if (completed.length > 0) logger.info('broadcasts sent', { broadcastIds: completed });
  return { completed };
};
