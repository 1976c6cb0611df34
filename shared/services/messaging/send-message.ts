import { z } from 'zod';
import { parseProfilePk } from '../../aws/dynamodb/keys';

/** A profile key (`USER#…` / `ANON#…`): the recipient. */
const ProfileKeySchema = z.string().min(1).refine((pk) => parseProfilePk(pk) !== undefined, 'must be a profile key (USER#… or ANON#…)');

/** One recipient of one broadcast, put on the queue by the fan-out. */
export const BroadcastSendMessageSchema = z.object({
  kind: z.literal('broadcast'),
  broadcastId: z.string().min(1),
  shard: z.number().int().min(0),
  /** The recipient's profile key (`USER#…` / `ANON#…`). */
  profile: z.string().min(1),
  /** Local-time broadcasts: not before this instant. */
  notBefore: z.string().optional(),
});
export type BroadcastSendMessage = z.infer<typeof BroadcastSendMessageSchema>;

/**
 * The entry of a journey run, as the execution input carries it: for an event entry `{event,
 * messageId, properties, timestamp}`, for an audience entry `{audience, enteredAt}`, for a manual
 * one `{manual: true, …}`. Templates see it as `entry`; the sender does not read it otherwise, so
 * any object is accepted (a new kind of entry must not make sends undeliverable).
 */
export const JourneySendEntrySchema = z.record(z.string(), z.unknown());

/**
 * One send step of one journey execution, put on the queue by the state machine (SQS service
 * integration, `statemachines/steps/send.ts`). `executionName` + `stepId` identify the send:
 * it goes out at most once, however often Step Functions or SQS deliver it.
 */
export const JourneySendMessageSchema = z.object({
  kind: z.literal('journey'),
  journeyId: z.string().min(1),
  version: z.number().int().min(0),
  stepId: z.string().min(1),
  executionName: z.string().min(1),
  /** The run's userId (`$.userId`); null or absent for an anonymous run. Informational: `profile` is the recipient. */
  userId: z.string().nullish(),
  /** The run's profile key (`USER#…` / `ANON#…`). */
  profile: ProfileKeySchema,
  templateId: z.string().min(1),
  channel: z.enum(['email', 'sms']),
  entry: JourneySendEntrySchema,
});
export type JourneySendMessage = z.infer<typeof JourneySendMessageSchema>;

/** A message on the send queue: a broadcast recipient or a journey send step, by `kind`. */
export const SendMessageSchema = z.discriminatedUnion('kind', [BroadcastSendMessageSchema, JourneySendMessageSchema]);
export type SendMessage = z.infer<typeof SendMessageSchema>;
