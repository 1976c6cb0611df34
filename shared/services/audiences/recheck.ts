import { TIMER_SHARD_COUNT } from '../../aws/dynamodb/keys';
import type { AudienceCatalog } from './catalog';
import { evaluateProfile, type EvaluationDeps } from './evaluate-profile';

/** Timers read per shard per run; a larger backlog is worked off by the following runs. */
const MAX_DUE_PER_SHARD = 2_000;
const CONCURRENCY = 8;

export interface RecheckDeps extends EvaluationDeps {
  catalog: AudienceCatalog;
}

export interface RecheckOutcome {
  due: number;
  entered: number;
  exited: number;
}

/**
 * Re-evaluates the (profile, audience) pairs whose timers have fallen due: the passage of time
 * alone (an event leaving a window) changes membership. Runs every minute on AWS, every few
 * seconds locally. A timer stays due until its evaluation moves or removes it, so a missed or
 * failed run loses nothing: the next one finds the same timers.
 */
export async function recheckDueTimers(deps: RecheckDeps): Promise<RecheckOutcome> {
  const now = deps.clock.now();
  const catalog = await deps.catalog.current();
  const outcome: RecheckOutcome = { due: 0, entered: 0, exited: 0 };
  const due = (await Promise.all(Array.from({ length: TIMER_SHARD_COUNT }, (_, shard) => deps.memberships.dueTimers(shard, now, MAX_DUE_PER_SHARD)))).flat();
  outcome.due = due.length;
  for (let i = 0; i < due.length; i += CONCURRENCY) {
    const results = await Promise.all(due.slice(i, i + CONCURRENCY).map((t) => evaluateProfile(deps, catalog, t.ref, { audienceIds: [t.audienceId] })));
    for (const r of results) {
      outcome.entered += r.entered.length;
      outcome.exited += r.exited.length;
    }
  }
  return outcome;
}
