import { assertUnreachable } from '../../errors';
import { classifyRule, ruleReferences, type CountOp, type EventRule, type Op, type Rule, type RuleValue, type Scalar } from './rule';
import { parseIsoInstant, parseRuleDuration, windowReaches, windowStart, type RuleDuration } from './time';

/**
 * Audience rule evaluation. A rule is compiled once into closures; evaluating it walks no
 * JSON, parses no rule-side date or duration, and allocates only its result.
 *
 * Semantics (the reference evaluator in test/unit/audience follows the same text):
 *
 * - **Paths.** `trait` and `property` may be dotted (`address.city`): each part reads an own
 *   property of an object (or an array index, `tags.0`); anything else on the way means
 *   missing. A key that itself contains a dot cannot be addressed.
 * - **Missing.** A value that is `undefined` or `null` is missing: `exists` is false,
 *   `not_exists` true; `neq`, `not_in` and `not_contains` are true; every other op is false.
 * - **Negations.** `neq`, `not_in`, `not_contains`, `not_exists` are exactly the negation of
 *   `eq`, `in`, `contains`, `exists` (so `neq "pro"` also holds for a number, or a missing trait).
 * - **Dates.** A string is a date when it is an ISO-8601 date (`2026-01-02`, midnight UTC) or
 *   date-time (`2026-01-01T12:00:00Z`; no zone = UTC), see `parseIsoInstant`. When both
 *   sides are dates, `eq`, `neq`, `gt`, `gte`, `lt`, `lte`, `in`, `not_in` and the element
 *   test of `contains` compare the instants (`2026-01-02` eq `2026-01-02T00:00:00Z`).
 *   `before` / `after` are `lt` / `gt` with a date value: a trait that is not a date fails.
 * - **Ordering** (`gt` ...): numbers numerically; dates by time; two strings that are not
 *   dates lexicographically (by UTF-16 code unit). Anything else (a number against a date, a
 *   numeric string against a number) is false: there is no type coercion, and string
 *   comparisons are case-sensitive.
 * - **`contains`** on a string trait: substring (value a string); on an array trait: some
 *   element equals the value (as `eq`). `starts_with` / `ends_with`: string traits only.
 * - **`in`**: the trait equals (as `eq`) one of the values; an array trait equals none.
 * - **`within_last`**: the trait is a date and `now − duration ≤ date ≤ now`.
 * - **Events.** Events of the name count when their `where` clauses all hold and
 *   `now − within < timestamp ≤ now` (without `within`: `timestamp ≤ now`). An event dated in
 *   the future does not count until its time comes. The number is compared with `count`
 *   (default `gte 1`).
 * - **Windows** (`within`, `within_last`) subtract calendar months and years first, then the
 *   rest (days are 24 h in UTC); a month-end day missing from the target month (31 March −
 *   P1M) gives the end of that month, so that a window's start never moves back: see
 *   `windowStart`. `P1M` is a calendar month.
 * - **`{not: X}`** negates X (`{"not": {"event": "X", "within": "P1D"}}` = did not perform
 *   X in the last day); `all` / `any` as usual; `{audience: id}` asks `isMember`.
 *
 * `nextChangeAt` is conservative: the result is the same at every instant in
 * `[now, nextChangeAt)` given the same traits, events and memberships (it may not change at
 * `nextChangeAt` itself). Undefined means it cannot change with time alone. Time enters
 * through events leaving a window (event time + within), events dated in the future (their
 * time), and `within_last` dates entering (the date) or leaving (date + duration). `all` that
 * holds changes at the earliest change of its children; `all` that fails not before the
 * latest change of its failing children (never if one of them can never change); `any`
 * symmetrically; event counts change only when the count crosses the `count` threshold.
 * Memberships of nested audiences are the caller's to track.
 */

export interface EvaluationEvent {
  event: string;
  /** ISO-8601 in UTC. */
  timestamp: string;
  /** `timestamp` in epoch ms, when the loader already parsed it (saves a parse per evaluation). */
  time?: number;
  properties: Record<string, unknown>;
}

function timeOf(event: EvaluationEvent): number {
  return event.time ?? Date.parse(event.timestamp);
}

export interface EvaluationInput {
  traits: Record<string, unknown>;
  /**
   * The profile's events of that name, ascending by timestamp, covering at least the window
   * the rule needs ({@link CompiledRule.eventRequirements}), and those dated after `now`.
   */
  eventsNamed(name: string): readonly EvaluationEvent[];
  isMember(audienceId: string): boolean;
  now: Date;
}

export interface EvaluationResult {
  matches: boolean;
  /** The earliest future instant at which the result may change with no new data; undefined = never. */
  nextChangeAt?: Date;
}

