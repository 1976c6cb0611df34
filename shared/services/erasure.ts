import type { Profile, ProfileRef } from '../domain/profile/profile';
import { NotFoundError } from '../errors';
import type { ProfileStore } from '../ports';
import { DEFAULT_BUDGET_MS, type MaintenanceDeps } from './identity-merge';
import { updateProfile } from './profile-updates';

const PAGE = 100;

/** Every identity merged into `ref`, however deep (an anonymous id merged into a user later aliased). */
async function mergedIdentities(profiles: ProfileStore, ref: ProfileRef): Promise<ProfileRef[]> {
  const found: ProfileRef[] = [];
  const seen = new Set<string>([`${ref.kind}:${ref.id}`]);
  const queue: ProfileRef[] = [ref];
  for (let next = queue.shift(); next; next = queue.shift()) {
    if (next.kind !== 'user') continue;
    for (const alias of await profiles.listAliases(next.id)) {
      const key = `${alias.kind}:${alias.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      found.push(alias);
      queue.push(alias);
    }
  }
  // Deepest first, so that a resumed run still finds the links it has not followed yet.
  return found.reverse();
}

/**
 * Marks a user for erasure (right to erasure, SPEC section 3). The profile disappears from
 * the API at once; the stream processor then deletes everything it owns (continueErasure).
 * Asking again while erasure runs is accepted and changes nothing.
 */
export async function requestErasure(profiles: ProfileStore, id: string, now: string): Promise<void> {
  // A user id, or an anonymous id not merged into a user (a merged one belongs to its user).
  for (const ref of [{ kind: 'user', id }, { kind: 'anonymous', id }] satisfies ProfileRef[]) {
    const result = await updateProfile(profiles, ref, (p) =>
      p && p.erasureRequestedAt === undefined && p.mergedInto === undefined ? { ...p, erasureRequestedAt: now, updatedAt: now } : undefined,
    );
    if (result && result.mergedInto === undefined) return;
  }
  throw new NotFoundError(`profile ${id} not found`);
}

/**
 * Deletes everything a profile marked for erasure owns: first the identities merged into it
 * (their items and profiles), then its own events, memberships, messages and links, and last
 * the profile item itself, whose REMOVE record tells every other consumer it is gone.
 * Idempotent and resumable like continueMerge.
 */
export async function continueErasure(
  deps: MaintenanceDeps & {
    /** Runs before an identity's items are deleted (journeys stop its runs). Must be idempotent: a resumed erasure runs it again. */
    beforeErasing?: (ref: ProfileRef) => Promise<unknown>;
  },
  profile: Profile,
): Promise<'done' | 'resumed' | 'skipped'> {
  if (profile.erasureRequestedAt === undefined) return 'skipped';
  const { profiles, clock } = deps;
  const deadline = clock.now().getTime() + (deps.budgetMs ?? DEFAULT_BUDGET_MS);

  const owned = await mergedIdentities(profiles, profile.ref);
  for (const ref of [...owned, profile.ref]) {
    await deps.beforeErasing?.(ref);
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
