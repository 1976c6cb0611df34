import '../../../infra/local/promise-polyfill';
import type { JourneyDefinition } from '../../../shared/domain/journey/definition';
import { compileJourneyWithMap } from '../../../statemachines/compile-journey';
import { OPTIONS } from './fixtures';
import { DEFAULT_INPUT, LocalJourney } from './run-local';

/**
 * aws-local-stepfunctions seeds `States.MathRandom` with `Date.now()` when no seed is given,
 * so two draws in the same millisecond are equal there (not on AWS). These tests make
 * `Date.now()` strictly increasing (never behind the real clock) so each run draws from its
 * own seed, as each execution does on AWS.
 */
function distinctMilliseconds(): jest.SpyInstance<number, []> {
  const realNow = Date.now.bind(Date);
  let last = 0;
  return jest.spyOn(Date, 'now').mockImplementation(() => {
    last = Math.max(last + 1, realNow());
    return last;
  });
}

describe('split steps, run 2,000 times', () => {
  const definition: JourneyDefinition = {
    name: 'Split test',
    entry: { event: 'Cart Abandoned' },
    start: 'split',
    steps: {
      split: {
        type: 'split',
        variants: [
          { name: 'A', percent: 45, next: 'a' },
          { name: 'B', percent: 45, next: 'b' },
          { name: 'Holdout', percent: 10, next: null },
        ],
      },
      a: { type: 'send', channel: 'email', template: 'tpl_a', next: 'later' },
      b: { type: 'send', channel: 'email', template: 'tpl_b', next: 'later' },
      later: { type: 'wait', duration: 'P1D', next: null },
    },
  };
  const compiled = compileJourneyWithMap(definition, OPTIONS);
  const local = new LocalJourney(compiled);
  const RUNS = 2000;
  let clock: jest.SpyInstance<number, []>;

  beforeAll(() => {
    clock = distinctMilliseconds();
  });
  afterAll(() => {
    clock.mockRestore();
  });

  it('sends each variant in proportion to its percent, and draws once per run', async () => {
    // Prepare
    const counts: Record<string, number> = { A: 0, B: 0, Holdout: 0 };
    const variantOf = (draw: number): string => (draw < 4500 ? 'A' : draw < 9000 ? 'B' : 'Holdout');
    // Act
    for (let i = 0; i < RUNS; i++) {
      const run = await local.run({}, DEFAULT_INPUT, `exec-${i}`);
      const draws = run.visited.filter((name) => name.startsWith('Draw:')).length;
      const draw = Number(JSON.stringify(run.output).match(/"draw":(\d+)/)?.[1]);
      const sent = run.messages.map((message) => JSON.stringify(message).match(/"templateId":"(tpl_\w)"/)?.[1]);
      const variant = sent[0] === 'tpl_a' ? 'A' : sent[0] === 'tpl_b' ? 'B' : 'Holdout';
      // Assess (each run): one draw, kept in the run's data, and the variant it names is the one that ran.
      expect({ draws, variant, sentCount: sent.length }).toEqual({ draws: 1, variant: variantOf(draw), sentCount: variant === 'Holdout' ? 0 : 1 });
      counts[variant] = (counts[variant] ?? 0) + 1;
    }
    // Assess: within about 4.5 standard deviations (σ ≈ 1.1 points at 45 %, 0.7 at 10 %).
    expect(Math.abs((counts.A ?? 0) / RUNS - 0.45)).toBeLessThan(0.05);
    expect(Math.abs((counts.B ?? 0) / RUNS - 0.45)).toBeLessThan(0.05);
    expect(Math.abs((counts.Holdout ?? 0) / RUNS - 0.1)).toBeLessThan(0.03);
  });

  it('keeps a run\'s variant for the rest of the run: the draw is made once and read again later', async () => {
    // Prepare: a split, then more steps after the variant was chosen.
    const twice: JourneyDefinition = {
      name: 'Variant kept',
      entry: { event: 'E' },
      start: 's',
      steps: {
        s: { type: 'split', variants: [{ name: 'A', percent: 50, next: 'w' }, { name: 'B', percent: 50, next: 'w' }] },
        w: { type: 'wait', duration: 'P1D', next: 'x' },
        x: { type: 'send', channel: 'email', template: 'tpl_x', next: null },
      },
    };
    const runner = new LocalJourney(compileJourneyWithMap(twice, OPTIONS));
    // Act
    const runs = [];
    for (let i = 0; i < 50; i++) runs.push(await runner.run({}, DEFAULT_INPUT, `kept-${i}`));
    // Assess: the draw stored at the split is still there, unchanged, when the run ends.
    for (const run of runs) {
      expect(run.visited.filter((name) => name.startsWith('Draw:'))).toHaveLength(1);
      expect(run.output).toMatchObject({ split: { s: { draw: expect.any(Number) } } });
    }
    const draws = new Set(runs.map((run) => JSON.stringify(run.output)));
    expect(draws.size).toBeGreaterThan(40);
  });
});
