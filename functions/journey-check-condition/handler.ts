import { checkCondition } from '../../shared/services/journeys/tasks';
import { getServices } from '../lib/wiring';

/** `branch` task: the first branch whose rule matches the profile now (-1: default). */
export const handler = async (payload: unknown): Promise<{ branchIndex: number }> => checkCondition(getServices(), payload);
