import '../../../infra/local/promise-polyfill';
import fc from 'fast-check';
import { validateJourney, WEEKDAYS, type JourneyDefinition, type JourneyStep, type SplitStep } from '../../../shared/domain/journey/definition';
import { compileJourneyWithMap } from '../../../statemachines/compile-journey';
import { OPTIONS, RUN_TABLE, RESOURCES } from './fixtures';
import { DEFAULT_INPUT, LocalJourney, type HoldOutcome, type RunScript } from './run-local';

/**
 * Random valid journeys (2–8 steps, every edge pointing forward, so acyclic) compile to ASL
 * that asl-validator accepts, and a run with scripted branch and hold outcomes goes through
 * exactly the steps the definition says. The expected path is walked on the definition here,
 * without the compiler: only the split draw is read from the run (it is random), and the
 * variant it selects is worked out from the percents.
 */

/** Ids that need bracket paths too (`2b`, `a-1`). */
const IDS = ['start', 'a-1', '2b', 'c_3', 'D4', 'e-5', 'f_6', 'g7'] as const;
const TEMPLATES = ['tpl_a', 'tpl_b', 'tpl_c'] as const;
const PERCENTS: number[][] = [[50, 50], [30, 70], [0, 100], [34, 33, 33], [10, 0, 90], [45, 45, 10]];

type Target = number | null;

function target(i: number, n: number): fc.Arbitrary<Target> {
  return i >= n - 1 ? fc.constant(null) : fc.option(fc.integer({ min: i + 1, max: n - 1 }), { nil: null, freq: 4 });
}

/** One step at position `i` of `n`, with targets as positions (resolved to ids later). */
type GenStep =
  | { kind: 'wait'; duration: string; next: Target }
  | { kind: 'wait_until'; time: string; timezone: string; weekdays: Array<(typeof WEEKDAYS)[number]> | null; next: Target }
  | { kind: 'hold_until'; timeout: string; match: boolean; next: Target; timeoutNext: Target }
  | { kind: 'branch'; branches: Target[]; default: Target }
  | { kind: 'split'; percents: number[]; targets: Target[] }
  | { kind: 'send'; channel: 'email' | 'sms'; template: string; next: Target }
  | { kind: 'exit' };

function stepArbitrary(i: number, n: number): fc.Arbitrary<GenStep> {
  const t = target(i, n);
  return fc.oneof(
    fc.record({ kind: fc.constant('wait' as const), duration: fc.constantFrom('PT1M', 'P1D', 'P1M', 'PT1H30M'), next: t }),
    fc.record({
      kind: fc.constant('wait_until' as const),
      time: fc.constantFrom('09:00', '18:30'),
      timezone: fc.constantFrom('user', 'Europe/Paris', 'America/New_York'),
      weekdays: fc.option(fc.subarray([...WEEKDAYS], { minLength: 1 }), { nil: null }),
      next: t,
    }),
    fc.record({ kind: fc.constant('hold_until' as const), timeout: fc.constantFrom('PT1H', 'P2D'), match: fc.boolean(), next: t, timeoutNext: t }),
    fc.record({ kind: fc.constant('branch' as const), branches: fc.array(t, { minLength: 1, maxLength: 3 }), default: t }),
    fc.constantFrom(...PERCENTS).chain((percents) => fc.record({ kind: fc.constant('split' as const), percents: fc.constant(percents), targets: fc.tuple(...percents.map(() => t)) })),
    fc.record({ kind: fc.constant('send' as const), channel: fc.constantFrom('email' as const, 'sms' as const), template: fc.constantFrom(...TEMPLATES), next: t }),
    fc.constant({ kind: 'exit' as const }),
  );
}

const journeyArbitrary = fc.integer({ min: 2, max: 8 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => stepArbitrary(i, n))));

function toStep(gen: GenStep): JourneyStep {
  const id = (position: Target): string | null => (position === null ? null : (IDS[position] ?? null));
  switch (gen.kind) {
    case 'wait':
      return { type: 'wait', duration: gen.duration, next: id(gen.next) };
    case 'wait_until':
      return { type: 'wait_until', time: gen.time, timezone: gen.timezone, ...(gen.weekdays === null ? {} : { weekdays: gen.weekdays }), next: id(gen.next) };
    case 'hold_until':
      return { type: 'hold_until', event: 'Order Completed', ...(gen.match ? { match: ['cartId'] } : {}), timeout: gen.timeout, next: id(gen.next), timeoutNext: id(gen.timeoutNext) };
    case 'branch':
      return {
        type: 'branch',
        branches: gen.branches.map((next, k) => ({ name: `Rule ${k}`, rule: { trait: 'plan', op: 'eq', value: `p${k}` }, next: id(next) })),
        default: id(gen.default),
      };
    case 'split':
      return { type: 'split', variants: gen.percents.map((percent, k) => ({ name: `V${k}`, percent, next: id(gen.targets[k] ?? null) })) };
    case 'send':
      return { type: 'send', channel: gen.channel, template: gen.template, next: id(gen.next) };
    case 'exit':
      return { type: 'exit' };
  }
}

