import { newProfile, type Profile, type ProfileRef } from '../domain/profile/profile';
import { ConcurrentUpdateError } from '../errors';
import type { ProfileStore } from '../ports';

const MAX_ATTEMPTS = 8;

/**
 * Read–modify–write of one profile with optimistic concurrency: `change` is pure and may
 * return its argument unchanged, in which case nothing is written. Retries lost races.
 * `change` receives `undefined` when the profile does not exist; returning `undefined` skips.
 */
export async function updateProfile(
  store: ProfileStore,
  ref: ProfileRef,
  change: (current: Profile | undefined) => Profile | undefined,
  /** The profile as the caller just read it, to save the first read; a lost race re-reads. */
  known?: { profile: Profile | undefined },
): Promise<Profile | undefined> {
  for (let attempt = 1; ; attempt++) {
    const current = attempt === 1 && known ? known.profile : await store.getProfile(ref);
    const next = change(current);
    if (next === undefined || next === current) return current;
    try {
      return await store.saveProfile(next);
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError) || attempt >= MAX_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
}

/** Like updateProfile, starting from an empty profile when none is stored. */
export function upsertProfile(
  store: ProfileStore,
  ref: ProfileRef,
  now: string,
  change: (current: Profile) => Profile,
  known?: { profile: Profile | undefined },
): Promise<Profile | undefined> {
  return updateProfile(
    store,
    ref,
    (current) => {
      if (current) return change(current);
      const created = newProfile(ref, now);
      const changed = change(created);
      return changed === created ? { ...created } : changed;
    },
    known,
  );
}

/**
 * Follows `mergedInto` links (an anonymous id identified, or a user id aliased) to the
 * profile that now receives a ref's data. Bounded so that a corrupt loop cannot spin.
 */
export async function resolveProfile(store: ProfileStore, ref: ProfileRef): Promise<{ ref: ProfileRef; profile?: Profile }> {
  let currentRef = ref;
  for (let hop = 0; hop < 5; hop++) {
    const profile = await store.getProfile(currentRef);
    if (!profile?.mergedInto) return { ref: currentRef, profile };
    currentRef = { kind: 'user', id: profile.mergedInto };
  }
  return { ref: currentRef, profile: await store.getProfile(currentRef) };
}
