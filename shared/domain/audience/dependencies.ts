import { ruleReferences, traitRoot, type Rule } from './rule';

/** What changed on one profile. */
export interface ProfileChange {
  /** Names of events that arrived. */
  eventNames?: Iterable<string>;
  /** Trait keys that changed; dotted paths are reduced to their top-level key. */
  traitRoots?: Iterable<string>;
  /** Audiences whose membership changed: their dependents are affected (not they themselves). */
  audienceIds?: Iterable<string>;
}

export interface AudienceDependencyIndex {
  /** Audiences whose own rule reads events of that name, in evaluation order. */
  forEvent(name: string): string[];
  /** Audiences whose own rule reads one of these trait keys, in evaluation order. */
  forTraits(changedRoots: Iterable<string>): string[];
  /** Audiences that reference this one, directly or through others, in evaluation order (not itself). */
  dependentsOf(audienceId: string): string[];
  /**
   * The given audiences and every audience that depends on them, each once, ordered so that an
   * audience comes after the audiences it references. Ids the index does not know come first,
   * in the order given.
   */
  order(ids: Iterable<string>): string[];
  /** Everything a change can affect, in evaluation order: what reads it directly, then their dependents. */
  affectedBy(change: ProfileChange): string[];
}

/**
 * Indexes audiences by what can change their membership, so that an event or a trait update
 * re-evaluates only the audiences that read it (and, after them, the audiences that reference
 * those). Cycles are refused when rules are saved (`findCycle`); should one exist anyway, the
 * index breaks it at the back edge of a depth-first walk in the order audiences are given,
 * which is deterministic, and never loops.
 *
 * @example
 * const index = buildDependencyIndex([
 *   { id: 'buyers', rule: { event: 'Order Completed', within: 'P30D' } },
 *   { id: 'vip', rule: { all: [{ audience: 'buyers' }, { trait: 'plan', op: 'eq', value: 'pro' }] } },
 * ]);
 * index.affectedBy({ eventNames: ['Order Completed'] }); // ['buyers', 'vip']
 */
export function buildDependencyIndex(audiences: ReadonlyArray<{ id: string; rule: Rule }>): AudienceDependencyIndex {
  const references = new Map<string, string[]>();
  const byEvent = new Map<string, string[]>();
  const byTrait = new Map<string, string[]>();
  const add = (map: Map<string, string[]>, key: string, id: string): void => {
    const list = map.get(key);
    if (list) list.push(id);
    else map.set(key, [id]);
  };
  for (const { id, rule } of audiences) {
    if (references.has(id)) continue; // the first definition of an id wins
    const refs = ruleReferences(rule);
    references.set(id, refs.audiences);
    for (const name of refs.events) add(byEvent, name, id);
    for (const root of refs.traitRoots) add(byTrait, root, id);
  }

  const directDependents = new Map<string, string[]>();
  for (const [id, refs] of references) {
    for (const ref of refs) if (references.has(ref) && ref !== id) add(directDependents, ref, id);
  }

  // Depth-first post-order: the audiences an audience references come before it. A back edge
  // (an audience still on the walk) is skipped, which is where a cycle gets broken.
  const rank = new Map<string, number>();
  const onWalk = new Set<string>();
  for (const start of references.keys()) {
    if (rank.has(start)) continue;
    const frames: Array<{ id: string; refs: string[]; next: number }> = [{ id: start, refs: references.get(start) ?? [], next: 0 }];
    onWalk.add(start);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1];
      if (frame === undefined) break;
      const ref = frame.refs[frame.next++];
      if (ref === undefined) {
        frames.pop();
        onWalk.delete(frame.id);
        rank.set(frame.id, rank.size);
        continue;
      }
      if (rank.has(ref) || onWalk.has(ref) || !references.has(ref)) continue;
      onWalk.add(ref);
      frames.push({ id: ref, refs: references.get(ref) ?? [], next: 0 });
    }
  }
  const byRank = (a: string, b: string): number => (rank.get(a) ?? 0) - (rank.get(b) ?? 0);
  for (const list of byEvent.values()) list.sort(byRank);
  for (const list of byTrait.values()) list.sort(byRank);

  /** Adds the dependents of `id` (transitively) to `into`; visits each audience once. */
  const collectDependents = (id: string, into: Set<string>): void => {
    const stack = [...(directDependents.get(id) ?? [])];
    for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
      if (into.has(next)) continue;
      into.add(next);
      stack.push(...(directDependents.get(next) ?? []));
    }
  };

  const order = (ids: Iterable<string>): string[] => {
    const unknown: string[] = [];
    const known = new Set<string>();
    for (const id of ids) {
      if (!rank.has(id)) {
        if (!unknown.includes(id)) unknown.push(id);
        continue;
      }
      if (known.has(id)) continue;
      known.add(id);
      collectDependents(id, known);
    }
    return [...unknown, ...[...known].sort(byRank)];
  };

  const forTraits = (changedRoots: Iterable<string>): string[] => {
    const found = new Set<string>();
    for (const key of changedRoots) for (const id of byTrait.get(traitRoot(key)) ?? []) found.add(id);
    return [...found].sort(byRank);
  };

  return {
    forEvent: (name) => [...(byEvent.get(name) ?? [])],
    forTraits,
    dependentsOf(audienceId) {
      const found = new Set<string>();
      collectDependents(audienceId, found);
      found.delete(audienceId);
      return [...found].sort(byRank);
    },
    order,
    affectedBy(change) {
      const seeds: string[] = [];
      for (const name of change.eventNames ?? []) seeds.push(...(byEvent.get(name) ?? []));
      if (change.traitRoots !== undefined) seeds.push(...forTraits(change.traitRoots));
      for (const id of change.audienceIds ?? []) seeds.push(...(directDependents.get(id) ?? []));
      return order(seeds);
    },
  };
}