export interface CompiledRule {
  evaluate(input: EvaluationInput): EvaluationResult;
  /** Event name → longest window needed in ms (an upper bound for calendar months), null = whole history. */
  eventRequirements: ReadonlyMap<string, number | null>;
  /** Top-level trait keys the rule reads (`address` for `address.city`). */
  traitRoots: readonly string[];
  /** Audiences the rule references. */
  audiences: readonly string[];
}

/** State of one evaluation: the instant, and the next change time reported by the last node evaluated. */
interface Context {
  readonly nowMs: number;
  next: number;
}

type Predicate = (input: EvaluationInput, ctx: Context) => boolean;
/** Tests a value read from a trait or a property. Time-dependent tests lower `ctx.next`. */
type ValueTest = (value: unknown, ctx: Context) => boolean;
type Getter = (root: unknown) => unknown;

const hasOwn = Object.prototype.hasOwnProperty;

function compileGetter(path: string): Getter {
  const parts = path.split('.');
  if (parts.length === 1) {
    return (root) => (typeof root === 'object' && root !== null && hasOwn.call(root, path) ? (root as Record<string, unknown>)[path] : undefined);
  }
  return (root) => {
    let current = root;
    for (const part of parts) {
      if (typeof current !== 'object' || current === null || !hasOwn.call(current, part)) return undefined;
      current = (current as Record<string, unknown>)[part];
    }
    return current;
  };
}

function invalid(message: string): never {
  throw new Error(`compileRule: ${message}; validate rules with parseRule first`);
}

function requireDuration(text: unknown): RuleDuration {
  const duration = typeof text === 'string' ? parseRuleDuration(text) : undefined;
  return duration ?? invalid(`${JSON.stringify(text)} is not a positive ISO-8601 duration`);
}

function requireScalar(op: Op, value: RuleValue | undefined): Scalar {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return invalid(`${op} needs a string, number or boolean`);
}

/** Equality as `eq` defines it: identical, or two dates at the same instant. */
function equalsTest(expected: Scalar): (value: unknown) => boolean {
  if (typeof expected === 'string') {
    const at = parseIsoInstant(expected);
    if (!Number.isNaN(at)) return (value) => value === expected || (typeof value === 'string' && parseIsoInstant(value) === at);
  }
  return (value) => value === expected;
}

function inTest(values: readonly Scalar[]): (value: unknown) => boolean {
  const exact = new Set<unknown>(values);
  const instants = new Set<number>();
  for (const value of values) {
    if (typeof value !== 'string') continue;
    const at = parseIsoInstant(value);
    if (!Number.isNaN(at)) instants.add(at);
  }
  if (instants.size === 0) return (value) => exact.has(value);
  return (value) => exact.has(value) || (typeof value === 'string' && instants.has(parseIsoInstant(value)));
}

function containsTest(expected: Scalar): (value: unknown) => boolean {
  const element = equalsTest(expected);
  const inArray = (value: unknown[]): boolean => {
    for (const item of value) if (element(item)) return true;
    return false;
  };
  if (typeof expected === 'string') return (value) => (typeof value === 'string' ? value.includes(expected) : Array.isArray(value) && inArray(value));
  return (value) => Array.isArray(value) && inArray(value);
}

type OrderOp = 'gt' | 'gte' | 'lt' | 'lte';

function orderTest(op: OrderOp, expected: Scalar): (value: unknown) => boolean {
  if (typeof expected === 'number') {
    switch (op) {
      case 'gt':
        return (value) => typeof value === 'number' && value > expected;
      case 'gte':
        return (value) => typeof value === 'number' && value >= expected;
      case 'lt':
        return (value) => typeof value === 'number' && value < expected;
      case 'lte':
        return (value) => typeof value === 'number' && value <= expected;
      default:
        return assertUnreachable(op);
    }
  }
  if (typeof expected !== 'string') return invalid(`${op} needs a number or a date`);
  const at = parseIsoInstant(expected);
  if (!Number.isNaN(at)) {
    // NaN (a string that is not a date) compares false either way.
    switch (op) {
      case 'gt':
        return (value) => typeof value === 'string' && parseIsoInstant(value) > at;
      case 'gte':
        return (value) => typeof value === 'string' && parseIsoInstant(value) >= at;
      case 'lt':
        return (value) => typeof value === 'string' && parseIsoInstant(value) < at;
      case 'lte':
        return (value) => typeof value === 'string' && parseIsoInstant(value) <= at;
      default:
        return assertUnreachable(op);
    }
  }
  // parseRule never lets a plain string through; kept so that the semantics stay total.
  const isPlain = (value: unknown): value is string => typeof value === 'string' && Number.isNaN(parseIsoInstant(value));
  switch (op) {
    case 'gt':
      return (value) => isPlain(value) && value > expected;
    case 'gte':
      return (value) => isPlain(value) && value >= expected;
    case 'lt':
      return (value) => isPlain(value) && value < expected;
    case 'lte':
      return (value) => isPlain(value) && value <= expected;
    default:
      return assertUnreachable(op);
  }
}

