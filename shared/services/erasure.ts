import type { Profile, ProfileRef } from '../domain/profile/profile';
import { NotFoundError } from '../errors';
import type { ProfileStore } from '../ports';
import type { MaintenanceDeps } from './identity-merge';
import { updateProfile } from './profile-updates';

const DEFAULT_BUDGET_MS = 60_000;
const PAGE = 100;

/**
 * Marks a user for erasure (right to erasure, SPEC section 3). The profile disappears from
 * the API at once; the stream processor then deletes everything it owns (continueErasure).
 * Asking again while erasure runs is accepted and changes nothing.
 */
export async function requestErasure(profiles: ProfileStore, userId: string, now: string): Promise<void> {
  const ref: ProfileRef = { kind: 'user', id: userId };
  const result = await updateProfile(profiles, ref, (p) =>
    p && p.erasureRequestedAt === undefined && p.mergedInto === undefined ? { ...p, erasureRequestedAt: now, updatedAt: now } : undefined,
  );
  if (!result || result.mergedInto !== undefined) throw new NotFoundError(`profile ${userId} not found`);
}

/**
 * Deletes everything a profile marked for erasure owns: first the identities merged into it
 * (their items and profiles), then its own events, memberships, messages and links, and last
 * the profile item itself, whose REMOVE record tells every other consumer it is gone.
 * Idempotent and resumable like continueMerge.
 */
export async function continueErasure(deps: MaintenanceDeps, profile: Profile): Promise<'done' | 'resumed' | 'skipped'> {
  if (profile.erasureRequestedAt === undefined) return 'skipped';
  const { profiles, clock } = deps;
  const deadline = clock.now().getTime() + (deps.budgetMs ?? DEFAULT_BUDGET_MS);

  const owned: ProfileRef[] = profile.ref.kind === 'user' ? await profiles.listAliases(profile.ref.id) : [];
  for (const ref of [...owned, profile.ref]) {
    for (;;) {
      const sortKeys = await profiles.listOwnedItems(ref, PAGE);
      if (sortKeys.length === 0) break;
      await profiles.deleteOwnedItems(ref, sortKeys);
      if (clock.now().getTime() > deadline) {
        await updateProfile(profiles, profile.ref, (p) => (p ? { ...p, maintenanceRound: (p.maintenanceRound ?? 0) + 1 } : undefined));
        return 'resumed';
      }
    }
    await profiles.deleteProfile(ref);
  }
  return 'done';
}
