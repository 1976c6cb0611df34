import { ConcurrentUpdateError, NotFoundError } from '../errors';

/** A definition store with optimistic concurrency (every `EntityTable`). */
export interface VersionedStore<T> {
  get(id: string): Promise<T | undefined>;
  /** Throws ConcurrentUpdateError when the item changed since it was read. */
  save(entity: T): Promise<T>;
}

/**
 * Read–modify–write of a definition (an audience, a journey) with optimistic concurrency;
 * retries lost races up to five times. `what` names the kind in the 404.
 */
export async function updateWithRetry<T>(store: VersionedStore<T>, id: string, change: (current: T) => T, what = 'audience'): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const current = await store.get(id);
    if (!current) throw new NotFoundError(`${what} ${id} not found`);
    try {
      return await store.save(change(current));
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError) || attempt >= 5) throw error;
    }
  }
}
