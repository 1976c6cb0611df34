import { compileRule, entriesToFlip, exitsToFlip, type EvaluationEvent, type EvaluationInput, type EvaluationResult } from '../../../shared/domain/audience/evaluate';
import { COUNT_OPS, parseRule, type Op, type Rule, type RuleValue } from '../../../shared/domain/audience/rule';
import { referenceEvaluate } from './reference-evaluator';

const NOW = '2026-03-15T12:00:00.000Z';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Profile {
  traits?: Record<string, unknown>;
  events?: Array<{ event: string; timestamp: string; properties?: Record<string, unknown> }>;
  members?: string[];
}

function inputOf(profile: Profile, now: string | number): EvaluationInput {
  const events: EvaluationEvent[] = (profile.events ?? [])
    .map((e) => ({ event: e.event, timestamp: new Date(e.timestamp).toISOString(), properties: e.properties ?? {} }))
    .sort((a, b) => a.timestamp.localeCompare(b.timestamp));
  const members = new Set(profile.members ?? []);
  return { traits: profile.traits ?? {}, eventsNamed: (name) => events.filter((e) => e.event === name), isMember: (id) => members.has(id), now: new Date(now) };
}

/** Evaluates with the compiled rule, after checking that the rule is valid and that the reference agrees. */
function evaluate(rule: Rule, profile: Profile, now: string | number = NOW): EvaluationResult {
  expect(parseRule(rule)).toEqual({ ok: true, rule });
  const input = inputOf(profile, now);
  const result = compileRule(rule).evaluate(input);
  expect(referenceEvaluate(rule, input)).toBe(result.matches);
  return result;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

const at = (offsetMs: number): string => iso(Date.parse(NOW) + offsetMs);

describe('compileRule', () => {
  describe('when a trait is compared', () => {
    it.each<[Op, RuleValue | undefined, unknown, boolean]>([
      ['eq', 'pro', 'pro', true],
      ['eq', 'pro', 'Pro', false],
      ['eq', 3, 3, true],
      ['eq', 3, '3', false],
      ['eq', true, true, true],
      ['eq', true, 'true', false],
      ['eq', '2026-01-02', '2026-01-02T00:00:00Z', true],
      ['eq', '2026-01-02', '2026-01-02T01:00:00+01:00', true],
      ['eq', '2026-01-02', '2026-01-02T00:00:00.001Z', false],
      ['eq', 'pro', ['pro'], false],
      ['neq', 'pro', 'free', true],
      ['neq', 'pro', 'pro', false],
      ['neq', 3, '3', true],
      ['neq', '2026-01-02', '2026-01-02T00:00:00Z', false],
      ['gt', 5, 6, true],
      ['gt', 5, 5, false],
      ['gt', 5, '6', false],
      ['gt', '2026-01-01T12:00:00Z', '2026-01-02', true],
      ['gt', '2026-01-02', '2026-01-01T12:00:00Z', false],
      ['gt', '2026-01-01', 'zzz', false],
      ['gt', '2026-01-01', 1_767_225_600_001, false],
      ['gte', 5, 5, true],
      ['gte', '2026-01-02', '2026-01-02T00:00:00Z', true],
      ['lt', 5, 4.5, true],
      ['lt', 5, -Infinity, true],
      ['lt', '2026-01-02', '2026-01-01T12:00:00Z', true],
      ['lte', 5, 5, true],
      ['lte', '2026-01-01T12:00:00Z', '2026-01-02', false],
      ['before', '2026-01-02', '2026-01-01T12:00:00Z', true],
      ['before', '2026-01-02', '2026-01-02', false],
      ['before', '2026-01-02', 'soon', false],
      ['before', '2026-01-02', 0, false],
      ['after', '2026-01-01T12:00:00Z', '2026-01-02', true],
      ['after', '2026-01-01T12:00:00Z', '2026-01-01T13:00:00+01:00', false],
      ['contains', 'lo w', 'hello world', true],
      ['contains', 'LO', 'hello', false],
      ['contains', 'b', ['a', 'b'], true],
      ['contains', 'b', ['abc'], false],
      ['contains', 2, [1, 2], true],
      ['contains', 2, '123', false],
      ['contains', true, [false, true], true],
      ['contains', '2026-01-01', ['2026-01-01T00:00:00Z'], true],
      ['contains', 'x', { x: 1 }, false],
      ['not_contains', 'x', 'abc', true],
      ['not_contains', 'b', ['a', 'b'], false],
      ['not_contains', 'x', 42, true],
      ['starts_with', 'he', 'hello', true],
      ['starts_with', 'lo', 'hello', false],
      ['starts_with', '1', 12, false],
      ['ends_with', 'lo', 'hello', true],
      ['ends_with', '@x.co', ['a@x.co'], false],
      ['in', ['FR', 'DE'], 'FR', true],
      ['in', ['FR', 'DE'], 'fr', false],
      ['in', [1, 2, 3], 3, true],
      ['in', [3], '3', false],
      ['in', ['FR'], ['FR'], false],
      ['in', ['2026-01-02', 'x'], '2026-01-02T00:00:00Z', true],
      ['not_in', ['FR', 'DE'], 'US', true],
      ['not_in', ['FR', 'DE'], 'DE', false],
      ['exists', undefined, 0, true],
      ['exists', undefined, '', true],
      ['exists', undefined, false, true],
      ['exists', undefined, [], true],
      ['not_exists', undefined, 0, false],
      ['within_last', 'P7D', '2026-03-10', true],
      ['within_last', 'P7D', '2026-03-08T12:00:00Z', true],
      ['within_last', 'P7D', '2026-03-08T11:59:59.999Z', false],
      ['within_last', 'P7D', NOW, true],
      ['within_last', 'P7D', '2026-03-15T12:00:00.001Z', false],
      ['within_last', 'P1M', '2026-02-15T12:00:00Z', true],
      ['within_last', 'P1M', '2026-02-15T11:59:59Z', false],
      ['within_last', 'P7D', 'last week', false],
      ['within_last', 'P7D', 1_773_576_000_000, false],
    ])('%s %j against %j → %s', (op, value, trait, expected) => {
      // Prepare
      const rule: Rule = value === undefined ? { trait: 't', op } : { trait: 't', op, value };
      // Act
      const result = evaluate(rule, { traits: { t: trait } });
      // Assess
      expect(result.matches).toBe(expected);
    });
  });

  describe('when the trait is missing', () => {
    it.each<[Op, RuleValue | undefined, boolean]>([
      ['exists', undefined, false],
      ['not_exists', undefined, true],
      ['neq', 'x', true],
      ['not_in', ['x'], true],
      ['not_contains', 'x', true],
      ['eq', 'x', false],
      ['gt', 1, false],
      ['gte', '2026-01-01', false],
      ['lt', 1, false],
      ['lte', 1, false],
      ['contains', 'x', false],
      ['starts_with', 'x', false],
      ['ends_with', 'x', false],
      ['in', ['x'], false],
      ['before', '2026-01-01', false],
      ['after', '2026-01-01', false],
      ['within_last', 'P1D', false],
    ])('%s → %s, whether absent or null', (op, value, expected) => {
      // Prepare
      const rule: Rule = value === undefined ? { trait: 't', op } : { trait: 't', op, value };
      // Act
      const absent = evaluate(rule, { traits: {} });
      const nulled = evaluate(rule, { traits: { t: null } });
      // Assess
      expect(absent).toEqual({ matches: expected });
      expect(nulled).toEqual({ matches: expected });
    });
  });

  describe('when a trait path is dotted', () => {
    it.each<[string, Record<string, unknown>, boolean]>([
      ['reads nested objects', { address: { city: 'Paris' } }, true],
      ['is missing under a missing object', {}, false],
      ['is missing under a string', { address: 'Paris' }, false],
      ['is missing under null', { address: null }, false],
      ['does not read a flat key containing the dot', { 'address.city': 'Paris' }, false],
    ])('%s', (_name, traits, expected) => {
      expect(evaluate({ trait: 'address.city', op: 'eq', value: 'Paris' }, { traits }).matches).toBe(expected);
    });

    it('indexes arrays by position', () => {
      expect(evaluate({ trait: 'tags.1', op: 'eq', value: 'b' }, { traits: { tags: ['a', 'b'] } }).matches).toBe(true);
    });

    it('does not read inherited properties', () => {
      expect(evaluate({ trait: 'constructor', op: 'exists' }, { traits: {} }).matches).toBe(false);
      expect(evaluate({ trait: 'a.toString', op: 'exists' }, { traits: { a: {} } }).matches).toBe(false);
    });
  });

  describe('when an event is counted', () => {
    const orders = (...offsets: number[]) => offsets.map((offset, i) => ({ event: 'Order', timestamp: at(offset), properties: { total: (i + 1) * 50, items: { sku: `s${i}` } } }));

    it.each<[string, Rule, Profile['events'], boolean]>([
      ['performed once', { event: 'Order' }, orders(-DAY), true],
      ['never performed', { event: 'Order' }, [], false],
      ['only other events', { event: 'Order' }, [{ event: 'Signup', timestamp: at(-DAY) }], false],
      ['only dated in the future', { event: 'Order' }, orders(HOUR), false],
      ['performed now', { event: 'Order', within: 'P1D' }, orders(0), true],
      ['exactly at the window start', { event: 'Order', within: 'P1D' }, orders(-DAY), false],
      ['1 ms after the window start', { event: 'Order', within: 'P1D' }, orders(-DAY + 1), true],
      ['a calendar month ago', { event: 'Order', within: 'P1M' }, [{ event: 'Order', timestamp: '2026-02-15T12:00:00.001Z' }], true],
      ['just over a calendar month ago', { event: 'Order', within: 'P1M' }, [{ event: 'Order', timestamp: '2026-02-15T12:00:00.000Z' }], false],
      ['gte 2 with 2', { event: 'Order', count: { op: 'gte', value: 2 } }, orders(-2 * DAY, -DAY), true],
      ['gte 2 with 1', { event: 'Order', count: { op: 'gte', value: 2 } }, orders(-DAY), false],
      ['gt 1 with 2', { event: 'Order', count: { op: 'gt', value: 1 } }, orders(-2 * DAY, -DAY), true],
      ['gt 1 with 1', { event: 'Order', count: { op: 'gt', value: 1 } }, orders(-DAY), false],
      ['eq 2 with 2', { event: 'Order', count: { op: 'eq', value: 2 } }, orders(-2 * DAY, -DAY), true],
      ['eq 2 with 3', { event: 'Order', count: { op: 'eq', value: 2 } }, orders(-3 * DAY, -2 * DAY, -DAY), false],
      ['lte 1 with 1', { event: 'Order', count: { op: 'lte', value: 1 } }, orders(-DAY), true],
      ['lte 1 with 2', { event: 'Order', count: { op: 'lte', value: 1 } }, orders(-2 * DAY, -DAY), false],
      ['lt 1 with none', { event: 'Order', count: { op: 'lt', value: 1 } }, [], true],
      ['eq 0 with one outside the window', { event: 'Order', count: { op: 'eq', value: 0 }, within: 'P1D' }, orders(-2 * DAY), true],
      ['gte 2 within P7D with one outside', { event: 'Order', count: { op: 'gte', value: 2 }, within: 'P7D' }, orders(-8 * DAY, -DAY), false],
      ['where total ≥ 100', { event: 'Order', where: [{ property: 'total', op: 'gte', value: 100 }] }, orders(-2 * DAY, -DAY), true],
      ['where total ≥ 200', { event: 'Order', where: [{ property: 'total', op: 'gte', value: 200 }] }, orders(-2 * DAY, -DAY), false],
      ['where on a dotted property', { event: 'Order', where: [{ property: 'items.sku', op: 'eq', value: 's1' }] }, orders(-2 * DAY, -DAY), true],
      ['where a property is missing', { event: 'Order', where: [{ property: 'coupon', op: 'not_exists' }] }, orders(-DAY), true],
      ['where every clause holds', { event: 'Order', where: [{ property: 'total', op: 'gt', value: 60 }, { property: 'items.sku', op: 'eq', value: 's0' }] }, orders(-2 * DAY, -DAY), false],
      ['where clauses and count', { event: 'Order', where: [{ property: 'total', op: 'in', value: [50, 150] }], count: { op: 'eq', value: 2 } }, orders(-3 * DAY, -2 * DAY, -DAY), true],
    ])('%s', (_name, rule, events, expected) => {
      expect(evaluate(rule, { events }).matches).toBe(expected);
    });

    it.each<[Op, RuleValue | undefined, unknown, boolean]>([
      ['eq', 'EUR', 'EUR', true],
      ['neq', 'EUR', 'USD', true],
      ['gt', 10, 11, true],
      ['lt', '2026-03-01', '2026-02-28T23:00:00Z', true],
      ['contains', 'sale', 'summer-sale', true],
      ['not_contains', 'x', ['y'], true],
      ['starts_with', 'SKU-', 'SKU-1', true],
      ['ends_with', '.pdf', 'a.doc', false],
      ['in', ['EUR', 'USD'], 'GBP', false],
      ['not_in', ['EUR'], 'GBP', true],
      ['exists', undefined, 'x', true],
      ['not_exists', undefined, 'x', false],
      ['before', '2026-03-01', '2026-02-01', true],
      ['after', '2026-03-01', '2026-02-01', false],
      ['within_last', 'P1D', '2026-03-15T00:00:00Z', true],
    ])('where %s %j against %j → %s', (op, value, property, expected) => {
      // Prepare
      const clause = value === undefined ? { property: 'p', op } : { property: 'p', op, value };
      const rule: Rule = { event: 'E', where: [clause] };
      // Act
      const result = evaluate(rule, { events: [{ event: 'E', timestamp: at(-HOUR), properties: { p: property } }] });
      // Assess
      expect(result.matches).toBe(expected);
    });
  });

  describe('when the rule is {"not": {"event": "X", "within": "P1D"}} (did not perform X in the last day)', () => {
    const rule: Rule = { not: { event: 'X', within: 'P1D' } };

    it('matches a user who never performed X, for good', () => {
      expect(evaluate(rule, { events: [] })).toEqual({ matches: true });
    });

    it('matches a user who performed X only before the last day, for good', () => {
      expect(evaluate(rule, { events: [{ event: 'X', timestamp: at(-DAY - 1) }] })).toEqual({ matches: true });
    });

    it('does not match a user who performed X an hour ago, until the event leaves the window', () => {
      // Prepare
      const profile = { events: [{ event: 'X', timestamp: at(-HOUR) }] };
      // Act
      const now = evaluate(rule, profile);
      const justBefore = evaluate(rule, profile, (now.nextChangeAt?.getTime() ?? 0) - 1);
      const then = evaluate(rule, profile, now.nextChangeAt?.toISOString());
      // Assess: the user enters the audience at the moment X leaves the window
      expect(now).toEqual({ matches: false, nextChangeAt: new Date(at(-HOUR + DAY)) });
      expect(justBefore.matches).toBe(false);
      expect(then).toEqual({ matches: true });
    });

    it('leaves the audience when an X dated in the future comes, and enters again a day later', () => {
      // Prepare
      const profile = { events: [{ event: 'X', timestamp: at(HOUR) }] };
      // Act
      const now = evaluate(rule, profile);
      const arrived = evaluate(rule, profile, at(HOUR));
      const gone = evaluate(rule, profile, at(HOUR + DAY));
      // Assess
      expect(now).toEqual({ matches: true, nextChangeAt: new Date(at(HOUR)) });
      expect(arrived).toEqual({ matches: false, nextChangeAt: new Date(at(HOUR + DAY)) });
      expect(gone).toEqual({ matches: true });
    });
  });

  describe('when time passes with no new data', () => {
    it('exits a user whose only qualifying event leaves the window', () => {
      // Prepare
      const rule: Rule = { event: 'Order', within: 'P7D' };
      const profile = { events: [{ event: 'Order', timestamp: at(-6 * DAY) }] };
      // Act
      const now = evaluate(rule, profile);
      const later = evaluate(rule, profile, now.nextChangeAt?.toISOString());
      // Assess
      expect(now).toEqual({ matches: true, nextChangeAt: new Date(at(DAY)) });
      expect(later).toEqual({ matches: false });
    });

    it('reports the exit of the event that brings the count below the threshold', () => {
      // Prepare: 3 orders, at least 2 needed: the result flips when the second oldest leaves
      const rule: Rule = { event: 'Order', within: 'P7D', count: { op: 'gte', value: 2 } };
      const profile = { events: [-6, -5, -1].map((d) => ({ event: 'Order', timestamp: at(d * DAY) })) };
      // Act
      const result = evaluate(rule, profile);
      // Assess
      expect(result).toEqual({ matches: true, nextChangeAt: new Date(at(2 * DAY)) });
      expect(evaluate(rule, profile, at(2 * DAY) ).matches).toBe(false);
      expect(evaluate(rule, profile, at(2 * DAY - 1)).matches).toBe(true);
    });

    it('reports the exit of the first matching event only (where clauses)', () => {
      // Prepare
      const rule: Rule = { event: 'Order', within: 'P7D', where: [{ property: 'total', op: 'gt', value: 100 }] };
      const profile = { events: [{ event: 'Order', timestamp: at(-6 * DAY), properties: { total: 5 } }, { event: 'Order', timestamp: at(-4 * DAY), properties: { total: 500 } }] };
      // Act / Assess
      expect(evaluate(rule, profile)).toEqual({ matches: true, nextChangeAt: new Date(at(3 * DAY)) });
    });

    it('follows calendar months across a month end', () => {
      // Prepare: within P1M, an order on 1 March 00:00:00.001 leaves the window at 1 April
      const rule: Rule = { event: 'Order', within: 'P1M' };
      const profile = { events: [{ event: 'Order', timestamp: '2026-03-01T00:00:00.001Z' }] };
      // Act
      const result = evaluate(rule, profile, '2026-03-20T00:00:00Z');
      // Assess
      expect(result).toEqual({ matches: true, nextChangeAt: new Date('2026-04-01T00:00:00.001Z') });
      expect(evaluate(rule, profile, '2026-04-01T00:00:00.000Z').matches).toBe(true);
      expect(evaluate(rule, profile, '2026-04-01T00:00:00.001Z').matches).toBe(false);
    });

    it('lets an order of 1 March 00:00 leave P1M on 29 March, when the month before is February', () => {
      // Prepare
      const rule: Rule = { event: 'Order', within: 'P1M' };
      const profile = { events: [{ event: 'Order', timestamp: '2026-03-01T00:00:00.000Z' }] };
      // Act
      const result = evaluate(rule, profile, '2026-03-20T00:00:00Z');
      // Assess
      expect(result).toEqual({ matches: true, nextChangeAt: new Date('2026-03-29T00:00:00.000Z') });
      expect(evaluate(rule, profile, '2026-03-29T00:00:00.000Z')).toEqual({ matches: false });
    });

    it('moves a within_last trait out of its window', () => {
      // Prepare
      const rule: Rule = { trait: 'lastSeenAt', op: 'within_last', value: 'P7D' };
      const profile = { traits: { lastSeenAt: at(-DAY) } };
      // Act
      const result = evaluate(rule, profile);
      // Assess: still in at exactly date + 7 days (inclusive), out 1 ms later
      expect(result).toEqual({ matches: true, nextChangeAt: new Date(Date.parse(at(6 * DAY)) + 1) });
      expect(evaluate(rule, profile, at(6 * DAY)).matches).toBe(true);
      expect(evaluate(rule, profile, Date.parse(at(6 * DAY)) + 1)).toEqual({ matches: false });
    });

    it('moves a within_last trait dated in the future into its window when the date comes', () => {
      // Prepare
      const rule: Rule = { trait: 'renewsAt', op: 'within_last', value: 'PT1H' };
      // Act / Assess
      expect(evaluate(rule, { traits: { renewsAt: at(DAY) } })).toEqual({ matches: false, nextChangeAt: new Date(at(DAY)) });
    });

    it('reports a change of a within_last where clause', () => {
      // Prepare: an order whose delivery date is within the last day
      const rule: Rule = { event: 'Order', where: [{ property: 'deliveredAt', op: 'within_last', value: 'P1D' }] };
      const profile = { events: [{ event: 'Order', timestamp: at(-2 * DAY), properties: { deliveredAt: at(-HOUR) } }] };
      // Act
      const result = evaluate(rule, profile);
      // Assess
      expect(result).toEqual({ matches: true, nextChangeAt: new Date(Date.parse(at(DAY - HOUR)) + 1) });
    });

    it('reports no change for dates compared with fixed dates', () => {
      expect(evaluate({ trait: 'signup', op: 'before', value: '2027-01-01' }, { traits: { signup: '2026-01-01' } })).toEqual({ matches: true });
    });

    it('reports the k-th future event of a windowless count', () => {
      // Prepare
      const rule: Rule = { event: 'Order', count: { op: 'gte', value: 3 } };
      const profile = { events: [-1, 1, 2, 3].map((d) => ({ event: 'Order', timestamp: at(d * DAY) })) };
      // Act / Assess
      expect(evaluate(rule, profile)).toEqual({ matches: false, nextChangeAt: new Date(at(2 * DAY)) });
    });
  });

  describe('when children combine', () => {
    const recent: Rule = { event: 'Order', within: 'P1D' };
    const profile = { traits: { plan: 'pro' }, events: [{ event: 'Order', timestamp: at(-HOUR) }] };

    it('all that fails for good reports no change, whatever its other children', () => {
      expect(evaluate({ all: [recent, { trait: 'plan', op: 'eq', value: 'free' }] }, profile)).toEqual({ matches: false });
    });

    it('all that holds changes with its first child to change', () => {
      expect(evaluate({ all: [recent, { trait: 'plan', op: 'eq', value: 'pro' }] }, profile)).toEqual({ matches: true, nextChangeAt: new Date(at(DAY - HOUR)) });
    });

    it('any that holds for good reports no change', () => {
      expect(evaluate({ any: [recent, { trait: 'plan', op: 'eq', value: 'pro' }] }, profile)).toEqual({ matches: true });
    });

    it('any that fails changes with its first child to change', () => {
      expect(evaluate({ any: [{ not: recent }, { trait: 'plan', op: 'eq', value: 'free' }] }, profile)).toEqual({ matches: false, nextChangeAt: new Date(at(DAY - HOUR)) });
    });

    it('all that fails changes no earlier than its last failing child to change', () => {
      // Prepare: both fail now; the first can change in 23 h, the second in 2 days
      const rule: Rule = { all: [{ not: recent }, { trait: 'renewsAt', op: 'within_last', value: 'P1D' }] };
      // Act / Assess
      expect(evaluate(rule, { ...profile, traits: { renewsAt: at(2 * DAY) } })).toEqual({ matches: false, nextChangeAt: new Date(at(2 * DAY)) });
    });
  });

  describe('when the rule references other audiences', () => {
    const rule: Rule = { all: [{ audience: 'buyers' }, { not: { audience: 'churned' } }] };

    it.each<[string[], boolean]>([
      [['buyers'], true],
      [['buyers', 'churned'], false],
      [[], false],
    ])('with memberships %j → %s', (members, expected) => {
      expect(evaluate(rule, { members })).toEqual({ matches: expected });
    });
  });

  describe('what it reports about the rule', () => {
    it('lists event windows, trait roots and audiences', () => {
      // Prepare
      const rule: Rule = {
        any: [
          { event: 'Order', within: 'P7D' },
          { event: 'Order', within: 'P30D' },
          { event: 'Visit', within: 'P1M' },
          { event: 'Signup' },
          { all: [{ event: 'Signup', within: 'P1D' }, { trait: 'address.city', op: 'exists' }, { trait: 'plan', op: 'exists' }, { audience: 'vip' }] },
        ],
      };
      // Act
      const compiled = compileRule(rule);
      // Assess
      expect([...compiled.eventRequirements]).toEqual([
        ['Order', 30 * DAY],
        ['Visit', 31 * DAY],
        ['Signup', null],
      ]);
      expect(compiled.traitRoots).toEqual(['address', 'plan']);
      expect(compiled.audiences).toEqual(['vip']);
    });

    it('throws on a rule parseRule would refuse', () => {
      expect(() => compileRule({ trait: 'a', op: 'before', value: 'soon' })).toThrow('compileRule');
      expect(() => compileRule({ event: 'a', within: 'P0D' })).toThrow('compileRule');
    });
  });
});

describe('exitsToFlip and entriesToFlip', () => {
  const test = (op: (typeof COUNT_OPS)[number], n: number, c: number): boolean =>
    op === 'gte' ? c >= n : op === 'gt' ? c > n : op === 'eq' ? c === n : op === 'lte' ? c <= n : c < n;

  it.each(COUNT_OPS)('match a brute-force search for %s', (op) => {
    for (let n = 0; n <= 5; n++) {
      for (let count = 0; count <= 8; count++) {
        // Prepare
        let exits = 0;
        for (let k = 1; k <= count && exits === 0; k++) if (test(op, n, count - k) !== test(op, n, count)) exits = k;
        let entries = 0;
        for (let k = 1; k <= n + 2 && entries === 0; k++) if (test(op, n, count + k) !== test(op, n, count)) entries = k;
        // Act / Assess
        expect([op, n, count, exitsToFlip(op, n, count), entriesToFlip(op, n, count)]).toEqual([op, n, count, exits, entries]);
      }
    }
  });
});
