import { ConcurrentUpdateError, NotFoundError } from '../../errors';
import type { AudienceDefinition, AudienceStore } from '../../ports';

/** Read–modify–write of an audience definition with optimistic concurrency; retries lost races. */
export async function updateWithRetry(
  store: AudienceStore,
  id: string,
  change: (current: AudienceDefinition) => AudienceDefinition,
): Promise<AudienceDefinition> {
  for (let attempt = 1; ; attempt++) {
    const current = await store.get(id);
    if (!current) throw new NotFoundError(`audience ${id} not found`);
    try {
      return await store.save(change(current));
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError) || attempt >= 5) throw error;
    }
  }
}
