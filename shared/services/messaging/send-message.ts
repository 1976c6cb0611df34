import { z } from 'zod';

/** A message on the send queue: one recipient of one broadcast (journeys add their kind later). */
export const SendMessageSchema = z.object({
  kind: z.literal('broadcast'),
  broadcastId: z.string().min(1),
  shard: z.number().int().min(0),
  /** The recipient's profile key (`USER#…` / `ANON#…`). */
  profile: z.string().min(1),
  /** Local-time broadcasts: not before this instant. */
  notBefore: z.string().optional(),
});
export type SendMessage = z.infer<typeof SendMessageSchema>;
