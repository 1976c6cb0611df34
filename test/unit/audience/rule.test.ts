import { z } from 'zod';
import { formatPath } from '../../../shared/domain/ingestion/messages';
import {
  MAX_RULE_DEPTH,
  OPS,
  findCycle,
  parseRule,
  referencedAudiences,
  ruleReferences,
  RuleSchema,
  type Rule,
} from '../../../shared/domain/audience/rule';

const OP_LIST = OPS.join(', ');

function issuesOf(input: unknown): Array<{ path: string; message: string }> {
  const result = parseRule(input);
  if (result.ok) throw new Error(`expected issues, got ${JSON.stringify(result.rule)}`);
  return result.issues;
}

/** A rule nested `levels` deep: `not` inside `not` ... around a trait. */
function nested(levels: number): unknown {
  let rule: unknown = { trait: 'plan', op: 'exists' };
  for (let i = 1; i < levels; i++) rule = { not: rule };
  return rule;
}

describe('parseRule', () => {
  describe('when the rule is valid', () => {
    it.each<[string, Rule]>([
      ['a trait equality', { trait: 'plan', op: 'eq', value: 'pro' }],
      ['a dotted trait path', { trait: 'address.city', op: 'starts_with', value: 'Par' }],
      ['exists without a value', { trait: 'email', op: 'exists' }],
      ['not_exists without a value', { trait: 'email', op: 'not_exists' }],
      ['in with a list', { trait: 'country', op: 'in', value: ['FR', 'DE', 3, true] }],
      ['not_in with a list', { trait: 'country', op: 'not_in', value: ['FR'] }],
      ['gt with a number', { trait: 'age', op: 'gt', value: 17 }],
      ['lte with a date', { trait: 'signedUpAt', op: 'lte', value: '2026-01-02' }],
      ['before with a date-time', { trait: 'signedUpAt', op: 'before', value: '2026-01-01T12:00:00Z' }],
      ['after with an offset date-time', { trait: 'signedUpAt', op: 'after', value: '2026-01-01T12:00:00+02:00' }],
      ['within_last with a duration', { trait: 'lastSeenAt', op: 'within_last', value: 'PT12H' }],
      ['contains with a string', { trait: 'tags', op: 'contains', value: 'vip' }],
      ['not_contains with a number (array traits)', { trait: 'scores', op: 'not_contains', value: 3 }],
      ['ends_with', { trait: 'email', op: 'ends_with', value: '@example.com' }],
      ['an event with every option', { event: 'Order Completed', where: [{ property: 'total', op: 'gte', value: 100 }, { property: 'items.sku', op: 'exists' }], count: { op: 'gte', value: 2 }, within: 'P7D' }],
      ['an event alone', { event: 'Signed Up' }],
      ['an event with count eq 0', { event: 'Signed Up', count: { op: 'eq', value: 0 } }],
      ['an event within P5Y', { event: 'Signed Up', within: 'P5Y' }],
      ['an event within calendar months and time', { event: 'Signed Up', within: 'P1M2DT3H4M5.5S' }],
      ['an audience reference', { audience: 'aud_1' }],
      ['all / any / not combined', { all: [{ any: [{ audience: 'a' }, { trait: 'plan', op: 'eq', value: 'pro' }] }, { not: { event: 'X', within: 'P1D' } }] }],
    ])('accepts %s and returns it unchanged', (_name, rule) => {
      // Act
      const result = parseRule(rule);
      // Assess
      expect(result).toEqual({ ok: true, rule });
    });

    it('returns a clean copy (no shared arrays)', () => {
      // Prepare
      const input = { all: [{ trait: 'a', op: 'in', value: ['x'] }] };
      // Act
      const result = parseRule(input);
      // Assess
      expect(result.ok && result.rule).toEqual(input);
      expect(result.ok && result.rule).not.toBe(input);
    });

    it(`accepts nesting of exactly ${MAX_RULE_DEPTH} levels`, () => {
      expect(parseRule(nested(MAX_RULE_DEPTH)).ok).toBe(true);
    });

    it('accepts exactly 1,000 nodes', () => {
      // Prepare: the all node + 999 traits
      const rule = { all: Array.from({ length: 999 }, () => ({ trait: 'a', op: 'exists' })) };
      // Act / Assess
      expect(parseRule(rule).ok).toBe(true);
    });
  });

  describe('when the rule is invalid', () => {
    it.each<[string, unknown, string, string]>([
      ['not an object', 'plan = pro', 'rule', 'must be a rule object'],
      ['an array', [], 'rule', 'must be a rule object'],
      ['an unknown rule', { traits: 'plan', op: 'eq', value: 'x' }, 'rule', 'unknown rule: expected one of all, any, not, trait, event, audience'],
      ['an ambiguous rule', { all: [], any: [] }, 'rule', 'ambiguous rule: has all and any'],
      ['an unknown key', { trait: 'plan', op: 'eq', value: 'x', extra: 1 }, 'rule.extra', 'unknown key: a trait rule has only trait, op, value'],
      ['an empty all', { all: [] }, 'rule.all', 'must be a non-empty array of rules'],
      ['an all that is not an array', { all: { trait: 'a', op: 'exists' } }, 'rule.all', 'must be a non-empty array of rules'],
      ['an empty any', { any: [] }, 'rule.any', 'must be a non-empty array of rules'],
      ['a bad op in all', { all: [{ trait: 'plan', op: 'equals', value: 'pro' }] }, 'rule.all[0].op', `must be one of ${OP_LIST}`],
      ['a missing op', { trait: 'plan', value: 'pro' }, 'rule.op', `must be one of ${OP_LIST}`],
      ['a bad node under not', { not: { nope: 1 } }, 'rule.not', 'unknown rule'],
      ['a null under not', { not: null }, 'rule.not', 'must be a rule object'],
      ['an empty trait', { trait: '', op: 'exists' }, 'rule.trait', 'must be a non-empty string'],
      ['a trait path with an empty part', { trait: 'address..city', op: 'exists' }, 'rule.trait', 'without empty parts'],
      ['a trait that is not a string', { trait: 3, op: 'exists' }, 'rule.trait', 'must be a non-empty string'],
      ['a value for exists', { trait: 'a', op: 'exists', value: true }, 'rule.value', 'must be omitted: exists takes no value'],
      ['a value for not_exists', { trait: 'a', op: 'not_exists', value: null }, 'rule.value', 'must be omitted: not_exists takes no value'],
      ['no value for eq', { trait: 'a', op: 'eq' }, 'rule.value', 'is required for eq: must be a string, number or boolean'],
      ['an object for eq', { trait: 'a', op: 'eq', value: { x: 1 } }, 'rule.value', 'must be a string, number or boolean'],
      ['a null for neq', { trait: 'a', op: 'neq', value: null }, 'rule.value', 'must be a string, number or boolean'],
      ['a scalar for in', { trait: 'a', op: 'in', value: 'FR' }, 'rule.value', 'must be a non-empty array'],
      ['an empty list for not_in', { trait: 'a', op: 'not_in', value: [] }, 'rule.value', 'must be a non-empty array'],
      ['a bad element for in', { trait: 'a', op: 'in', value: ['FR', { x: 1 }] }, 'rule.value[1]', 'must be a string, number or boolean'],
      ['a date for within_last', { trait: 'a', op: 'within_last', value: '2026-01-01' }, 'rule.value', 'must be an ISO-8601 duration such as P7D'],
      ['a number for within_last', { trait: 'a', op: 'within_last', value: 7 }, 'rule.value', 'must be an ISO-8601 duration such as P7D'],
      ['a zero duration for within_last', { trait: 'a', op: 'within_last', value: 'P0D' }, 'rule.value', 'must be an ISO-8601 duration such as P7D'],
      ['a huge within_last', { trait: 'a', op: 'within_last', value: 'P101Y' }, 'rule.value', 'must be at most P100Y'],
      ['a non-date for before', { trait: 'a', op: 'before', value: 'yesterday' }, 'rule.value', 'must be an ISO-8601 date or date-time such as 2026-01-31'],
      ['an impossible date for after', { trait: 'a', op: 'after', value: '2026-02-30' }, 'rule.value', 'must be an ISO-8601 date or date-time'],
      ['a number for after', { trait: 'a', op: 'after', value: 1767225600000 }, 'rule.value', 'must be an ISO-8601 date or date-time'],
      ['a plain string for gt', { trait: 'a', op: 'gt', value: 'abc' }, 'rule.value', 'must be a number or an ISO-8601 date'],
      ['a boolean for lte', { trait: 'a', op: 'lte', value: true }, 'rule.value', 'must be a number or an ISO-8601 date'],
      ['a number for starts_with', { trait: 'a', op: 'starts_with', value: 3 }, 'rule.value', 'must be a string'],
      ['an array for contains', { trait: 'a', op: 'contains', value: ['x'] }, 'rule.value', 'must be a string, number or boolean'],
      ['an empty event name', { event: '' }, 'rule.event', 'must be a non-empty string'],
      ['a where that is not an array', { event: 'X', where: { property: 'a', op: 'exists' } }, 'rule.where', 'must be an array of conditions'],
      ['a where clause that is not an object', { event: 'X', where: ['total > 3'] }, 'rule.where[0]', 'must be a condition'],
      ['a bad where op', { event: 'X', where: [{ property: 'a', op: 'like', value: 'x' }] }, 'rule.where[0].op', `must be one of ${OP_LIST}`],
      ['a bad where value in any', { any: [{ trait: 'a', op: 'exists' }, { event: 'X', where: [{ property: 'total', op: 'gt', value: 'lots' }] }] }, 'rule.any[1].where[0].value', 'must be a number or an ISO-8601 date'],
      ['a bad where property', { event: 'X', where: [{ property: '.a', op: 'exists' }] }, 'rule.where[0].property', 'without empty parts'],
      ['an unknown where key', { event: 'X', where: [{ property: 'a', op: 'exists', values: 1 }] }, 'rule.where[0].values', 'unknown key: a where condition has only property, op, value'],
      ['a bad count op', { event: 'X', count: { op: 'neq', value: 1 } }, 'rule.count.op', 'must be one of gte, gt, eq, lte, lt'],
      ['a negative count', { event: 'X', count: { op: 'gte', value: -1 } }, 'rule.count.value', 'must be a whole number, at least 0'],
      ['a fractional count', { event: 'X', count: { op: 'gte', value: 1.5 } }, 'rule.count.value', 'must be a whole number, at least 0'],
      ['a count that is not an object', { event: 'X', count: 3 }, 'rule.count', 'must be an object'],
      ['a within that is not a duration', { event: 'X', within: '7 days' }, 'rule.within', 'must be an ISO-8601 duration such as P7D'],
      ['a negative within', { event: 'X', within: 'P-1D' }, 'rule.within', 'must be an ISO-8601 duration such as P7D'],
      ['an empty within', { event: 'X', within: 'P' }, 'rule.within', 'must be an ISO-8601 duration such as P7D'],
      ['a fractional month within', { event: 'X', within: 'P1.5M' }, 'rule.within', 'must be an ISO-8601 duration such as P7D'],
      ['a within longer than P5Y', { event: 'X', within: 'P1826D' }, 'rule.within', 'must be at most P5Y'],
      ['a within of six years', { event: 'X', within: 'P6Y' }, 'rule.within', 'must be at most P5Y'],
      ['an empty audience id', { audience: '' }, 'rule.audience', 'must be a non-empty string'],
      ['an over-long event name', { event: 'x'.repeat(256) }, 'rule.event', 'must be at most 255 characters'],
    ])('refuses %s, naming the path', (_name, input, path, message) => {
      // Act
      const issues = issuesOf(input);
      // Assess
      expect(issues).toContainEqual({ path, message: expect.stringContaining(message) });
    });

    it('reports every bad node at once', () => {
      // Act
      const issues = issuesOf({ all: [{ trait: 'a', op: 'nope' }, { any: [{ audience: 3 }] }, { event: 'X', within: 'soon', count: { op: 'x', value: -2 } }] });
      // Assess
      expect(issues.map((issue) => issue.path)).toEqual(['rule.all[0].op', 'rule.all[1].any[0].audience', 'rule.all[2].count.op', 'rule.all[2].count.value', 'rule.all[2].within']);
    });

    it(`refuses nesting deeper than ${MAX_RULE_DEPTH} levels, naming the first node too deep`, () => {
      // Act
      const issues = issuesOf(nested(MAX_RULE_DEPTH + 1));
      // Assess
      expect(issues).toEqual([{ path: `rule${'.not'.repeat(MAX_RULE_DEPTH)}`, message: 'nested too deeply: rules may nest at most 32 levels' }]);
    });

    it('refuses very deep input without overflowing the stack', () => {
      expect(issuesOf(nested(100_000))).toHaveLength(1);
    });

    it('refuses more than 1,000 nodes, naming the node that passed the limit', () => {
      // Prepare: the all node + 1,000 traits
      const rule = { all: Array.from({ length: 1000 }, () => ({ trait: 'a', op: 'exists' })) };
      // Act
      const issues = issuesOf(rule);
      // Assess
      expect(issues).toEqual([{ path: 'rule.all[999]', message: 'too many nodes: a rule may have at most 1000 (rules and where clauses)' }]);
    });

    it('counts where clauses as nodes', () => {
      // Prepare
      const rule = { all: [{ event: 'X', where: Array.from({ length: 999 }, () => ({ property: 'a', op: 'exists' })) }] };
      // Act
      const issues = issuesOf(rule);
      // Assess
      expect(issues).toEqual([{ path: 'rule.all[0].where[998]', message: expect.stringContaining('too many nodes') }]);
    });

    it('prefixes paths with the base path given', () => {
      // Act
      const result = parseRule({ all: [{ trait: 'a', op: 'x' }] }, ['steps', 'check', 'branches', 0, 'rule']);
      // Assess
      expect(result).toEqual({ ok: false, issues: [{ path: 'steps.check.branches[0].rule.all[0].op', message: `must be one of ${OP_LIST}` }] });
    });
  });
});

