import { combinedEventRequirements, type EvaluationEvent } from '../../domain/audience/evaluate';
import { isActiveProfile, type ProfileRef } from '../../domain/profile/profile';
import type { Clock, MembershipStore, ProfileStore } from '../../ports';
import type { CatalogSnapshot } from './catalog';

export interface EvaluationDeps {
  profiles: ProfileStore;
  memberships: MembershipStore;
  clock: Clock;
}

/** What changed on a profile; only the audiences that can change with it are evaluated. */
export interface Trigger {
  eventNames?: string[];
  traitRoots?: string[];
  /** These audiences themselves (backfill, a due timer), with their dependents. */
  audienceIds?: string[];
  /** Every audience (a new profile, a merged or erased one). */
  all?: boolean;
}

export interface EvaluationOutcome {
  evaluated: number;
  entered: string[];
  exited: string[];
}

/**
 * Re-evaluates the audiences a change can affect on one profile, in dependency order (an
 * audience after the audiences it references), and writes the transitions with conditional
 * writes — so evaluating twice, or replaying the change, writes nothing more. Each result's
 * next possible change without new data becomes the profile's timer for that audience.
 */
export async function evaluateProfile(deps: EvaluationDeps, catalog: CatalogSnapshot, ref: ProfileRef, trigger: Trigger): Promise<EvaluationOutcome> {
  const direct = trigger.all
    ? [...catalog.audiences.keys()]
    : [...catalog.index.affectedBy({ eventNames: trigger.eventNames, traitRoots: trigger.traitRoots }), ...(trigger.audienceIds ?? [])];
  // `order` adds every dependent and sorts each audience after the audiences it references.
  const ids = catalog.index.order(direct);
  const outcome: EvaluationOutcome = { evaluated: 0, entered: [], exited: [] };
  if (ids.length === 0) return outcome;

  const [profile, state] = await Promise.all([deps.profiles.getProfile(ref), deps.memberships.state(ref)]);
  // A merged or erased identity belongs to no audience; its user does.
  const live = isActiveProfile(profile) ? profile : undefined;
  const now = deps.clock.now();
  const members = new Set(state.memberships.keys());
  const events = live ? await loadEvents(deps, catalog, ids, ref, now) : new Map<string, EvaluationEvent[]>();
  const noEvents: EvaluationEvent[] = [];

  for (const id of ids) {
    const audience = catalog.audiences.get(id);
    if (!audience) {
      // A deleted (or unreadable) audience: its timer must not stay due forever.
      if (state.timers.has(id)) await deps.memberships.clearTimer(ref, id);
      continue;
    }
    outcome.evaluated++;
    const result = live
      ? audience.compiled.evaluate({ traits: live.traits, eventsNamed: (name) => events.get(name) ?? noEvents, isMember: (other) => members.has(other), now })
      : { matches: false, nextChangeAt: undefined };
    if (result.matches && !members.has(id)) {
      if (await deps.memberships.enter(ref, id, now.toISOString())) outcome.entered.push(id);
      members.add(id);
    } else if (!result.matches && members.has(id)) {
      if (await deps.memberships.exit(ref, id)) outcome.exited.push(id);
      members.delete(id);
    }
    const scheduled = state.timers.get(id);
    // A change time not in the future would make the timer due forever: none is kept.
    const next = result.nextChangeAt && result.nextChangeAt.getTime() > now.getTime() ? result.nextChangeAt.toISOString() : undefined;
    if (next !== undefined && next !== scheduled) await deps.memberships.setTimer(ref, id, new Date(next));
    else if (next === undefined && scheduled !== undefined) await deps.memberships.clearTimer(ref, id);
  }
  return outcome;
}

/** Reads, once per event name, only the window the evaluated rules need. */
async function loadEvents(deps: EvaluationDeps, catalog: CatalogSnapshot, ids: string[], ref: ProfileRef, now: Date): Promise<Map<string, EvaluationEvent[]>> {
  const rules = ids.flatMap((id) => {
    const compiled = catalog.audiences.get(id)?.compiled;
    return compiled ? [compiled] : [];
  });
  return loadEventWindows(deps.memberships, ref, combinedEventRequirements(rules), now);
}

/** The profile's events of each name, from `now` minus its window (all of them for `null`), read in parallel. */
export async function loadEventWindows(memberships: MembershipStore, ref: ProfileRef, windows: ReadonlyMap<string, number | null>, now: Date): Promise<Map<string, EvaluationEvent[]>> {
  const loaded = new Map<string, EvaluationEvent[]>();
  await Promise.all(
    [...windows].map(async ([name, windowMs]) => {
      const since = windowMs === null ? null : new Date(now.getTime() - windowMs).toISOString();
      loaded.set(name, await memberships.eventsNamed(ref, name, since));
    }),
  );
  return loaded;
}
