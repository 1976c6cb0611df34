import { assertUnreachable } from '../../errors';
import type { JourneyStep } from './definition';

/**
 * Graph walks over a journey's steps. All iterative (no recursion), so a 500-step journey or
 * a broken one cannot overflow the stack; targets that name no step are skipped (validation
 * reports them).
 */

export type Steps = Readonly<Record<string, JourneyStep>>;

/** One outgoing edge of a step: where it is written (relative to the step) and where it goes. */
export interface StepTarget {
  path: PropertyKey[];
  target: string | null;
}

/**
 * The outgoing edges of a step, in the order they are written.
 *
 * @example
 * stepTargets({ type: 'hold_until', event: 'E', timeout: 'P1D', next: 'a', timeoutNext: null });
 * // [{ path: ['next'], target: 'a' }, { path: ['timeoutNext'], target: null }]
 */
export function stepTargets(step: JourneyStep): StepTarget[] {
  switch (step.type) {
    case 'wait':
    case 'wait_until':
    case 'send':
      return [{ path: ['next'], target: step.next }];
    case 'hold_until':
      return [
        { path: ['next'], target: step.next },
        { path: ['timeoutNext'], target: step.timeoutNext },
      ];
    case 'branch':
      return [...step.branches.map((branch, i) => ({ path: ['branches', i, 'next'], target: branch.next })), { path: ['default'], target: step.default }];
    case 'split':
      return step.variants.map((variant, i) => ({ path: ['variants', i, 'next'], target: variant.next }));
    case 'exit':
      return [];
    default:
      return assertUnreachable(step);
  }
}

/** The distinct steps a step leads to, in order of first appearance (ends and missing steps left out). */
export function successors(step: JourneyStep, steps: Steps): string[] {
  const out: string[] = [];
  for (const { target } of stepTargets(step)) {
    if (target !== null && Object.hasOwn(steps, target) && !out.includes(target)) out.push(target);
  }
  return out;
}

/**
 * The steps reachable from `start` (itself included), breadth-first: the order is the order a
 * reader follows the journey, which the compiler uses for states.
 */
export function breadthFirstOrder(start: string, steps: Steps): string[] {
  if (!Object.hasOwn(steps, start)) return [];
  const order: string[] = [start];
  const seen = new Set(order);
  for (let i = 0; i < order.length; i++) {
    const step = steps[order[i] ?? ''];
    if (step === undefined) continue;
    for (const next of successors(step, steps)) {
      if (!seen.has(next)) {
        seen.add(next);
        order.push(next);
      }
    }
  }
  return order;
}

export function reachableFrom(start: string, steps: Steps): Set<string> {
  return new Set(breadthFirstOrder(start, steps));
}

/**
 * The cycles of the step graph, one per back edge found by a depth-first search over every
 * step (in key order), each as the steps in order with the first repeated at the end
 * (`['a', 'b', 'a']`; `['a', 'a']` for a step leading to itself).
 */
export function findCycles(steps: Steps): string[][] {
  const state = new Map<string, 'active' | 'done'>();
  const cycles: string[][] = [];
  for (const root of Object.keys(steps)) {
    if (state.has(root)) continue;
    const path: string[] = [root];
    const frames: Array<{ id: string; next: string[]; at: number }> = [];
    const open = (id: string): void => {
      state.set(id, 'active');
      const step = steps[id];
      frames.push({ id, next: step === undefined ? [] : successors(step, steps), at: 0 });
    };
    open(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1];
      if (frame === undefined) break;
      const next = frame.next[frame.at++];
      if (next === undefined) {
        state.set(frame.id, 'done');
        frames.pop();
        path.pop();
        continue;
      }
      const seen = state.get(next);
      if (seen === 'active') {
        cycles.push([...path.slice(path.indexOf(next)), next]);
      } else if (seen === undefined) {
        path.push(next);
        open(next);
      }
    }
  }
  return cycles;
}

/**
 * The path from `start` along which `weight` (the longest a step can keep a run) adds up to
 * the most, and that sum. Only meaningful on an acyclic graph (a cycle's steps are counted
 * once).
 */
export function longestWaitPath(start: string, steps: Steps, weight: (step: JourneyStep) => number): { seconds: number; path: string[] } {
  // Longest path from each step to an end, in reverse topological order (post-order DFS).
  const best = new Map<string, { seconds: number; via: string | undefined }>();
  const frames: Array<{ id: string; next: string[]; at: number }> = [];
  const visiting = new Set<string>();
  const open = (id: string): void => {
    visiting.add(id);
    const step = steps[id];
    frames.push({ id, next: step === undefined ? [] : successors(step, steps), at: 0 });
  };
  if (Object.hasOwn(steps, start)) open(start);
  while (frames.length > 0) {
    const frame = frames[frames.length - 1];
    if (frame === undefined) break;
    const next = frame.next[frame.at++];
    if (next !== undefined) {
      if (!best.has(next) && !visiting.has(next)) open(next);
      continue;
    }
    frames.pop();
    const step = steps[frame.id];
    let tail = 0;
    let via: string | undefined;
    for (const successor of frame.next) {
      const candidate = best.get(successor)?.seconds ?? 0;
      if (via === undefined || candidate > tail) {
        tail = candidate;
        via = successor;
      }
    }
    best.set(frame.id, { seconds: (step === undefined ? 0 : weight(step)) + tail, via });
  }
  const path: string[] = [];
  for (let id: string | undefined = start; id !== undefined && !path.includes(id) && best.has(id); id = best.get(id)?.via) path.push(id);
  return { seconds: best.get(start)?.seconds ?? 0, path };
}