describe('RuleSchema', () => {
  const Body = z.object({ name: z.string(), rule: RuleSchema });

  describe('when embedded in a request schema', () => {
    it('reports the same paths as parseRule', () => {
      // Act
      const result = Body.safeParse({ name: 'x', rule: { any: [{ trait: 'a', op: 'exists' }, { event: 'X', where: [{ property: 'total', op: 'gt', value: 'lots' }] }] } });
      // Assess
      expect(result.success).toBe(false);
      expect(result.error?.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }))).toEqual([
        { path: 'rule.any[1].where[0].value', message: 'must be a number or an ISO-8601 date such as 2026-01-31 or 2026-01-31T09:00:00Z' },
      ]);
    });

    it('passes a valid rule through, typed as Rule', () => {
      // Prepare
      const rule: Rule = { not: { event: 'X', within: 'P1D' } };
      // Act
      const parsed = Body.parse({ name: 'x', rule });
      // Assess
      expect(parsed.rule).toEqual(rule);
    });

    it.each(['input', 'output'] as const)('renders as a JSON Schema named Rule with a description (%s)', (io) => {
      // Act
      const schema = z.toJSONSchema(Body, { io }) as unknown as { properties: { rule: unknown }; $defs: { Rule: { description: string; examples: unknown[] } } };
      // Assess
      expect(schema.properties.rule).toEqual({ $ref: '#/$defs/Rule' });
      expect(schema.$defs.Rule.description).toContain('{"all": [Rule, ...]}');
      expect(schema.$defs.Rule.examples.length).toBeGreaterThan(0);
    });
  });
});