/** The definition, keeping only the steps reachable from the first (so every step is reachable). */
function toDefinition(generated: GenStep[]): JourneyDefinition {
  const all: Record<string, JourneyStep> = {};
  generated.forEach((gen, i) => (all[IDS[i] ?? `s${i}`] = toStep(gen)));
  const keep = new Set<string>(['start']);
  const queue = ['start'];
  for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
    const step = all[id];
    const next: Array<string | null> =
      step === undefined
        ? []
        : step.type === 'branch'
          ? [...step.branches.map((b) => b.next), step.default]
          : step.type === 'split'
            ? step.variants.map((v) => v.next)
            : step.type === 'hold_until'
              ? [step.next, step.timeoutNext]
              : step.type === 'exit'
                ? []
                : [step.next];
    for (const n of next) {
      if (n !== null && !keep.has(n)) {
        keep.add(n);
        queue.push(n);
      }
    }
  }
  const steps: Record<string, JourneyStep> = {};
  for (const id of Object.keys(all)) {
    const step = all[id];
    if (keep.has(id) && step !== undefined) steps[id] = step;
  }
  return { name: 'Generated', entry: { event: 'Cart Abandoned' }, start: 'start', steps };
}

/** The variant a draw in [0, 10000] selects: the first whose cumulative range holds it, else the last with a share. */
function variantFor(step: SplitStep, draw: number): string | null {
  let upTo = 0;
  for (const variant of step.variants) {
    upTo += variant.percent * 100;
    if (draw < upTo) return variant.next;
  }
  const last = [...step.variants].reverse().find((variant) => variant.percent > 0);
  return last?.next ?? null;
}

/** Walks the definition: the steps a run goes through (then `null` when it ends by a `next: null`). */
function expectedPath(definition: JourneyDefinition, script: RunScript, draws: Record<string, number>): Array<string | null> {
  const path: Array<string | null> = [];
  let at: string | null = definition.start;
  while (at !== null) {
    const id: string = at;
    path.push(id);
    const step: JourneyStep | undefined = definition.steps[id];
    if (step === undefined) throw new Error(`no step ${id}`);
    if (step.type === 'exit') return path;
    switch (step.type) {
      case 'wait':
      case 'wait_until':
      case 'send':
        at = step.next;
        break;
      case 'hold_until':
        at = (script.holds?.[id] ?? 'event') === 'event' ? step.next : step.timeoutNext;
        break;
      case 'branch': {
        const index: number = script.branches?.[id] ?? -1;
        const taken: { next: string | null } | undefined = step.branches[index];
        at = taken === undefined ? step.default : taken.next;
        break;
      }
      case 'split': {
        const draw = draws[id];
        if (draw === undefined) throw new Error(`no draw for ${id}`);
        at = variantFor(step, draw);
        break;
      }
    }
  }
  path.push(null);
  return path;
}

function drawsOf(output: unknown): Record<string, number> {
  const split = typeof output === 'object' && output !== null && 'split' in output ? output.split : undefined;
  const draws: Record<string, number> = {};
  if (typeof split === 'object' && split !== null) {
    for (const [id, value] of Object.entries(split)) {
      const draw: unknown = typeof value === 'object' && value !== null && 'draw' in value ? value.draw : undefined;
      if (typeof draw === 'number') draws[id] = draw;
    }
  }
  return draws;
}

const scriptArbitrary = fc.record({
  branches: fc.dictionary(fc.constantFrom(...IDS), fc.integer({ min: -1, max: 2 })),
  holds: fc.dictionary(fc.constantFrom(...IDS), fc.constantFrom<HoldOutcome>('event', 'simulated-timeout')),
  record: fc.boolean(),
});

describe('compileJourney on random journeys', () => {
  it('compiles valid ASL whose runs follow the path the definition gives', async () => {
    await fc.assert(
      fc.asyncProperty(journeyArbitrary, scriptArbitrary, async (generated, { branches, holds, record }) => {
        // Prepare
        const definition = toDefinition(generated);
        const script: RunScript = { branches, holds };
        expect(validateJourney(definition, { templateExists: () => true, audienceExists: () => true })).toEqual([]);
        // Act
        const compiled = compileJourneyWithMap(definition, { ...OPTIONS, resources: record ? { ...RESOURCES, runTableName: RUN_TABLE } : RESOURCES });
        const local = new LocalJourney(compiled);
        const run = await local.run(script, DEFAULT_INPUT, 'exec-prop');
        // Assess
        expect(local.aslErrors).toEqual([]);
        expect(run.status).toBe('succeeded');
        const expected = expectedPath(definition, script, drawsOf(run.output));
        expect(run.steps).toEqual(expected);
        const sends = expected.flatMap((id) => {
          const step = id === null ? undefined : definition.steps[id];
          return step?.type === 'send' ? [step.template] : [];
        });
        expect(run.messages.map((message) => (typeof message === 'object' && message !== null && 'templateId' in message ? message.templateId : undefined))).toEqual(sends);
      }),
      { numRuns: 100 },
    );
  });
});
