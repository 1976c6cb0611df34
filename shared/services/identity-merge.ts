import { mergeInto, newProfile, type Profile, type ProfileRef } from '../domain/profile/profile';
import type { Clock, ProfileStore } from '../ports';
import { updateProfile } from './profile-updates';

export interface MaintenanceDeps {
  profiles: ProfileStore;
  clock: Clock;
  /** How long one invocation may work before handing the rest to the next stream record. */
  budgetMs?: number;
  /** Events re-attributed per page. */
  pageSize?: number;
}

/** Well under the stream function's timeout, so that the resume path (not a timeout) ends long runs. */
export const DEFAULT_BUDGET_MS = 20_000;

/**
 * Completes the merge of `source` into the user named by its `mergedInto`: copies the traits
 * the user lacks, re-attributes every event (put under the user, then deleted from the source:
 * both idempotent), links the source under the user for erasure, then marks it complete.
 * Safe to run any number of times, from any point; when the time budget runs out it bumps
 * `maintenanceRound`, whose stream record resumes the work.
 */
export async function continueMerge(deps: MaintenanceDeps, source: Profile): Promise<'done' | 'resumed' | 'skipped' | 'erasing'> {
  const userId = source.mergedInto;
  if (userId === undefined || source.mergeCompletedAt !== undefined || source.erasureRequestedAt !== undefined) return 'skipped';
  const { profiles, clock } = deps;
  const deadline = clock.now().getTime() + (deps.budgetMs ?? DEFAULT_BUDGET_MS);
  const target: ProfileRef = { kind: 'user', id: userId };
  const now = clock.now().toISOString();

  // Ingest writes the user before linking, so a missing user was erased: what was merged
  // into it is erased too, instead of bringing the user back.
  const user = await profiles.getProfile(target);
  if (!user || user.erasureRequestedAt !== undefined) {
    await updateProfile(profiles, source.ref, (p) => (p && p.erasureRequestedAt === undefined ? { ...p, erasureRequestedAt: now, updatedAt: now } : undefined));
    return 'erasing';
  }
  await updateProfile(profiles, target, (u) => (u && u.erasureRequestedAt === undefined ? mergeInto(u, source, now) : undefined));
  await profiles.putAlias(userId, source.ref, now);

  for (;;) {
    const events = await profiles.scanEvents(source.ref, deps.pageSize ?? 100);
    if (events.length === 0) break;
    for (const event of events) {
      // Marked so that journeys do not take a re-attributed event for a new one.
      await profiles.putEvent(target, { ...event, movedFrom: event.movedFrom ?? `${source.ref.kind}:${source.ref.id}` });
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
