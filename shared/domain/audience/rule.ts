import { z } from 'zod';
import { assertUnreachable, type ErrorIssue } from '../../errors';
import { formatPath } from '../ingestion/messages';
import { isIsoInstant, parseRuleDuration } from './time';

/**
 * The audience rule language of SPEC section 3, as stored and as sent over the API. The JSON
 * shape is the SPEC's (`{"all": [...]}`, `{"trait": ..., "op": ...}` ...), so the union is
 * discriminated by which key a node has; {@link classifyRule} turns it into a union tagged by
 * `kind` for exhaustive switches.
 */

/** Comparison operators of trait rules and where clauses. */
export const OPS = [
  'eq',
  'neq',
  'gt',
  'gte',
  'lt',
  'lte',
  'contains',
  'not_contains',
  'starts_with',
  'ends_with',
  'in',
  'not_in',
  'exists',
  'not_exists',
  'before',
  'after',
  'within_last',
] as const;
export type Op = (typeof OPS)[number];

/** Operators of an event rule's `count`. */
export const COUNT_OPS = ['gte', 'gt', 'eq', 'lte', 'lt'] as const;
export type CountOp = (typeof COUNT_OPS)[number];

/** The key that tells what a rule node is. */
export const RULE_KINDS = ['all', 'any', 'not', 'trait', 'event', 'audience'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

export type Scalar = string | number | boolean;
/** A scalar, or for `in` / `not_in` a list of scalars. */
export type RuleValue = Scalar | Scalar[];

/** Holds when every child holds. */
export interface AllRule {
  all: Rule[];
}
/** Holds when some child holds. */
export interface AnyRule {
  any: Rule[];
}
/** Holds when the child does not. */
export interface NotRule {
  not: Rule;
}
/** `trait` is a trait name or a dotted path into nested objects (`address.city`). */
export interface TraitRule {
  trait: string;
  op: Op;
  value?: RuleValue;
}
/** A condition on a property of the event (dotted paths allowed). */
export interface WhereClause {
  property: string;
  op: Op;
  value?: RuleValue;
}
/** How many matching events are needed. */
export interface EventCount {
  op: CountOp;
  /** A whole number, at least 0. */
  value: number;
}
/** Counts the profile's events of a name (SPEC: `{"event": ..., "where": [...], "count": {...}, "within": "P7D"}`). */
export interface EventRule {
  event: string;
  where?: WhereClause[];
  /** Defaults to `{op: 'gte', value: 1}`: performed at least once. */
  count?: EventCount;
  /** ISO-8601 duration (`P7D`): only events in the last `within` count. */
  within?: string;
}
/** Holds while the profile is a member of another audience. */
export interface AudienceRule {
  audience: string;
}
export type Rule = AllRule | AnyRule | NotRule | TraitRule | EventRule | AudienceRule;

/** A rule node tagged with its kind, for exhaustive switches. */
export type ClassifiedRule =
  | { kind: 'all'; rule: AllRule }
  | { kind: 'any'; rule: AnyRule }
  | { kind: 'not'; rule: NotRule }
  | { kind: 'trait'; rule: TraitRule }
  | { kind: 'event'; rule: EventRule }
  | { kind: 'audience'; rule: AudienceRule };

/**
 * Tags a rule node with its kind.
 *
 * @example
 * classifyRule({ audience: 'vip' }); // { kind: 'audience', rule: { audience: 'vip' } }
 */
export function classifyRule(rule: Rule): ClassifiedRule {
  if ('all' in rule) return { kind: 'all', rule };
  if ('any' in rule) return { kind: 'any', rule };
  if ('not' in rule) return { kind: 'not', rule };
  if ('trait' in rule) return { kind: 'trait', rule };
  if ('event' in rule) return { kind: 'event', rule };
  if ('audience' in rule) return { kind: 'audience', rule };
  return assertUnreachable(rule);
}

export const MAX_RULE_DEPTH = 32;
/** Rule nodes and `where` clauses together. */
export const MAX_RULE_NODES = 1000;
export const MAX_IN_VALUES = 1000;
export const MAX_NAME_LENGTH = 255;
/** `within` windows are at most this long (luxon's casual length: 1,825 days). */
export const MAX_WITHIN = 'P5Y';
/** `within_last` durations are at most this long. */
export const MAX_WITHIN_LAST = 'P100Y';
const MAX_ISSUES = 100;

const KEYS: Record<RuleKind, readonly string[]> = {
  all: ['all'],
  any: ['any'],
  not: ['not'],
  trait: ['trait', 'op', 'value'],
  event: ['event', 'where', 'count', 'within'],
  audience: ['audience'],
};
const WHERE_KEYS = ['property', 'op', 'value'] as const;
const COUNT_KEYS = ['op', 'value'] as const;

const DATE_EXAMPLE = 'such as 2026-01-31 or 2026-01-31T09:00:00Z';
const DURATION_MESSAGE = 'must be an ISO-8601 duration such as P7D';
const SCALAR_MESSAGE = 'must be a string, number or boolean';

type Path = PropertyKey[];
interface RawIssue {
  path: Path;
  message: string;
}

/** A validated rule, or every issue found (paths formatted like `rule.all[0].op`). */
export type ParseRuleResult = { ok: true; rule: Rule } | { ok: false; issues: ErrorIssue[] };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

const MAX_WITHIN_MS = parseRuleDuration(MAX_WITHIN)?.casualMs ?? 0;
const MAX_WITHIN_LAST_MS = parseRuleDuration(MAX_WITHIN_LAST)?.casualMs ?? 0;

/** Validates one rule tree, collecting issues with the path of each bad node. */
class RuleParser {
  readonly issues: RawIssue[] = [];
  private nodes = 0;
  private aborted = false;

  private issue(path: Path, message: string): undefined {
    if (this.issues.length < MAX_ISSUES) this.issues.push({ path, message });
    return undefined;
  }

  /** Counts a node; on the 1,001st the whole parse stops (one issue, at that node). */
  private count(path: Path): boolean {
    if (this.aborted) return false;
    this.nodes++;
    if (this.nodes > MAX_RULE_NODES) {
      this.aborted = true;
      this.issue(path, `too many nodes: a rule may have at most ${MAX_RULE_NODES} (rules and where clauses)`);
      return false;
    }
    return true;
  }

  private rejectUnknownKeys(input: Record<string, unknown>, allowed: readonly string[], path: Path, what: string): void {
    for (const key of Object.keys(input)) {
      if (!allowed.includes(key)) this.issue([...path, key], `unknown key: ${what} has only ${allowed.join(', ')}`);
    }
  }

  private name(value: unknown, path: Path, what: string): string | undefined {
    if (typeof value !== 'string' || value.trim() === '') return this.issue(path, `must be a non-empty string (${what})`);
    if (value.length > MAX_NAME_LENGTH) return this.issue(path, `must be at most ${MAX_NAME_LENGTH} characters`);
    return value;
  }

  private dottedPath(value: unknown, path: Path, example: string): string | undefined {
    const name = this.name(value, path, `a name or a dotted path such as ${example}`);
    if (name === undefined) return undefined;
    if (name.split('.').some((part) => part === '')) return this.issue(path, `must be a name or a dotted path such as ${example}, without empty parts`);
    return name;
  }

  rule(input: unknown, path: Path, depth: number): Rule | undefined {
    if (!this.count(path)) return undefined;
    if (depth > MAX_RULE_DEPTH) return this.issue(path, `nested too deeply: rules may nest at most ${MAX_RULE_DEPTH} levels`);
    if (!isObject(input)) return this.issue(path, 'must be a rule object such as {"trait": "plan", "op": "eq", "value": "pro"}');
    const kinds = RULE_KINDS.filter((kind) => Object.hasOwn(input, kind));
    const [kind, other] = kinds;
    if (kind === undefined) return this.issue(path, `unknown rule: expected one of ${RULE_KINDS.join(', ')}`);
    if (other !== undefined) return this.issue(path, `ambiguous rule: has ${kinds.join(' and ')}; expected exactly one of ${RULE_KINDS.join(', ')}`);
    this.rejectUnknownKeys(input, KEYS[kind], path, `a${kind === 'all' || kind === 'any' || kind === 'event' || kind === 'audience' ? 'n' : ''} ${kind} rule`);
    switch (kind) {
      case 'all':
      case 'any': {
        const list = input[kind];
        if (!Array.isArray(list) || list.length === 0) return this.issue([...path, kind], 'must be a non-empty array of rules');
        const children: Rule[] = [];
        let ok = true;
        list.forEach((child: unknown, index) => {
          const parsed = this.rule(child, [...path, kind, index], depth + 1);
          if (parsed === undefined) ok = false;
          else children.push(parsed);
        });
        if (!ok) return undefined;
        return kind === 'all' ? { all: children } : { any: children };
      }
      case 'not': {
        const child = this.rule(input.not, [...path, 'not'], depth + 1);
        return child === undefined ? undefined : { not: child };
      }
      case 'trait': {
        const trait = this.dottedPath(input.trait, [...path, 'trait'], 'address.city');
        const condition = this.condition(input, path);
        if (trait === undefined || condition === undefined) return undefined;
        return { trait, ...condition };
      }
      case 'event':
        return this.event(input, path);
      case 'audience': {
        const audience = this.name(input.audience, [...path, 'audience'], 'an audience id');
        return audience === undefined ? undefined : { audience };
      }
      default:
        return assertUnreachable(kind);
    }
  }

  private event(input: Record<string, unknown>, path: Path): EventRule | undefined {
    const event = this.name(input.event, [...path, 'event'], 'an event name');
    let ok = event !== undefined;
    const rule: EventRule = { event: event ?? '' };
    if (input.where !== undefined) {
      if (!Array.isArray(input.where)) {
        ok = false;
        this.issue([...path, 'where'], 'must be an array of conditions such as {"property": "total", "op": "gt", "value": 100}');
      } else {
        const where: WhereClause[] = [];
        input.where.forEach((clause: unknown, index) => {
          const clausePath = [...path, 'where', index];
          if (!this.count(clausePath)) {
            ok = false;
            return;
          }
          if (!isObject(clause)) {
            ok = false;
            this.issue(clausePath, 'must be a condition such as {"property": "total", "op": "gt", "value": 100}');
            return;
          }
          this.rejectUnknownKeys(clause, WHERE_KEYS, clausePath, 'a where condition');
          const property = this.dottedPath(clause.property, [...clausePath, 'property'], 'items.sku');
          const condition = this.condition(clause, clausePath);
          if (property === undefined || condition === undefined) ok = false;
          else where.push({ property, ...condition });
        });
        rule.where = where;
      }
    }
    if (input.count !== undefined) {
      const countPath = [...path, 'count'];
      const count = input.count;
      if (!isObject(count)) {
        ok = false;
        this.issue(countPath, 'must be an object such as {"op": "gte", "value": 3}');
      } else {
        this.rejectUnknownKeys(count, COUNT_KEYS, countPath, 'a count');
        const op = COUNT_OPS.find((candidate) => candidate === count.op);
        if (op === undefined) this.issue([...countPath, 'op'], `must be one of ${COUNT_OPS.join(', ')}`);
        const value = count.value;
        const n = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
        if (n === undefined) this.issue([...countPath, 'value'], 'must be a whole number, at least 0');
        if (op === undefined || n === undefined) ok = false;
        else rule.count = { op, value: n };
      }
    }
    if (input.within !== undefined) {
      const withinPath = [...path, 'within'];
      const duration = typeof input.within === 'string' ? parseRuleDuration(input.within) : undefined;
      if (duration === undefined) {
        ok = false;
        this.issue(withinPath, `${DURATION_MESSAGE} (positive, whole numbers except seconds)`);
      } else if (duration.casualMs > MAX_WITHIN_MS) {
        ok = false;
        this.issue(withinPath, `must be at most ${MAX_WITHIN}`);
      } else {
        rule.within = duration.iso;
      }
    }
    return ok ? rule : undefined;
  }

  /** The `op` and `value` of a trait rule or a where clause, checked against each other. */
  private condition(input: Record<string, unknown>, path: Path): { op: Op; value?: RuleValue } | undefined {
    const op = OPS.find((candidate) => candidate === input.op);
    if (op === undefined) return this.issue([...path, 'op'], `must be one of ${OPS.join(', ')}`);
    const valuePath = [...path, 'value'];
    const value = input.value;
    const present = Object.hasOwn(input, 'value') && value !== undefined;
    const need = (expectation: string): undefined => this.issue(valuePath, present ? expectation : `is required for ${op}: ${expectation}`);
    switch (op) {
      case 'exists':
      case 'not_exists':
        if (present) return this.issue(valuePath, `must be omitted: ${op} takes no value`);
        return { op };
      case 'eq':
      case 'neq':
      case 'contains':
      case 'not_contains':
        return isScalar(value) ? { op, value } : need(SCALAR_MESSAGE);
      case 'starts_with':
      case 'ends_with':
        return typeof value === 'string' ? { op, value } : need('must be a string');
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte':
        return (typeof value === 'number' && Number.isFinite(value)) || isIsoInstant(value)
          ? { op, value }
          : need(`must be a number or an ISO-8601 date ${DATE_EXAMPLE}`);
      case 'before':
      case 'after':
        return isIsoInstant(value) ? { op, value } : need(`must be an ISO-8601 date or date-time ${DATE_EXAMPLE}`);
      case 'in':
      case 'not_in': {
        if (!Array.isArray(value) || value.length === 0) return need('must be a non-empty array of strings, numbers or booleans');
        if (value.length > MAX_IN_VALUES) return this.issue(valuePath, `must have at most ${MAX_IN_VALUES} values`);
        const values: Scalar[] = [];
        let ok = true;
        value.forEach((item: unknown, index) => {
          if (isScalar(item)) values.push(item);
          else {
            ok = false;
            this.issue([...valuePath, index], SCALAR_MESSAGE);
          }
        });
        return ok ? { op, value: values } : undefined;
      }
      case 'within_last': {
        const duration = typeof value === 'string' ? parseRuleDuration(value) : undefined;
        if (duration === undefined) return need(`${DURATION_MESSAGE} (positive, whole numbers except seconds)`);
        if (duration.casualMs > MAX_WITHIN_LAST_MS) return this.issue(valuePath, `must be at most ${MAX_WITHIN_LAST}`);
        return { op, value: duration.iso };
      }
      default:
        return assertUnreachable(op);
    }
  }
}

/**
 * Validates a rule. Returns a clean copy (only known keys) or every issue found, each naming
 * the path of the bad node under `basePath` (`rule.all[0].op`, `rule.any[1].where[0].value`).
 * Limits: {@link MAX_RULE_DEPTH} levels, {@link MAX_RULE_NODES} nodes, `within` at most
 * {@link MAX_WITHIN}. References to other audiences are not checked here (existence and
 * cycles need the other audiences: see {@link findCycle}).
 *
 * @example
 * const result = parseRule({ all: [{ trait: 'plan', op: 'equals', value: 'pro' }] });
 * // { ok: false, issues: [{ path: 'rule.all[0].op', message: 'must be one of eq, neq, ...' }] }
 */
export function parseRule(input: unknown, basePath: ReadonlyArray<PropertyKey> = ['rule']): ParseRuleResult {
  const { rule, issues } = parseRaw(input);
  if (rule !== undefined && issues.length === 0) return { ok: true, rule };
  return { ok: false, issues: issues.map((issue) => ({ path: formatPath([...basePath, ...issue.path]), message: issue.message })) };
}

function parseRaw(input: unknown): { rule: Rule | undefined; issues: RawIssue[] } {
  const parser = new RuleParser();
  const rule = parser.rule(input, [], 1);
  return { rule, issues: parser.issues };
}

const RULE_DESCRIPTION = [
  'An audience rule (SPEC section 3). One of:',
  '{"all": [Rule, ...]} | {"any": [Rule, ...]} | {"not": Rule}',
  '| {"trait": "plan" or a dotted path "address.city", "op": Op, "value": V}',
  '| {"event": "Order Completed", "where": [{"property": "total", "op": Op, "value": V}], "count": {"op": "gte"|"gt"|"eq"|"lte"|"lt", "value": N}, "within": "P7D"}',
  '| {"audience": "<audience id>"}.',
  `Op: ${OPS.join(' | ')}. exists/not_exists take no value; in/not_in take an array; within_last takes an ISO-8601 duration;`,
  'before/after take an ISO-8601 date; gt/gte/lt/lte a number or a date. count defaults to gte 1; within is at most P5Y.',
  `At most ${MAX_RULE_DEPTH} levels and ${MAX_RULE_NODES} nodes.`,
].join(' ');

/**
 * The rule inside API request schemas: `z.object({ rule: RuleSchema })` reports the same
 * issues as {@link parseRule}, with paths such as `rule.all[0].op`. Validation lives in a
 * refinement, so `z.toJSONSchema` renders it (as `Rule`, with a description and examples) in
 * both input and output mode. A valid value passes through as given (it has no other keys).
 *
 * @example
 * const CreateAudienceSchema = z.object({ name: z.string(), rule: RuleSchema });
 */
export const RuleSchema = z
  .unknown()
  .superRefine((value, ctx) => {
    for (const issue of parseRaw(value).issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  })
  .meta({
    id: 'Rule',
    description: RULE_DESCRIPTION,
    examples: [
      { all: [{ trait: 'plan', op: 'eq', value: 'pro' }, { not: { event: 'Order Completed', within: 'P30D' } }] },
      { event: 'Order Completed', where: [{ property: 'total', op: 'gte', value: 100 }], count: { op: 'gte', value: 2 }, within: 'P90D' },
    ],
  }) as unknown as z.ZodType<Rule, unknown>;

/** Every audience the rule references, each once, in order of appearance. */
export function referencedAudiences(rule: Rule): string[] {
  return ruleReferences(rule).audiences;
}

export interface RuleReferences {
  /** Event names, each once. */
  events: string[];
  /** Top-level trait keys (`address` for `address.city`), each once. */
  traitRoots: string[];
  audiences: string[];
}

/** The top-level trait key a trait path reads: `address` for `address.city`. */
export function traitRoot(path: string): string {
  const dot = path.indexOf('.');
  return dot < 0 ? path : path.slice(0, dot);
}

/** What a rule reads: event names, top-level trait keys and other audiences. */
export function ruleReferences(rule: Rule): RuleReferences {
  const events = new Set<string>();
  const traitRoots = new Set<string>();
  const audiences = new Set<string>();
  const stack: Rule[] = [rule];
  // Depth-first, children in order, so that "order of appearance" holds.
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const node = classifyRule(top);
    switch (node.kind) {
      case 'all':
        stack.push(...[...node.rule.all].reverse());
        break;
      case 'any':
        stack.push(...[...node.rule.any].reverse());
        break;
      case 'not':
        stack.push(node.rule.not);
        break;
      case 'trait':
        traitRoots.add(traitRoot(node.rule.trait));
        break;
      case 'event':
        events.add(node.rule.event);
        break;
      case 'audience':
        audiences.add(node.rule.audience);
        break;
      default:
        assertUnreachable(node);
    }
  }
  return { events: [...events], traitRoots: [...traitRoots], audiences: [...audiences] };
}

/**
 * Whether saving `audienceId` with `rule` would make audience references loop. Returns the
 * path from `audienceId` to the first audience seen twice (`['a', 'b', 'a']`; `['a', 'a']` for
 * a self-reference; `['a', 'b', 'c', 'b']` when `a` leads into an existing loop), or
 * undefined. `ruleOf` gives the saved rules of the others; an audience it does not know ends
 * that path (whether it exists is the caller's check). Iterative, and visits each audience
 * once, so a large or broken graph cannot hang it.
 *
 * @example
 * findCycle('a', { audience: 'b' }, (id) => (id === 'b' ? { audience: 'a' } : undefined)); // ['a', 'b', 'a']
 */
export function findCycle(audienceId: string, rule: Rule, ruleOf: (id: string) => Rule | undefined): string[] | undefined {
  const path: string[] = [audienceId];
  const onPath = new Set<string>([audienceId]);
  const done = new Set<string>();
  const frames: Array<{ refs: string[]; next: number }> = [{ refs: referencedAudiences(rule), next: 0 }];
  while (frames.length > 0) {
    const frame = frames[frames.length - 1];
    const ref = frame?.refs[frame.next++];
    if (ref === undefined) {
      frames.pop();
      const finished = path.pop();
      if (finished !== undefined) {
        onPath.delete(finished);
        done.add(finished);
      }
      continue;
    }
    if (onPath.has(ref)) return [...path, ref];
    if (done.has(ref)) continue;
    const refRule = ruleOf(ref);
    if (refRule === undefined) {
      done.add(ref);
      continue;
    }
    path.push(ref);
    onPath.add(ref);
    frames.push({ refs: referencedAudiences(refRule), next: 0 });
  }
  return undefined;
}
