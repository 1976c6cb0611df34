/**
 * The audience rule language translated into json-rules-engine (7.x) rules, for the audiences
 * benchmark. The translation keeps the semantics of shared/domain/audience/evaluate.ts:
 *
 * - **Traits.** Each top-level trait is a runtime fact (`engine.run({...traits})`); a dotted
 *   trait (`address.city`) is the fact `address` with `path` `$.city` (JSONPath, the engine's
 *   default resolver) or `city` with {@link ownPathResolver}. Missing traits are undefined facts
 *   (`allowUndefinedFacts`).
 * - **Operators.** Built-in operators where their semantics are ours exactly: `equal` / `notEqual`
 *   (strict, for non-date values), `in` / `notIn` (indexOf, for lists without dates), and the
 *   count comparisons (`greaterThanInclusive` ..., on a number). Custom operators elsewhere,
 *   because the built-ins differ: `greaterThan` & co. coerce (`"42" > 10` and `[42] > 10` hold;
 *   ours are false), `contains` / `doesNotContain` accept arrays only (ours: substring on a
 *   string; `not_contains` holds on a missing trait), and there is no date equality or ordering,
 *   prefix, suffix, exists or `within_last`. Rule-side dates are parsed once, at translation;
 *   fact-side dates with `parseIsoInstant` (the evaluator's parser) on every test.
 * - **Events.** Every distinct `{event, where, within}` becomes a dynamic fact
 *   `count:<event>:<within>:<where hash>` whose function (run inside `engine.run`, cached per
 *   run by the almanac) counts the profile's events of that name with `now − within < t ≤ now`
 *   whose where clauses all hold (same operators as above); the `count` becomes a built-in
 *   comparison on it. The profile's events (name → list) and `now` are runtime facts
 *   `$events` and `$now`. `within_last` compares with a per-run fact `window:<duration>`.
 * - **Nested audiences.** `{audience: id}` reads the fact `member:<id>`. Rules get priorities by
 *   reference depth (json-rules-engine runs priority sets one after another, highest first) and
 *   a `success` handler adds `member:<id> = true` to the run's almanac, so a referencing rule
 *   sees the result of this run, as the compiled evaluator sees `isMember` of audiences
 *   evaluated before it in dependency order.
 * - **Conditions** get `priority` 2 when they read no event and 1 otherwise (with
 *   `conditionPriorities`), so `all` / `any` test the cheap ones first and can stop early, like
 *   the compiled evaluator's cost ordering.
 *
 * Known difference, absent from the benchmark data: json-rules-engine applies `path` only to an
 * object; on a trait that is a scalar (`address: "Paris"`) it returns the scalar itself as the
 * value of `address.city`, where ours says missing. Not expressible: `nextChangeAt` (the
 * compiled evaluator computes it on every evaluation; json-rules-engine has no equivalent).
 */
import { Engine, type Almanac } from 'json-rules-engine';
import type { EvaluationEvent } from '../../shared/domain/audience/evaluate';
import type { CountOp, Op, Rule, RuleValue, Scalar, WhereClause } from '../../shared/domain/audience/rule';
import { parseIsoInstant, parseRuleDuration, windowStart, type RuleDuration } from '../../shared/domain/audience/time';
import type { Audience } from './audience-workload';

export const EVENTS_FACT = '$events';
export const NOW_FACT = '$now';

export interface JsonRulesOptions {
  /** `jsonpath`: the engine's default (jsonpath-plus); `own`: {@link ownPathResolver}. */
  paths: 'jsonpath' | 'own';
  conditionPriorities: boolean;
}

interface Window {
  start: number;
  now: number;
}

interface Leaf {
  fact: string;
  operator: string;
  value: unknown;
  path?: string;
  priority?: number;
}
type Condition = Leaf | { all: Condition[]; priority?: number } | { any: Condition[]; priority?: number } | { not: Condition; priority?: number };

export class UntranslatableRule extends Error {}

// --- operators -------------------------------------------------------------------------------

function instant(value: unknown): number {
  return typeof value === 'string' ? parseIsoInstant(value) : NaN;
}

