import { Duration } from 'luxon';

/**
 * Dates and durations of the rule language, and the window arithmetic the evaluator needs.
 * Everything is in UTC, where a day is always 24 hours: only years and months are calendar
 * units.
 */

const DAY_MS = 86_400_000;
/** Length of 400 Gregorian years: Date.UTC maps years 0–99 to 1900–1999, so those are shifted. */
const GREGORIAN_CYCLE_MS = 12_622_780_800_000;

/** Date.UTC for every year from 0 to 9999 (Date.UTC reads 0–99 as 1900–1999). */
function utc(year: number, monthIndex: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number {
  if (year >= 100) return Date.UTC(year, monthIndex, day, hour, minute, second, ms);
  return Date.UTC(year + 400, monthIndex, day, hour, minute, second, ms) - GREGORIAN_CYCLE_MS;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

function daysIn(year: number, month1: number): number {
  return month1 === 2 && isLeap(year) ? 29 : (MONTH_DAYS[month1 - 1] ?? 31);
}

/** Reads `length` ASCII digits at `at`; -1 when any of them is not a digit. */
function digits(s: string, at: number, length: number): number {
  let value = 0;
  for (let i = at; i < at + length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    value = value * 10 + c;
  }
  return value;
}

/**
 * The instant an ISO-8601 date or date-time string denotes, in epoch ms, or NaN when the
 * string is not one. Accepted: `YYYY-MM-DD` (midnight UTC) and
 * `YYYY-MM-DDTHH:MM[:SS[.fraction]][Z|±HH:MM|±HHMM]` (no zone = UTC). Calendar fields are
 * checked (`2026-02-30` is not a date). Written by hand because it runs on trait values in
 * every evaluation: no regular expression, no allocation.
 *
 * @example
 * parseIsoInstant('2026-01-02') === Date.UTC(2026, 0, 2);
 * Number.isNaN(parseIsoInstant('next tuesday'));
 */
export function parseIsoInstant(s: string): number {
  const n = s.length;
  if (n < 10 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return NaN;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return NaN;
  if (n === 10) return utc(year, month - 1, day);
  if (n < 16 || s.charCodeAt(10) !== 84 /* T */ || s.charCodeAt(13) !== 58 /* : */) return NaN;
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59) return NaN;
  let at = 16;
  let second = 0;
  let ms = 0;
  if (at < n && s.charCodeAt(at) === 58) {
    second = digits(s, at + 1, 2);
    if (second < 0 || second > 59) return NaN;
    at += 3;
    if (at < n && s.charCodeAt(at) === 46 /* . */) {
      at++;
      const start = at;
      while (at < n) {
        const c = s.charCodeAt(at) - 48;
        if (c < 0 || c > 9) break;
        // Milliseconds are the first three fraction digits; further digits are truncated.
        if (at - start < 3) ms += c * (at - start === 0 ? 100 : at - start === 1 ? 10 : 1);
        at++;
      }
      if (at === start) return NaN;
    }
  }
  let offsetMinutes = 0;
  if (at < n) {
    const c = s.charCodeAt(at);
    if (c === 90 /* Z */) {
      if (at + 1 !== n) return NaN;
    } else if (c === 43 /* + */ || c === 45 /* - */) {
      const oh = digits(s, at + 1, 2);
      let om: number;
      if (n === at + 6 && s.charCodeAt(at + 3) === 58) om = digits(s, at + 4, 2);
      else if (n === at + 5) om = digits(s, at + 3, 2);
      else return NaN;
      if (oh < 0 || oh > 23 || om < 0 || om > 59) return NaN;
      offsetMinutes = (c === 43 ? 1 : -1) * (oh * 60 + om);
    } else {
      return NaN;
    }
  }
  return utc(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000;
}

/** True when `value` is an ISO-8601 date or date-time string (see {@link parseIsoInstant}). */
export function isIsoInstant(value: unknown): value is string {
  return typeof value === 'string' && !Number.isNaN(parseIsoInstant(value));
}

/**
 * A positive duration of the rule language, split into calendar months (years count 12) and a
 * fixed part in ms (weeks, days, hours, minutes, seconds: fixed lengths in UTC).
 */
export interface RuleDuration {
  readonly iso: string;
  readonly months: number;
  readonly fixedMs: number;
  /** An upper bound of its length in ms (a month counts 31 days, a year 366). */
  readonly maxMs: number;
  /** Its length with luxon's casual conversion (a month is 30 days, a year 365), for limits. */
  readonly casualMs: number;
}

/**
 * The shapes accepted: whole numbers everywhere except seconds (up to 3 decimals, i.e. ms), no
 * signs, at least one component. Luxon alone would also take `P-1D`, `P1.5M` and `P`.
 */
const DURATION_SHAPE = /^P(?=\d|T\d)(?:\d+Y)?(?:\d+M)?(?:\d+W)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d{1,3})?S)?)?$/;

