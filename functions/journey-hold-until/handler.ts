import { registerHold } from '../../shared/services/journeys/tasks';
import { getServices } from '../lib/wiring';

/**
 * `hold_until` task (`.waitForTaskToken`): stores the token under the profile and returns; the
 * run resumes when the stream sees the awaited event (or one already came since entry).
 */
export const handler = async (payload: unknown): Promise<{ registered: boolean; resumedAtOnce: boolean }> => registerHold(getServices(), payload);