/** `eq`: identical, or two dates at the same instant. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  const at = parseIsoInstant(b);
  return !Number.isNaN(at) && parseIsoInstant(a) === at;
}

function includes(a: unknown, b: unknown): boolean {
  if (typeof a === 'string') return typeof b === 'string' && a.includes(b);
  return Array.isArray(a) && a.some((item) => same(item, b));
}

function inList(a: unknown, b: unknown): boolean {
  return Array.isArray(b) && b.some((value) => same(a, value));
}

const missing = (a: unknown): boolean => a === undefined || a === null;

/** Operators json-rules-engine lacks, or has with other semantics (see the file comment). */
export const CUSTOM_OPERATORS: Record<string, (fact: unknown, value: unknown) => boolean> = {
  present: (a) => !missing(a),
  absent: (a) => missing(a),
  sameInstant: (a, b) => same(a, b),
  notSameInstant: (a, b) => !same(a, b),
  inInstants: (a, b) => inList(a, b),
  notInInstants: (a, b) => !inList(a, b),
  includes: (a, b) => includes(a, b),
  notIncludes: (a, b) => !includes(a, b),
  startsWith: (a, b) => typeof a === 'string' && typeof b === 'string' && a.startsWith(b),
  endsWith: (a, b) => typeof a === 'string' && typeof b === 'string' && a.endsWith(b),
  numGt: (a, b) => typeof a === 'number' && typeof b === 'number' && a > b,
  numGte: (a, b) => typeof a === 'number' && typeof b === 'number' && a >= b,
  numLt: (a, b) => typeof a === 'number' && typeof b === 'number' && a < b,
  numLte: (a, b) => typeof a === 'number' && typeof b === 'number' && a <= b,
  // The value is the instant (ms), parsed at translation.
  instantGt: (a, b) => typeof b === 'number' && instant(a) > b,
  instantGte: (a, b) => typeof b === 'number' && instant(a) >= b,
  instantLt: (a, b) => typeof b === 'number' && instant(a) < b,
  instantLte: (a, b) => typeof b === 'number' && instant(a) <= b,
  withinLast: (a, b) => {
    const at = instant(a);
    const w = b as Window;
    return at >= w.start && at <= w.now;
  },
};

/** The built-ins used, with their exact json-rules-engine semantics (for where clauses, evaluated in fact functions). */
const BUILT_IN_OPERATORS: Record<string, (fact: unknown, value: unknown) => boolean> = {
  equal: (a, b) => a === b,
  notEqual: (a, b) => a !== b,
  in: (a, b) => Array.isArray(b) && b.indexOf(a) > -1,
  notIn: (a, b) => Array.isArray(b) && b.indexOf(a) === -1,
};

function isDateString(value: unknown): boolean {
  return typeof value === 'string' && !Number.isNaN(parseIsoInstant(value));
}

function requireDuration(text: RuleValue | undefined): RuleDuration {
  const duration = typeof text === 'string' ? parseRuleDuration(text) : undefined;
  if (duration === undefined) throw new UntranslatableRule(`not a duration: ${JSON.stringify(text)}`);
  return duration;
}

/** A value test of the rule language as a json-rules-engine operator and value. */
interface ValueTest {
  operator: string;
  /** The condition's value; for `within_last`, the duration whose window is the value. */
  value: unknown;
  window?: RuleDuration;
}

function orderOperator(op: 'gt' | 'gte' | 'lt' | 'lte', value: Scalar): ValueTest {
  const suffix = { gt: 'Gt', gte: 'Gte', lt: 'Lt', lte: 'Lte' }[op];
  if (typeof value === 'number') return { operator: `num${suffix}`, value };
  if (isDateString(value)) return { operator: `instant${suffix}`, value: instant(value) };
  // parseRule refuses plain strings for ordering.
  throw new UntranslatableRule(`${op} on a plain string`);
}

function scalar(op: Op, value: RuleValue | undefined): Scalar {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  throw new UntranslatableRule(`${op} needs a scalar`);
}

function valueTest(op: Op, value: RuleValue | undefined): ValueTest {
  switch (op) {
    case 'exists':
      return { operator: 'present', value: true };
    case 'not_exists':
      return { operator: 'absent', value: true };
    case 'eq':
      return isDateString(value) ? { operator: 'sameInstant', value } : { operator: 'equal', value: scalar(op, value) };
    case 'neq':
      return isDateString(value) ? { operator: 'notSameInstant', value } : { operator: 'notEqual', value: scalar(op, value) };
    case 'in':
    case 'not_in': {
      if (!Array.isArray(value)) throw new UntranslatableRule(`${op} needs a list`);
      const dates = value.some(isDateString);
      if (op === 'in') return { operator: dates ? 'inInstants' : 'in', value };
      return { operator: dates ? 'notInInstants' : 'notIn', value };
    }
    case 'contains':
      return { operator: 'includes', value: scalar(op, value) };
    case 'not_contains':
      return { operator: 'notIncludes', value: scalar(op, value) };
    case 'starts_with':
      return { operator: 'startsWith', value: scalar(op, value) };
    case 'ends_with':
      return { operator: 'endsWith', value: scalar(op, value) };
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return orderOperator(op, scalar(op, value));
    case 'before':
      return isDateString(value) ? { operator: 'instantLt', value: instant(value) } : fail(op);
    case 'after':
      return isDateString(value) ? { operator: 'instantGt', value: instant(value) } : fail(op);
    case 'within_last':
      return { operator: 'withinLast', value: undefined, window: requireDuration(value) };
    default:
      throw new UntranslatableRule(`unknown op ${String(op)}`);
  }
}

