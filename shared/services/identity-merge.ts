import { mergeInto, newProfile, type Profile, type ProfileRef } from '../domain/profile/profile';
import type { Clock, ProfileStore } from '../ports';
import { updateProfile, upsertProfile } from './profile-updates';

export interface MaintenanceDeps {
  profiles: ProfileStore;
  clock: Clock;
  /** How long one invocation may work before handing the rest to the next stream record. */
  budgetMs?: number;
  /** Events re-attributed per page. */
  pageSize?: number;
}

const DEFAULT_BUDGET_MS = 60_000;

/**
 * Completes the merge of `source` into the user named by its `mergedInto`: copies the traits
 * the user lacks, re-attributes every event (put under the user, then deleted from the source:
 * both idempotent), links the source under the user for erasure, then marks it complete.
 * Safe to run any number of times, from any point; when the time budget runs out it bumps
 * `maintenanceRound`, whose stream record resumes the work.
 */
export async function continueMerge(deps: MaintenanceDeps, source: Profile): Promise<'done' | 'resumed' | 'skipped'> {
  const userId = source.mergedInto;
  if (userId === undefined || source.mergeCompletedAt !== undefined || source.erasureRequestedAt !== undefined) return 'skipped';
  const { profiles, clock } = deps;
  const deadline = clock.now().getTime() + (deps.budgetMs ?? DEFAULT_BUDGET_MS);
  const target: ProfileRef = { kind: 'user', id: userId };
  const now = clock.now().toISOString();

  await upsertProfile(profiles, target, now, (user) => mergeInto(user, source, now));
  await profiles.putAlias(userId, source.ref, now);

  for (;;) {
    const events = await profiles.scanEvents(source.ref, deps.pageSize ?? 100);
    if (events.length === 0) break;
    for (const event of events) {
      await profiles.putEvent(target, event);
      await profiles.deleteEvent(source.ref, event.messageId);
    }
    if (clock.now().getTime() > deadline) {
      await updateProfile(profiles, source.ref, (p) => (p ? { ...p, maintenanceRound: (p.maintenanceRound ?? 0) + 1 } : undefined));
      return 'resumed';
    }
  }

  // The source keeps only its link: its data now lives on the user.
  await updateProfile(profiles, source.ref, (p) =>
    p && p.mergeCompletedAt === undefined
      ? { ...newProfile(p.ref, p.createdAt), version: p.version, mergedInto: p.mergedInto, mergeCompletedAt: now, updatedAt: now }
      : undefined,
  );
  return 'done';
}