/** Remembers the window start of the last `now` seen: a batch evaluates many profiles at one instant. */
class Window {
  private lastNow = NaN;
  private lastStart = 0;

  constructor(readonly duration: RuleDuration) {}

  start(nowMs: number): number {
    if (nowMs !== this.lastNow) {
      this.lastStart = windowStart(nowMs, this.duration);
      this.lastNow = nowMs;
    }
    return this.lastStart;
  }

  /** The first instant at which `x` is at or before the window's start (has left the window). */
  reaches(x: number): number {
    return windowReaches(x, this.duration);
  }
}

function withinLastTest(duration: RuleDuration): ValueTest {
  const window = new Window(duration);
  return (value, ctx) => {
    if (typeof value !== 'string') return false;
    const at = parseIsoInstant(value);
    if (Number.isNaN(at)) return false;
    const now = ctx.nowMs;
    if (at > now) {
      if (at < ctx.next) ctx.next = at;
      return false;
    }
    if (at < window.start(now)) return false;
    // In while start ≤ at, i.e. until the start reaches at + 1 ms.
    const leaves = window.reaches(at + 1);
    if (leaves < ctx.next) ctx.next = leaves;
    return true;
  };
}

function compileTest(op: Op, value: RuleValue | undefined): ValueTest {
  const negate = (test: (value: unknown) => boolean): ValueTest => (v) => !test(v);
  switch (op) {
    case 'exists':
      return (v) => v !== undefined && v !== null;
    case 'not_exists':
      return (v) => v === undefined || v === null;
    case 'eq':
      return equalsTest(requireScalar(op, value));
    case 'neq':
      return negate(equalsTest(requireScalar(op, value)));
    case 'contains':
      return containsTest(requireScalar(op, value));
    case 'not_contains':
      return negate(containsTest(requireScalar(op, value)));
    case 'in':
      return inTest(Array.isArray(value) ? value : invalid('in needs an array'));
    case 'not_in':
      return negate(inTest(Array.isArray(value) ? value : invalid('not_in needs an array')));
    case 'starts_with': {
      const prefix = typeof value === 'string' ? value : invalid('starts_with needs a string');
      return (v) => typeof v === 'string' && v.startsWith(prefix);
    }
    case 'ends_with': {
      const suffix = typeof value === 'string' ? value : invalid('ends_with needs a string');
      return (v) => typeof v === 'string' && v.endsWith(suffix);
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return orderTest(op, requireScalar(op, value));
    case 'before':
    case 'after': {
      if (typeof value !== 'string' || Number.isNaN(parseIsoInstant(value))) return invalid(`${op} needs an ISO-8601 date`);
      return orderTest(op === 'before' ? 'lt' : 'gt', value);
    }
    case 'within_last':
      return withinLastTest(requireDuration(value));
    default:
      return assertUnreachable(op);
  }
}

function countTest(op: CountOp, n: number): (count: number) => boolean {
  switch (op) {
    case 'gte':
      return (c) => c >= n;
    case 'gt':
      return (c) => c > n;
    case 'eq':
      return (c) => c === n;
    case 'lte':
      return (c) => c <= n;
    case 'lt':
      return (c) => c < n;
    default:
      return assertUnreachable(op);
  }
}

/** The smallest k in 1..count such that losing k events flips `count op n`; 0 if none does. */
export function exitsToFlip(op: CountOp, n: number, count: number): number {
  let k: number;
  switch (op) {
    case 'gte':
      k = count >= n ? count - n + 1 : 0;
      break;
    case 'gt':
      k = count > n ? count - n : 0;
      break;
    case 'lte':
      k = count > n ? count - n : 0;
      break;
    case 'lt':
      k = count >= n ? count - n + 1 : 0;
      break;
    case 'eq':
      k = count === n ? 1 : count > n ? count - n : 0;
      break;
    default:
      return assertUnreachable(op);
  }
  return k >= 1 && k <= count ? k : 0;
}

/** The smallest k ≥ 1 such that gaining k events flips `count op n`; 0 if none does. */
export function entriesToFlip(op: CountOp, n: number, count: number): number {
  switch (op) {
    case 'gte':
      return count < n ? n - count : 0;
    case 'gt':
      return count <= n ? n - count + 1 : 0;
    case 'lte':
      return count <= n ? n - count + 1 : 0;
    case 'lt':
      return count < n ? n - count : 0;
    case 'eq':
      return count === n ? 1 : count < n ? n - count : 0;
    default:
      return assertUnreachable(op);
  }
}

function timestampAt(events: readonly EvaluationEvent[], index: number): number {
  const event = events[index];
  return event === undefined ? NaN : timeOf(event);
}

/** The first index in [from, to) whose timestamp is after `x` (events ascend by timestamp). */
function firstAfter(events: readonly EvaluationEvent[], x: number, from: number, to: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (timestampAt(events, mid) > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

type WhereTest = (properties: unknown, ctx: Context) => boolean;

function compileWhere(rule: EventRule): WhereTest | undefined {
  const clauses = (rule.where ?? []).map((clause) => ({ get: compileGetter(clause.property), test: compileTest(clause.op, clause.value) }));
  const [first] = clauses;
  if (first === undefined) return undefined;
  if (clauses.length === 1) {
    const { get, test } = first;
    return (properties, ctx) => test(get(properties), ctx);
  }
  return (properties, ctx) => {
    for (const clause of clauses) if (!clause.test(clause.get(properties), ctx)) return false;
    return true;
  };
}

function compileEvent(rule: EventRule): Predicate {
  const name = rule.event;
  const where = compileWhere(rule);
  const countOp = rule.count?.op ?? 'gte';
  const n = rule.count?.value ?? 1;
  const test = countTest(countOp, n);
  const window = rule.within === undefined ? undefined : new Window(requireDuration(rule.within));
  // Indices of the matching events in the window; reused across evaluations (no allocation).
  const matched: number[] = [];

  return (input, ctx) => {
    const events = input.eventsNamed(name);
    const total = events.length;
    const nowMs = ctx.nowMs;
    ctx.next = Infinity; // time-dependent where clauses lower it
    const lo = window === undefined || total === 0 ? 0 : firstAfter(events, window.start(nowMs), 0, total);
    const hi = total === 0 || timestampAt(events, total - 1) <= nowMs ? total : firstAfter(events, nowMs, lo, total);
    let count = 0;
    if (where === undefined) {
      count = hi - lo;
    } else {
      for (let i = lo; i < hi; i++) {
        const event = events[i];
        if (event !== undefined && where(event.properties, ctx)) matched[count++] = i;
      }
    }
    const result = test(count);
    let next = Infinity;
    if (window !== undefined) {
      // Events leave the window oldest first: the k-th matching one flips the result.
      const k = exitsToFlip(countOp, n, count);
      if (k > 0) next = window.reaches(timestampAt(events, where === undefined ? lo + k - 1 : (matched[k - 1] ?? lo)));
      // A future event can change the count from its time on (conservative: the first one).
      for (let i = hi; i < total; i++) {
        const event = events[i];
        if (event !== undefined && (where === undefined || where(event.properties, ctx))) {
          next = Math.min(next, timeOf(event));
          break;
        }
      }
    } else if (hi < total) {
      // Without a window the count only grows: the k-th future matching event flips it.
      let k = entriesToFlip(countOp, n, count);
      for (let i = hi; k > 0 && i < total; i++) {
        const event = events[i];
        if (event !== undefined && (where === undefined || where(event.properties, ctx)) && --k === 0) next = Math.min(next, timeOf(event));
      }
    }
    if (next < ctx.next) ctx.next = next;
    return result;
  };
}

/** A rough cost, to evaluate cheap children of all / any first (they often decide alone). */
function cost(rule: Rule): number {
  const node = classifyRule(rule);
  switch (node.kind) {
    case 'all':
      return node.rule.all.reduce((sum, child) => sum + cost(child), 0);
    case 'any':
      return node.rule.any.reduce((sum, child) => sum + cost(child), 0);
    case 'not':
      return cost(node.rule.not);
    case 'trait':
    case 'audience':
      return 1;
    case 'event':
      return 4 + (node.rule.where?.length ?? 0) * 2 + (node.rule.within === undefined ? 4 : 0);
    default:
      return assertUnreachable(node);
  }
}

function compileChildren(children: readonly Rule[]): Predicate[] {
  return children
    .map((child, index) => ({ child, index, cost: cost(child) }))
    .sort((a, b) => a.cost - b.cost || a.index - b.index)
    .map(({ child }) => compileNode(child));
}

function compileAll(children: Predicate[]): Predicate {
  return (input, ctx) => {
    let holdsUntil = Infinity; // while every child holds: the earliest change of any child
    let failsUntil = -Infinity; // while some fail: the latest change of a failing child
    let failed = false;
    for (const child of children) {
      if (child(input, ctx)) {
        if (ctx.next < holdsUntil) holdsUntil = ctx.next;
      } else {
        // A child that fails for good decides alone.
        if (ctx.next === Infinity) return false;
        failed = true;
        if (ctx.next > failsUntil) failsUntil = ctx.next;
      }
    }
    ctx.next = failed ? failsUntil : holdsUntil;
    return !failed;
  };
}

function compileAny(children: Predicate[]): Predicate {
  return (input, ctx) => {
    let failsUntil = Infinity;
    let holdsUntil = -Infinity;
    let held = false;
    for (const child of children) {
      if (child(input, ctx)) {
        if (ctx.next === Infinity) return true;
        held = true;
        if (ctx.next > holdsUntil) holdsUntil = ctx.next;
      } else if (ctx.next < failsUntil) {
        failsUntil = ctx.next;
      }
    }
    ctx.next = held ? holdsUntil : failsUntil;
    return held;
  };
}

function compileNode(rule: Rule): Predicate {
  const node = classifyRule(rule);
  switch (node.kind) {
    case 'all':
      return compileAll(compileChildren(node.rule.all));
    case 'any':
      return compileAny(compileChildren(node.rule.any));
    case 'not': {
      const child = compileNode(node.rule.not);
      return (input, ctx) => !child(input, ctx);
    }
    case 'trait': {
      const get = compileGetter(node.rule.trait);
      const test = compileTest(node.rule.op, node.rule.value);
      return (input, ctx) => {
        ctx.next = Infinity;
        return test(get(input.traits), ctx);
      };
    }
    case 'event':
      return compileEvent(node.rule);
    case 'audience': {
      const id = node.rule.audience;
      return (input, ctx) => {
        ctx.next = Infinity;
        return input.isMember(id);
      };
    }
    default:
      return assertUnreachable(node);
  }
}

/**
 * Records that `event` must be read `windowMs` back (`null`: all of it), keeping the widest
 * window asked for each name.
 */
export function widenWindow(into: Map<string, number | null>, event: string, windowMs: number | null): void {
  const known = into.get(event);
  if (!into.has(event)) into.set(event, windowMs);
  else if (known !== null && known !== undefined && (windowMs === null || windowMs > known)) into.set(event, windowMs);
}

/** The widest window of each event name the rules need (what to read before evaluating them together). */
export function combinedEventRequirements(rules: Iterable<Pick<CompiledRule, 'eventRequirements'>>): Map<string, number | null> {
  const windows = new Map<string, number | null>();
  for (const rule of rules) for (const [name, windowMs] of rule.eventRequirements) widenWindow(windows, name, windowMs);
  return windows;
}

function eventRequirementsOf(rule: Rule, into: Map<string, number | null>): void {
  const node = classifyRule(rule);
  switch (node.kind) {
    case 'all':
      for (const child of node.rule.all) eventRequirementsOf(child, into);
      return;
    case 'any':
      for (const child of node.rule.any) eventRequirementsOf(child, into);
      return;
    case 'not':
      eventRequirementsOf(node.rule.not, into);
      return;
    case 'trait':
    case 'audience':
      return;
    case 'event':
      widenWindow(into, node.rule.event, node.rule.within === undefined ? null : requireDuration(node.rule.within).maxMs);
      return;
    default:
      assertUnreachable(node);
  }
}

/**
 * Compiles a validated rule (see `parseRule`) into a fast predicate. Throws on a rule that
 * `parseRule` would refuse.
 *
 * @example
 * const rule = compileRule({ not: { event: 'Order Completed', within: 'P1D' } });
 * const result = rule.evaluate({ traits: {}, eventsNamed: () => [], isMember: () => false, now: new Date() });
 * // { matches: true } — no order in the last day, and none can leave the window
 */
export function compileRule(rule: Rule): CompiledRule {
  const root = compileNode(rule);
  const references = ruleReferences(rule);
  const eventRequirements = new Map<string, number | null>();
  eventRequirementsOf(rule, eventRequirements);
  return {
    evaluate(input: EvaluationInput): EvaluationResult {
      const ctx: Context = { nowMs: input.now.getTime(), next: Infinity };
      const matches = root(input, ctx);
      return ctx.next === Infinity ? { matches } : { matches, nextChangeAt: new Date(ctx.next) };
    },
    eventRequirements,
    traitRoots: references.traitRoots,
    audiences: references.audiences,
  };
}