function fail(op: Op): never {
  throw new UntranslatableRule(`${op} needs a date`);
}

const COUNT_OPERATORS: Record<CountOp, string> = {
  gte: 'greaterThanInclusive',
  gt: 'greaterThan',
  lte: 'lessThanInclusive',
  lt: 'lessThan',
  eq: 'equal',
};

// --- paths -----------------------------------------------------------------------------------

const SIMPLE_PATH = /^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$/;

function jsonPath(rest: string): string {
  if (SIMPLE_PATH.test(rest)) return `$.${rest}`;
  return `$${rest
    .split('.')
    .map((part) => `[${JSON.stringify(part)}]`)
    .join('')}`;
}

const splitCache = new Map<string, string[]>();

/** Reads own properties along a dotted path (`city`, `items.count`): the evaluator's path semantics. */
export function ownPathResolver(value: object, path: string): unknown {
  let parts = splitCache.get(path);
  if (parts === undefined) {
    parts = path.split('.');
    splitCache.set(path, parts);
  }
  let current: unknown = value;
  for (const part of parts) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

// --- translation -----------------------------------------------------------------------------

function containsEvent(rule: Rule): boolean {
  if ('all' in rule) return rule.all.some(containsEvent);
  if ('any' in rule) return rule.any.some(containsEvent);
  if ('not' in rule) return containsEvent(rule.not);
  return 'event' in rule;
}

function hashText(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}

type EventsByName = ReadonlyMap<string, readonly EvaluationEvent[]>;

interface CompiledClause {
  read: (properties: Record<string, unknown>) => unknown;
  test: (fact: unknown, value: unknown) => boolean;
  value: unknown;
  window?: RuleDuration;
}

function operatorFunction(name: string): (fact: unknown, value: unknown) => boolean {
  const fn = CUSTOM_OPERATORS[name] ?? BUILT_IN_OPERATORS[name];
  if (fn === undefined) throw new UntranslatableRule(`no operator ${name}`);
  return fn;
}

/** The fact function counting the events of one `{event, where, within}`. */
function countFact(name: string, where: readonly WhereClause[], within: string | undefined): (params: Record<string, unknown>, almanac: Almanac) => Promise<number> {
  const duration = within === undefined ? undefined : requireDuration(within);
  const clauses: CompiledClause[] = where.map((clause) => {
    const test = valueTest(clause.op, clause.value);
    return {
      read: (properties) => ownPathResolver(properties, clause.property),
      test: operatorFunction(test.operator),
      value: test.value,
      window: test.window,
    };
  });
  return async (_params, almanac) => {
    const [byName, now] = await Promise.all([almanac.factValue<EventsByName>(EVENTS_FACT), almanac.factValue<number>(NOW_FACT)]);
    const events = byName.get(name);
    if (events === undefined) return 0;
    const start = duration === undefined ? -Infinity : windowStart(now, duration);
    let count = 0;
    for (const event of events) {
      const at = Date.parse(event.timestamp);
      if (at <= start || at > now) continue;
      let ok = true;
      for (const clause of clauses) {
        const value = clause.window === undefined ? clause.value : { start: windowStart(now, clause.window), now };
        if (!clause.test(clause.read(event.properties), value)) {
          ok = false;
          break;
        }
      }
      if (ok) count++;
    }
    return count;
  };
}

class Translator {
  /** Ids of the dynamic facts registered (counts and windows). */
  readonly facts = new Set<string>();

  constructor(
    private readonly engine: Engine,
    private readonly options: JsonRulesOptions,
  ) {}

  private priority(rule: Rule): { priority?: number } {
    return this.options.conditionPriorities ? { priority: containsEvent(rule) ? 1 : 2 } : {};
  }

  private windowFact(duration: RuleDuration): string {
    const id = `window:${duration.iso}`;
    if (!this.facts.has(id)) {
      this.facts.add(id);
      this.engine.addFact<Promise<Window>>(id, async (_params, almanac) => {
        const now = await almanac.factValue<number>(NOW_FACT);
        return { start: windowStart(now, duration), now };
      });
    }
    return id;
  }

  translate(rule: Rule): Condition {
    const priority = this.priority(rule);
    if ('all' in rule) return { all: rule.all.map((child) => this.translate(child)), ...priority };
    if ('any' in rule) return { any: rule.any.map((child) => this.translate(child)), ...priority };
    if ('not' in rule) return { not: this.translate(rule.not), ...priority };
    if ('audience' in rule) return { fact: `member:${rule.audience}`, operator: 'equal', value: true, ...priority };
    if ('trait' in rule) {
      const dot = rule.trait.indexOf('.');
      const fact = dot < 0 ? rule.trait : rule.trait.slice(0, dot);
      const rest = dot < 0 ? undefined : rule.trait.slice(dot + 1);
      const path = rest === undefined ? {} : { path: this.options.paths === 'jsonpath' ? jsonPath(rest) : rest };
      const test = valueTest(rule.op, rule.value);
      const value = test.window === undefined ? test.value : { fact: this.windowFact(test.window) };
      return { fact, ...path, operator: test.operator, value, ...priority };
    }
    const where = rule.where ?? [];
    const id = `count:${rule.event}:${rule.within ?? 'ever'}:${where.length === 0 ? '-' : hashText(JSON.stringify(where))}`;
    if (!this.facts.has(id)) {
      this.facts.add(id);
      this.engine.addFact<Promise<number>>(id, countFact(rule.event, where, rule.within));
    }
    const count = rule.count ?? { op: 'gte', value: 1 };
    return { fact: id, operator: COUNT_OPERATORS[count.op], value: count.value, ...priority };
  }
}

/** Reference depth: 0 for a rule without `{audience}`, else 1 + the deepest audience it references. */
function depths(audiences: readonly Audience[]): Map<string, number> {
  const byId = new Map(audiences.map((a) => [a.id, a.rule]));
  const depth = new Map<string, number>();
  const refs = (rule: Rule, into: string[]): string[] => {
    if ('all' in rule) rule.all.forEach((child) => refs(child, into));
    else if ('any' in rule) rule.any.forEach((child) => refs(child, into));
    else if ('not' in rule) refs(rule.not, into);
    else if ('audience' in rule) into.push(rule.audience);
    return into;
  };
  const visit = (id: string, seen: Set<string>): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    const rule = byId.get(id);
    if (rule === undefined || seen.has(id)) return 0;
    seen.add(id);
    const d = refs(rule, []).reduce((max, ref) => Math.max(max, 1 + visit(ref, seen)), 0);
    depth.set(id, d);
    return d;
  };
  for (const a of audiences) visit(a.id, new Set());
  return depth;
}

