import { z } from 'zod';
import { AUDIENCE_SHARD_COUNT } from '../../aws/dynamodb/keys';
import type { AudienceStore, Clock, MembershipStore, ProfileStore, Queue } from '../../ports';
import type { AudienceCatalog } from './catalog';
import { evaluateProfile } from './evaluate-profile';
import type { TableChange } from '../stream-router';

/** A message on the backfill queue: evaluate one scan segment page, or purge one member shard. */
export const BackfillMessageSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('backfill'),
    audienceId: z.string(),
    ruleVersion: z.number().int(),
    segment: z.number().int().min(0),
    totalSegments: z.number().int().min(1),
    cursor: z.string().optional(),
  }),
  z.object({ kind: z.literal('purge'), audienceId: z.string(), shard: z.number().int().min(0), cursor: z.string().optional() }),
]);
export type BackfillMessage = z.infer<typeof BackfillMessageSchema>;

export interface BackfillDeps {
  profiles: ProfileStore;
  memberships: MembershipStore;
  audiences: AudienceStore;
  catalog: AudienceCatalog;
  queue: Queue;
  clock: Clock;
  backfill: { segments: number; delaySeconds: number };
}

/**
 * Items read per scan page (the scan's Limit counts every item read, events included, before
 * the profile filter); member-shard pages of a purge hold only members.
 */
const SCAN_PAGE_ITEMS = 1_000;
const PURGE_PAGE = 100;

/**
 * A created or re-ruled audience is backfilled by a parallel scan, one message per segment;
 * a deleted one is purged shard by shard. The messages wait `delaySeconds` so that every
 * container's definition cache has seen the change before the scan starts (catalog.ts).
 * Replaying the change re-sends the messages; the work is idempotent.
 */
export async function onAudienceDefinitionChange(deps: Pick<BackfillDeps, 'queue' | 'backfill'>, change: TableChange): Promise<void> {
  const before = change.oldImage;
  const after = change.newImage;
  const audienceId = String((after ?? before)?.id ?? '');
  if (!after) {
    const purges = Array.from({ length: AUDIENCE_SHARD_COUNT }, (_, shard): BackfillMessage => ({ kind: 'purge', audienceId, shard }));
    await deps.queue.send('backfill', purges.map((body) => ({ body, delaySeconds: deps.backfill.delaySeconds })));
    return;
  }
  const ruleVersion = Number(after.ruleVersion);
  if (before && Number(before.ruleVersion) === ruleVersion) return;
  const totalSegments = Number(after.backfillRemaining) || deps.backfill.segments;
  const messages = Array.from({ length: totalSegments }, (_, segment): BackfillMessage => ({ kind: 'backfill', audienceId, ruleVersion, segment, totalSegments }));
  await deps.queue.send('backfill', messages.map((body) => ({ body, delaySeconds: deps.backfill.delaySeconds })));
}

/** Handles one backfill message: one page of work, then the continuation or the completion. */
export async function processBackfillMessage(deps: BackfillDeps, message: BackfillMessage): Promise<void> {
  if (message.kind === 'purge') {
    const page = await deps.audiences.shardMembers(message.audienceId, message.shard, PURGE_PAGE, message.cursor);
    for (const member of page.items) {
      await deps.memberships.exit(member.ref, message.audienceId);
      await deps.memberships.clearTimer(member.ref, message.audienceId);
    }
    if (page.nextCursor) await deps.queue.send('backfill', [{ body: { ...message, cursor: page.nextCursor } }]);
    return;
  }

  const definition = await deps.audiences.get(message.audienceId);
  // A newer rule has its own backfill; a deleted audience needs none.
  if (!definition || definition.ruleVersion !== message.ruleVersion) return;
  let catalog = await deps.catalog.current();
  if (catalog.audiences.get(message.audienceId)?.definition.ruleVersion !== message.ruleVersion) {
    deps.catalog.invalidate();
    catalog = await deps.catalog.current();
  }
  const page = await deps.profiles.scanProfiles(message.segment, message.totalSegments, SCAN_PAGE_ITEMS, message.cursor);
  for (const profile of page.items) {
    await evaluateProfile(deps, catalog, profile.ref, { audienceIds: [message.audienceId] });
  }
  if (page.nextCursor) {
    await deps.queue.send('backfill', [{ body: { ...message, cursor: page.nextCursor } }]);
    return;
  }
  if (await deps.audiences.markSegmentDone(message.audienceId, message.ruleVersion, message.segment)) {
    await deps.audiences.completeSegment(message.audienceId, message.ruleVersion);
  }
}