/**
 * Parses an ISO-8601 duration (`P7D`, `PT30M`, `P1M`, `P1Y2M3DT4H`); undefined when it is not
 * one, or is zero.
 *
 * @example
 * parseRuleDuration('P1DT12H')?.fixedMs === 129_600_000;
 */
export function parseRuleDuration(text: string): RuleDuration | undefined {
  if (!DURATION_SHAPE.test(text)) return undefined;
  const parsed = Duration.fromISO(text);
  if (!parsed.isValid) return undefined;
  const o = parsed.toObject();
  const months = (o.years ?? 0) * 12 + (o.months ?? 0);
  const fixedMs =
    (o.weeks ?? 0) * 7 * DAY_MS + (o.days ?? 0) * DAY_MS + (o.hours ?? 0) * 3_600_000 + (o.minutes ?? 0) * 60_000 + (o.seconds ?? 0) * 1000 + (o.milliseconds ?? 0);
  if (!Number.isSafeInteger(months) || !Number.isSafeInteger(fixedMs) || (months === 0 && fixedMs === 0)) return undefined;
  return { iso: text, months, fixedMs, maxMs: months * 31 * DAY_MS + fixedMs, casualMs: parsed.toMillis() };
}

// One Date reused for field extraction keeps window arithmetic allocation-free.
const scratch = new Date(0);

/**
 * `t` minus `months` calendar months. When the day does not exist in the target month
 * (31 March − 1 month), the result is the end of that month — the first instant of the next
 * one — where luxon would keep the time of day on the last day (28 February 10:00). Luxon's
 * version moves backwards from 28 to 29 March (28 February 23:00, then 28 February 01:00),
 * which would let an event that had left a window enter it again; this one is luxon's
 * arithmetic made monotone (the smallest non-decreasing function above it).
 */
function monthsBefore(t: number, months: number): number {
  scratch.setTime(t);
  const year = scratch.getUTCFullYear();
  const month0 = scratch.getUTCMonth();
  const day = scratch.getUTCDate();
  const timeOfDay = t - utc(year, month0, day);
  const target0 = month0 - months;
  const targetYear = year + Math.floor(target0 / 12);
  const targetMonth1 = (((target0 % 12) + 12) % 12) + 1;
  if (day <= daysIn(targetYear, targetMonth1)) return utc(targetYear, targetMonth1 - 1, day) + timeOfDay;
  return utc(targetYear, targetMonth1, 1);
}

/** `t` plus `months` calendar months, the day clamped to the target month (luxon's `plus`). */
function monthsAfter(t: number, months: number): number {
  scratch.setTime(t);
  const year = scratch.getUTCFullYear();
  const month0 = scratch.getUTCMonth();
  const day = scratch.getUTCDate();
  const timeOfDay = t - utc(year, month0, day);
  const target0 = month0 + months;
  const targetYear = year + Math.floor(target0 / 12);
  const targetMonth1 = (target0 % 12) + 1;
  return utc(targetYear, targetMonth1 - 1, Math.min(day, daysIn(targetYear, targetMonth1))) + timeOfDay;
}

/**
 * The start of the window `duration` that ends at `nowMs`: `now − duration` in calendar
 * arithmetic (months first, then the fixed part). Non-decreasing in `nowMs`, so a window
 * only ever moves forward.
 *
 * @example
 * windowStart(Date.parse('2026-03-31T10:00:00Z'), parseRuleDuration('P1M')!) === Date.parse('2026-03-01T00:00:00Z');
 */
export function windowStart(nowMs: number, duration: RuleDuration): number {
  if (duration.months === 0) return nowMs - duration.fixedMs;
  return monthsBefore(nowMs, duration.months) - duration.fixedMs;
}

/**
 * The first instant `t` (whole ms) at which `windowStart(t, duration) >= x`, i.e. when an
 * instant `x` has left the window. Exact: the check against the forward sum catches the
 * month-end cases, which fall back to a bisection (window starts are monotone).
 */
export function windowReaches(x: number, duration: RuleDuration): number {
  if (duration.months === 0) return x + duration.fixedMs;
  const target = x + duration.fixedMs;
  const candidate = monthsAfter(target, duration.months);
  const reaches = (t: number): boolean => monthsBefore(t, duration.months) >= target;
  if (reaches(candidate) && !reaches(candidate - 1)) return candidate;
  // monthsBefore(t) < t for at least one month, and lies at most 31 days a month behind t.
  let lo = target;
  let hi = target + duration.months * 31 * DAY_MS + DAY_MS;
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (reaches(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