export interface JsonRulesSetup {
  engine: Engine;
  /** Audiences whose rules could not be translated (left out of the engine). */
  untranslatable: Array<{ id: string; reason: string }>;
  /** Distinct dynamic facts registered (event counts and windows). */
  facts: number;
  /** Priority levels (reference depth + 1). */
  levels: number;
}

/** One engine holding the rules of every audience; `engine.run(facts)` evaluates them all for one profile. */
export function buildJsonRulesEngine(audiences: readonly Audience[], options: JsonRulesOptions): JsonRulesSetup {
  const engine = new Engine([], { allowUndefinedFacts: true, ...(options.paths === 'own' ? { pathResolver: ownPathResolver } : {}) });
  for (const [name, fn] of Object.entries(CUSTOM_OPERATORS)) engine.addOperator<unknown, unknown>(name, fn);
  const translator = new Translator(engine, options);
  const depth = depths(audiences);
  const maxDepth = Math.max(0, ...depth.values());
  const untranslatable: Array<{ id: string; reason: string }> = [];
  for (const audience of audiences) {
    let conditions: Condition;
    try {
      conditions = translator.translate(audience.rule);
    } catch (error) {
      if (!(error instanceof UntranslatableRule)) throw error;
      untranslatable.push({ id: audience.id, reason: error.message });
      continue;
    }
    const top: Condition = 'all' in conditions || 'any' in conditions || 'not' in conditions ? conditions : { all: [conditions] };
    engine.addRule({
      name: audience.id,
      priority: 1 + maxDepth - (depth.get(audience.id) ?? 0),
      conditions: top,
      event: { type: 'audience', params: { id: audience.id } },
    });
  }
  engine.on('success', (event, almanac) => {
    const id: unknown = event.params?.id;
    if (typeof id === 'string') almanac.addFact(`member:${id}`, true);
  });
  return { engine, untranslatable, facts: translator.facts.size, levels: maxDepth + 1 };
}

/** The runtime facts of one profile: its top-level traits, its events by name, and now. */
export function profileFacts(traits: Record<string, unknown>, events: EventsByName, nowMs: number): Record<string, unknown> {
  return { ...traits, [EVENTS_FACT]: events, [NOW_FACT]: nowMs };
}
