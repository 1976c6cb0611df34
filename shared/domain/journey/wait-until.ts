import { DateTime, IANAZone } from 'luxon';
import { WEEKDAYS } from './definition';

/** Used when the user's `timezone` trait is missing or not a valid IANA zone. */
export const DEFAULT_ZONE = 'UTC';

/**
 * The next moment, strictly after `now`, at which the wall clock in `zone` reads `time`
 * ("HH:MM"), on one of `weekdays` (every day when absent): what a `wait_until` step waits for.
 *
 * Daylight saving, as luxon resolves wall-clock times: a time that does not exist that day
 * (skipped by a spring-forward) is moved forward past the gap; a time that occurs twice (the
 * fall-back hour) is its second, standard-time occurrence. `zone` falls back to UTC when
 * invalid, so a user without a usable `timezone` trait still moves on.
 *
 * @example
 * nextWallClockTime(new Date('2026-11-29T10:00:00Z'), '09:00', 'Europe/Paris'); // 2026-11-30T08:00:00Z
 */
export function nextWallClockTime(now: Date, time: string, zone: string, weekdays?: readonly (typeof WEEKDAYS)[number][]): Date {
  const [hour, minute] = time.split(':').map(Number);
  const tz = IANAZone.isValidZone(zone) ? zone : DEFAULT_ZONE;
  const allowed = new Set((weekdays ?? WEEKDAYS).map((day) => WEEKDAYS.indexOf(day) + 1)); // luxon: Monday = 1
  const start = DateTime.fromJSDate(now, { zone: tz });
  // At most 8 calendar days ahead: today (if still to come) and the next seven.
  for (let offset = 0; offset <= 8; offset++) {
    const day = start.plus({ days: offset });
    if (!allowed.has(day.weekday)) continue;
    const candidate = DateTime.fromObject({ year: day.year, month: day.month, day: day.day, hour, minute }, { zone: tz });
    if (candidate.toMillis() > now.getTime()) return candidate.toJSDate();
  }
  throw new Error(`no ${time} in ${tz} within 8 days of ${now.toISOString()}`);
}