describe('ruleReferences', () => {
  it('returns events, trait roots and audiences, each once, in order of appearance', () => {
    // Prepare
    const rule: Rule = {
      all: [
        { trait: 'address.city', op: 'eq', value: 'Paris' },
        { any: [{ audience: 'b' }, { event: 'Y' }, { trait: 'address.zip', op: 'exists' }] },
        { not: { audience: 'a' } },
        { event: 'X', where: [{ property: 'p', op: 'exists' }] },
        { audience: 'b' },
        { trait: 'plan', op: 'exists' },
      ],
    };
    // Act
    const references = ruleReferences(rule);
    // Assess
    expect(references).toEqual({ events: ['Y', 'X'], traitRoots: ['address', 'plan'], audiences: ['b', 'a'] });
    expect(referencedAudiences(rule)).toEqual(['b', 'a']);
  });
});

describe('findCycle', () => {
  const rules: Record<string, Rule> = {
    b: { audience: 'c' },
    c: { all: [{ trait: 'x', op: 'exists' }, { audience: 'a' }] },
    d: { audience: 'missing' },
    e: { audience: 'f' },
    f: { audience: 'e' },
  };
  const ruleOf = (id: string): Rule | undefined => rules[id];

  describe('when the rule references its own audience', () => {
    it('returns the self-reference', () => {
      expect(findCycle('a', { not: { audience: 'a' } }, ruleOf)).toEqual(['a', 'a']);
    });
  });

  describe('when references loop back through others', () => {
    it('returns a 2-cycle', () => {
      expect(findCycle('c', { audience: 'b' }, (id) => (id === 'b' ? { audience: 'c' } : undefined))).toEqual(['c', 'b', 'c']);
    });

    it('returns a 3-cycle', () => {
      // Act
      const cycle = findCycle('a', { any: [{ audience: 'd' }, { audience: 'b' }] }, ruleOf);
      // Assess
      expect(cycle).toEqual(['a', 'b', 'c', 'a']);
    });

    it('uses the new rule of the audience, not its saved one', () => {
      expect(findCycle('c', { trait: 'x', op: 'exists' }, ruleOf)).toBeUndefined();
    });
  });

  describe('when the rule leads into an existing loop of other audiences', () => {
    it('returns the path into the loop without hanging', () => {
      expect(findCycle('z', { audience: 'e' }, ruleOf)).toEqual(['z', 'e', 'f', 'e']);
    });
  });

  describe('when there is no cycle', () => {
    it('returns undefined for a diamond and for unknown audiences', () => {
      // Prepare
      const diamond: Record<string, Rule> = { l: { audience: 'bottom' }, r: { audience: 'bottom' }, bottom: { trait: 'x', op: 'exists' } };
      // Act / Assess
      expect(findCycle('top', { all: [{ audience: 'l' }, { audience: 'r' }] }, (id) => diamond[id])).toBeUndefined();
      expect(findCycle('a', { audience: 'd' }, ruleOf)).toBeUndefined();
    });

    it('handles a long chain without recursion limits', () => {
      // Prepare: a0 → a1 → ... → a19999
      const chain = (id: string): Rule | undefined => {
        const n = Number(id.slice(1));
        return n < 19_999 ? { audience: `a${n + 1}` } : { trait: 'x', op: 'exists' };
      };
      // Act / Assess
      expect(findCycle('start', { audience: 'a0' }, chain)).toBeUndefined();
      expect(findCycle('a19999', { audience: 'a0' }, chain)).toHaveLength(20_001);
    });
  });
});
