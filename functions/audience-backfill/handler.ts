import { BackfillMessageSchema, processBackfillMessage } from '../../shared/services/audiences/backfill';
import { sqsHandler } from '../lib/sqs';
import { getServices } from '../lib/wiring';

/** Audience backfill and purge: one scan page or one member-shard page per message. */
export const handler = sqsHandler('backfill', BackfillMessageSchema, (message) => processBackfillMessage(getServices(), message));
