import { z } from 'zod';
import { startBroadcast } from '../../shared/services/broadcasts/broadcasts';
import { logger } from '../lib/logger';
import { getServices } from '../lib/wiring';

const StartPayloadSchema = z.object({ kind: z.literal('broadcast-start'), broadcastId: z.string().min(1), version: z.number().int().optional() });

/** Invoked by the broadcast's one-time EventBridge Scheduler schedule (deleted after it fires). */
export const handler = async (payload: unknown): Promise<{ outcome: string }> => {
  const parsed = StartPayloadSchema.safeParse(payload);
  if (!parsed.success) {
    logger.error('malformed broadcast start payload');
    return { outcome: 'invalid' };
  }
  const outcome = await startBroadcast(getServices(), parsed.data.broadcastId, parsed.data.version);
  logger.info('broadcast start', { broadcastId: parsed.data.broadcastId, outcome });
  return { outcome };
};
