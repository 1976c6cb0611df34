import fc from 'fast-check';
import { compileRule, type EvaluationEvent, type EvaluationInput } from '../../../shared/domain/audience/evaluate';
import { COUNT_OPS, parseRule, type Op, type Rule, type RuleValue, type Scalar, type WhereClause } from '../../../shared/domain/audience/rule';
import { parseRuleDuration, windowReaches } from '../../../shared/domain/audience/time';
import { refDate, referenceEvaluate, refWindowStart } from './reference-evaluator';

/**
 * The compiled evaluator against the naive reference, on random rules (bounded depth),
 * profiles (nested objects, numbers, strings, dates in several formats, arrays, missing and
 * null values) and event histories, with instants placed on window boundaries on purpose.
 */

const FC = { seed: 20_260_315, numRuns: 300 };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const TEN_YEARS = 3653 * DAY;

/** Evaluation instants, month ends and a leap day among them (calendar windows bite there). */
const NOWS = ['2026-03-15T12:00:00.000Z', '2026-03-31T10:00:00.000Z', '2026-03-29T00:00:00.000Z', '2026-01-31T23:59:59.999Z', '2024-02-29T12:00:00.000Z', '2026-03-01T00:00:00.000Z', '2026-12-31T18:30:00.000Z'].map(Date.parse);
const DURATIONS = ['PT30M', 'PT1H', 'PT1.5S', 'P1D', 'P7D', 'P1M', 'P2M', 'P1M1D', 'P1MT1H', 'P1Y'];
const EVENT_NAMES = ['A', 'B'];
const AUDIENCES = ['aud1', 'aud2'];
const TRAIT_PATHS = ['plan', 'age', 'signup', 'tags', 'address', 'address.city', 'address.since', 'address.geo.lat', 'tags.0', 'missing', 'address.missing'];
const PROPERTY_PATHS = ['total', 'sku', 'at', 'meta.kind', 'tags', 'missing'];
const STRINGS = ['pro', 'free', 'Pro', '', 'a', 'pr', 'o', 'zzz', '2026'];

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** The same instant (or its day) written in the formats traits and rules use. */
function formats(ms: number): fc.Arbitrary<string> {
  const iso = new Date(ms).toISOString();
  const plus2 = new Date(ms + 2 * HOUR);
  const withOffset = `${plus2.getUTCFullYear()}-${pad(plus2.getUTCMonth() + 1)}-${pad(plus2.getUTCDate())}T${pad(plus2.getUTCHours())}:${pad(plus2.getUTCMinutes())}:${pad(plus2.getUTCSeconds())}.${pad(plus2.getUTCMilliseconds(), 3)}+02:00`;
  return fc.constantFrom(iso, iso.slice(0, 10), `${iso.slice(0, 19)}Z`, iso.slice(0, 23), withOffset);
}

interface Arbitraries {
  instant: fc.Arbitrary<number>;
  date: fc.Arbitrary<string>;
  scalar: fc.Arbitrary<Scalar>;
  value: fc.Arbitrary<unknown>;
}

function arbitrariesAt(now: number): Arbitraries {
  const instant = fc.oneof(
    fc.integer({ min: now - 70 * DAY, max: now + 15 * DAY }),
    fc.integer({ min: now - 3 * DAY, max: now + DAY }),
    fc.integer({ min: now - 2 * HOUR, max: now + HOUR }),
    // On a window start, or a millisecond either side.
    fc.tuple(fc.constantFrom(...DURATIONS), fc.constantFrom(-1, 0, 1)).map(([duration, delta]) => refWindowStart(now, duration) + delta),
    fc.tuple(fc.integer({ min: -40, max: 10 }), fc.constantFrom(0, 1, -1)).map(([days, delta]) => now - (now % DAY) + days * DAY + delta),
    fc.constantFrom(now, now + 1, now - 1),
    fc.tuple(fc.constantFrom(...DURATIONS), fc.constantFrom(-1, 0, 1)).map(([duration, delta]) => refWindowStart(now, duration) + delta),
  );
  const date = instant.chain(formats);
  const scalar: fc.Arbitrary<Scalar> = fc.oneof(fc.constantFrom(...STRINGS), fc.integer({ min: -3, max: 3 }), fc.constantFrom(1.5, -0.5, 100), fc.boolean(), date);
  const value: fc.Arbitrary<unknown> = fc.oneof(
    { weight: 4, arbitrary: scalar },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 2, arbitrary: fc.array(scalar, { maxLength: 3 }) },
    { weight: 2, arbitrary: fc.record({ city: scalar, since: date, geo: fc.record({ lat: scalar }, { requiredKeys: [] }) }, { requiredKeys: [] }) },
  );
  return { instant, date, scalar, value };
}

