import { DateTime, Duration } from 'luxon';
import type { EvaluationInput } from '../../../shared/domain/audience/evaluate';
import type { Op, Rule, RuleValue } from '../../../shared/domain/audience/rule';

/**
 * A deliberately naive evaluator: it interprets the JSON rule on every call, straight from
 * the semantics written in shared/domain/audience/evaluate.ts, with its own date parsing
 * (a regular expression and luxon) and window arithmetic (luxon). The property tests check
 * that the compiled evaluator agrees with it. It reads every event it is given (order
 * ignored) and computes no next-change time.
 */

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

// Caches only keep the property tests quick; they change no result.
const dates = new Map<string, number | undefined>();
const starts = new Map<string, number>();

export function refDate(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  if (dates.has(value)) return dates.get(value);
  let at: number | undefined;
  if (DATE.test(value) || DATE_TIME.test(value)) {
    const parsed = DateTime.fromISO(value, { zone: 'utc' });
    at = parsed.isValid ? parsed.toMillis() : undefined;
  }
  dates.set(value, at);
  return at;
}

/** `now − duration`: luxon's calendar subtraction, except that a month-end day the target month lacks gives that month's end. */
export function refWindowStart(now: number, iso: string): number {
  const key = `${now} ${iso}`;
  const known = starts.get(key);
  if (known !== undefined) return known;
  const start = computeWindowStart(now, iso);
  starts.set(key, start);
  return start;
}

function computeWindowStart(now: number, iso: string): number {
  const duration = Duration.fromISO(iso);
  const at = DateTime.fromMillis(now, { zone: 'utc' });
  let back = at.minus({ years: duration.years, months: duration.months });
  if (back.day !== at.day) back = back.startOf('month').plus({ months: 1 });
  return back.minus({ weeks: duration.weeks, days: duration.days, hours: duration.hours, minutes: duration.minutes, seconds: duration.seconds, milliseconds: duration.milliseconds }).toMillis();
}

function read(root: unknown, path: string): unknown {
  let current = root;
  for (const part of path.split('.')) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function same(a: unknown, b: unknown): boolean {
  const da = refDate(a);
  const db = refDate(b);
  if (da !== undefined && db !== undefined) return da === db;
  return a === b;
}

/** Negative, zero or positive; undefined when the two cannot be ordered. */
function compare(a: unknown, b: unknown): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const da = refDate(a);
  const db = refDate(b);
  if (da !== undefined && db !== undefined) return da - db;
  if (typeof a === 'string' && typeof b === 'string' && da === undefined && db === undefined) return a < b ? -1 : a > b ? 1 : 0;
  return undefined;
}

function holds(op: Op, actual: unknown, expected: RuleValue | undefined, now: number): boolean {
  const missing = actual === undefined || actual === null;
  switch (op) {
    case 'exists':
      return !missing;
    case 'not_exists':
      return missing;
    case 'neq':
      return !holds('eq', actual, expected, now);
    case 'not_in':
      return !holds('in', actual, expected, now);
    case 'not_contains':
      return !holds('contains', actual, expected, now);
    default:
      break;
  }
  if (missing) return false;
  switch (op) {
    case 'eq':
      return same(actual, expected);
    case 'in':
      return Array.isArray(expected) && expected.some((value) => same(actual, value));
    case 'contains':
      if (typeof actual === 'string') return typeof expected === 'string' && actual.includes(expected);
      return Array.isArray(actual) && actual.some((item) => same(item, expected));
    case 'starts_with':
      return typeof actual === 'string' && typeof expected === 'string' && actual.startsWith(expected);
    case 'ends_with':
      return typeof actual === 'string' && typeof expected === 'string' && actual.endsWith(expected);
    case 'gt':
    case 'after': {
      const c = compare(actual, expected);
      return c !== undefined && c > 0 && (op === 'gt' || refDate(actual) !== undefined);
    }
    case 'gte': {
      const c = compare(actual, expected);
      return c !== undefined && c >= 0;
    }
    case 'lt':
    case 'before': {
      const c = compare(actual, expected);
      return c !== undefined && c < 0 && (op === 'lt' || refDate(actual) !== undefined);
    }
    case 'lte': {
      const c = compare(actual, expected);
      return c !== undefined && c <= 0;
    }
    case 'within_last': {
      const at = refDate(actual);
      return at !== undefined && typeof expected === 'string' && refWindowStart(now, expected) <= at && at <= now;
    }
    default:
      throw new Error(`unexpected op ${op}`);
  }
}

export function referenceEvaluate(rule: Rule, input: EvaluationInput): boolean {
  const now = input.now.getTime();
  if ('all' in rule) return rule.all.every((child) => referenceEvaluate(child, input));
  if ('any' in rule) return rule.any.some((child) => referenceEvaluate(child, input));
  if ('not' in rule) return !referenceEvaluate(rule.not, input);
  if ('audience' in rule) return input.isMember(rule.audience);
  if ('trait' in rule) return holds(rule.op, read(input.traits, rule.trait), rule.value, now);
  const start = rule.within === undefined ? -Infinity : refWindowStart(now, rule.within);
  const count = input.eventsNamed(rule.event).filter((event) => {
    const at = Date.parse(event.timestamp);
    return at > start && at <= now && (rule.where ?? []).every((clause) => holds(clause.op, read(event.properties, clause.property), clause.value, now));
  }).length;
  const { op, value } = rule.count ?? { op: 'gte', value: 1 };
  switch (op) {
    case 'gte':
      return count >= value;
    case 'gt':
      return count > value;
    case 'eq':
      return count === value;
    case 'lte':
      return count <= value;
    case 'lt':
      return count < value;
    default:
      throw new Error(`unexpected count op ${String(op)}`);
  }
}
