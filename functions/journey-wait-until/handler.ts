import { findNextTime } from '../../shared/services/journeys/tasks';
import { getServices } from '../lib/wiring';

/** `wait_until` task: the next occurrence of a wall-clock time, for the Wait state that follows. */
export const handler = async (payload: unknown): Promise<{ timestamp: string; zone: string }> => findNextTime(getServices(), payload);