function conditionAt(a: Arbitraries): fc.Arbitrary<{ op: Op; value?: RuleValue }> {
  const string = fc.constantFrom(...STRINGS);
  const orderable = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(1.5, 100), a.date);
  return fc.oneof(
    fc.constantFrom<Op>('exists', 'not_exists').map((op) => ({ op })),
    fc.tuple(fc.constantFrom<Op>('eq', 'neq', 'contains', 'not_contains'), a.scalar).map(([op, value]) => ({ op, value })),
    fc.tuple(fc.constantFrom<Op>('starts_with', 'ends_with'), string).map(([op, value]) => ({ op, value })),
    fc.tuple(fc.constantFrom<Op>('gt', 'gte', 'lt', 'lte'), orderable).map(([op, value]) => ({ op, value })),
    fc.tuple(fc.constantFrom<Op>('before', 'after'), a.date).map(([op, value]) => ({ op, value })),
    fc.tuple(fc.constantFrom<Op>('in', 'not_in'), fc.array(a.scalar, { minLength: 1, maxLength: 4 })).map(([op, value]) => ({ op, value })),
    fc.constantFrom(...DURATIONS).map((value) => ({ op: 'within_last' as const, value })),
  );
}

/**
 * Random rules. `timely` ones are made of time-dependent leaves only (windows, within_last on
 * date traits, future events), so that nextChangeAt is exercised often.
 */
function ruleAt(a: Arbitraries, timely: boolean): fc.Arbitrary<Rule> {
  const condition = conditionAt(a);
  const trait: fc.Arbitrary<Rule> = timely
    ? fc.tuple(fc.constantFrom('signup', 'address.since'), fc.constantFrom(...DURATIONS)).map(([path, value]) => ({ trait: path, op: 'within_last' as const, value }))
    : fc.tuple(fc.constantFrom(...TRAIT_PATHS), condition).map(([path, c]) => ({ trait: path, ...c }));
  const where: fc.Arbitrary<WhereClause> = fc.tuple(fc.constantFrom(...PROPERTY_PATHS), condition).map(([property, c]) => ({ property, ...c }));
  // Optional parts are left out rather than set to undefined, as parseRule returns them.
  const event: fc.Arbitrary<Rule> = fc
    .record({
      event: fc.constantFrom(...EVENT_NAMES),
      where: fc.option(fc.array(where, { minLength: 1, maxLength: 2 }), { freq: 2 }),
      count: fc.option(fc.record({ op: fc.constantFrom(...COUNT_OPS), value: fc.integer({ min: 0, max: 3 }) }), { freq: 2 }),
      // Without a window, future-dated events are what makes a count time-dependent.
      within: fc.option(fc.constantFrom(...DURATIONS), { freq: timely ? 3 : 4 }),
    })
    .map(({ event: name, where: clauses, count, within }) => ({
      event: name,
      ...(clauses === null ? {} : { where: clauses }),
      ...(count === null ? {} : { count }),
      ...(within === null ? {} : { within }),
    }));
  const audience: fc.Arbitrary<Rule> = fc.constantFrom(...AUDIENCES).map((id) => ({ audience: id }));
  const { rule } = fc.letrec<{ rule: Rule }>((tie) => ({
    rule: fc.oneof(
      { depthIdentifier: 'rule', maxDepth: 4 },
      { weight: 3, arbitrary: trait },
      { weight: 4, arbitrary: event },
      { weight: timely ? 0 : 1, arbitrary: audience },
      { weight: 2, arbitrary: fc.array(tie('rule'), { minLength: 1, maxLength: 3 }).map((all) => ({ all })) },
      { weight: 2, arbitrary: fc.array(tie('rule'), { minLength: 1, maxLength: 3 }).map((any) => ({ any })) },
      { weight: 2, arbitrary: tie('rule').map((not) => ({ not })) },
    ),
  }));
  return rule;
}

interface Scenario {
  now: number;
  rule: Rule;
  traits: Record<string, unknown>;
  events: EvaluationEvent[];
  members: string[];
  /** Fractions of [now, nextChangeAt) (or of the next ten years) to sample. */
  samples: number[];
}

function scenarioOf(timely: boolean): fc.Arbitrary<Scenario> {
  return fc.constantFrom(...NOWS).chain((now) => {
    const a = arbitrariesAt(now);
    const properties = fc.record({ total: a.scalar, sku: a.value, at: a.date, meta: fc.oneof(fc.record({ kind: a.scalar }, { requiredKeys: [] }), a.scalar), tags: fc.array(a.scalar, { maxLength: 3 }) }, { requiredKeys: [] });
    const events = fc
      .array(fc.record({ event: fc.constantFrom(...EVENT_NAMES), timestamp: a.instant, properties }), { maxLength: 10 })
      .map((list) => list.sort((x, y) => x.timestamp - y.timestamp).map((e) => ({ ...e, timestamp: new Date(e.timestamp).toISOString() })));
    const dated = timely ? a.date : fc.oneof(a.date, a.value);
    const traits = fc.record({ plan: a.value, age: a.value, signup: dated, tags: a.value, address: fc.oneof(a.value, fc.record({ since: dated })) }, { requiredKeys: [] });
    return fc.record({
      now: fc.constant(now),
      rule: ruleAt(a, timely),
      traits,
      events,
      members: fc.subarray(AUDIENCES),
      samples: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 3, maxLength: 3 }),
    });
  });
}

const scenario = fc.oneof(scenarioOf(false), scenarioOf(true));

/** Every duration the rule uses (event windows and within_last values). */
function durationsOf(rule: Rule, into = new Set<string>()): Set<string> {
  if ('all' in rule) rule.all.forEach((child) => durationsOf(child, into));
  else if ('any' in rule) rule.any.forEach((child) => durationsOf(child, into));
  else if ('not' in rule) durationsOf(rule.not, into);
  else if ('trait' in rule) {
    if (rule.op === 'within_last' && typeof rule.value === 'string') into.add(rule.value);
  } else if ('event' in rule) {
    if (rule.within !== undefined) into.add(rule.within);
    for (const clause of rule.where ?? []) if (clause.op === 'within_last' && typeof clause.value === 'string') into.add(clause.value);
  }
  return into;
}

function datesIn(value: unknown, into: number[]): number[] {
  const at = refDate(value);
  if (at !== undefined) into.push(at);
  else if (Array.isArray(value)) value.forEach((item) => datesIn(item, into));
  else if (typeof value === 'object' && value !== null) Object.values(value).forEach((item) => datesIn(item, into));
  return into;
}

/**
 * Where a result could flip: every event time and date in the profile, and the moments each
 * leaves each window of the rule, a millisecond either side included.
 */
function criticalInstants(s: Scenario): number[] {
  const dates = datesIn(s.traits, []);
  for (const event of s.events) {
    dates.push(Date.parse(event.timestamp));
    datesIn(event.properties, dates);
  }
  const durations = [...durationsOf(s.rule)].map((iso) => parseRuleDuration(iso)).filter((d) => d !== undefined);
  const instants: number[] = [];
  for (const x of dates) {
    instants.push(x);
    for (const d of durations) instants.push(windowReaches(x, d), windowReaches(x + 1, d));
  }
  return [...new Set(instants.flatMap((t) => [t - 1, t, t + 1]))];
}

function inputAt(s: Scenario, now: number): EvaluationInput {
  const members = new Set(s.members);
  return { traits: s.traits, eventsNamed: (name) => s.events.filter((e) => e.event === name), isMember: (id) => members.has(id), now: new Date(now) };
}

describe('compileRule (property)', () => {
  describe('when rules, profiles and histories are random', () => {
    it('agrees with the reference evaluator, at now and on every window boundary', () => {
      fc.assert(
        fc.property(scenario, (s) => {
          // Prepare
          expect(parseRule(s.rule)).toEqual({ ok: true, rule: s.rule });
          const compiled = compileRule(s.rule);
          for (const t of [s.now, ...criticalInstants(s)]) {
            const input = inputAt(s, t);
            // Act
            const result = compiled.evaluate(input);
            // Assess
            expect({ t: new Date(t).toISOString(), matches: result.matches }).toEqual({ t: new Date(t).toISOString(), matches: referenceEvaluate(s.rule, input) });
          }
        }),
        FC,
      );
    });

    it('keeps its result over [now, nextChangeAt), and forever when nextChangeAt is undefined', () => {
      fc.assert(
        fc.property(scenario, (s) => {
          // Prepare
          const compiled = compileRule(s.rule);
          // Act
          const result = compiled.evaluate(inputAt(s, s.now));
          // Assess
          const next = result.nextChangeAt?.getTime();
          if (next !== undefined) expect(next).toBeGreaterThan(s.now);
          const end = next ?? s.now + TEN_YEARS + 1; // the last instant checked is end − 1
          const sampled = [s.now, end - 1, ...s.samples.map((f) => Math.min(end - 1, s.now + Math.floor(f * (end - s.now))))];
          const instants = [...sampled, ...criticalInstants(s).filter((t) => t >= s.now && t < end)];
          for (const t of instants) {
            const input = inputAt(s, t);
            expect({ t: new Date(t).toISOString(), matches: referenceEvaluate(s.rule, input) }).toEqual({ t: new Date(t).toISOString(), matches: result.matches });
            expect(compiled.evaluate(input).matches).toBe(result.matches);
          }
        }),
        FC,
      );
    });

    it('reports a next change that a re-evaluation then moves forward', () => {
      fc.assert(
        fc.property(scenario, (s) => {
          // Prepare
          const compiled = compileRule(s.rule);
          const first = compiled.evaluate(inputAt(s, s.now)).nextChangeAt;
          fc.pre(first !== undefined);
          // Act: the recheck at the reported time
          const then = compiled.evaluate(inputAt(s, first?.getTime() ?? 0));
          // Assess
          if (then.nextChangeAt !== undefined) expect(then.nextChangeAt.getTime()).toBeGreaterThan(first?.getTime() ?? 0);
        }),
        FC,
      );
    });
  });
});
