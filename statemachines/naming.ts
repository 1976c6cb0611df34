import { Duration } from 'luxon';
import { MAX_STATE_NAME_LENGTH } from './asl';

/**
 * State names are what people read in the Step Functions console, so they say what the step
 * does (`Wait 3 days`, `Still has cart?`, `Send email: Cart reminder`). ASL wants them unique
 * and at most 80 characters: {@link StateNames} cleans, shortens and numbers them.
 */

const UNITS = [
  ['years', 'year'],
  ['months', 'month'],
  ['weeks', 'week'],
  ['days', 'day'],
  ['hours', 'hour'],
  ['minutes', 'minute'],
  ['seconds', 'second'],
] as const;

/**
 * An ISO-8601 duration in words, unit by unit as written (`P1DT12H` → `1 day 12 hours`).
 *
 * @example
 * humanDuration('P3D'); // '3 days'
 * humanDuration('PT1H30M'); // '1 hour 30 minutes'
 */
export function humanDuration(iso: string): string {
  const object = Duration.fromISO(iso).toObject();
  // Luxon splits fractional seconds into milliseconds: `PT1.5S` is 1 second 500 milliseconds.
  const parts = { ...object, seconds: (object.seconds ?? 0) + (object.milliseconds ?? 0) / 1000 };
  const words: string[] = [];
  for (const [plural, singular] of UNITS) {
    const value = parts[plural] ?? 0;
    if (value !== 0) words.push(`${value} ${value === 1 ? singular : plural}`);
  }
  return words.length === 0 ? iso : words.join(' ');
}

/** Capitalised weekday abbreviations: `mon` → `Mon`. */
export function weekdayLabel(day: string): string {
  return day.charAt(0).toUpperCase() + day.slice(1);
}

const ELLIPSIS = '…';

/** Control characters and line breaks become spaces; runs of white space collapse. */
export function cleanLabel(label: string): string {
  // eslint-disable-next-line no-control-regex
  return label.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').replace(/\s+/g, ' ').trim();
}

/** `label` + `suffix`, with `label` cut (on code points, with an ellipsis) to fit `max`. */
function fit(label: string, suffix: string, max: number): string {
  const points = Array.from(label);
  const room = max - Array.from(suffix).length;
  if (points.length <= room) return label + suffix;
  return points.slice(0, room - 1).join('').trimEnd() + ELLIPSIS + suffix;
}

/**
 * Hands out unique state names in the order asked: the first `Wait 3 days` keeps its name,
 * the next becomes `Wait 3 days (2)`, then `(3)`... A name is shortened to
 * {@link MAX_STATE_NAME_LENGTH} code points (suffix included) before numbering, so two long
 * labels that share their first 79 characters still end up distinct.
 *
 * @example
 * const names = new StateNames();
 * names.allocate('Wait 3 days'); // 'Wait 3 days'
 * names.allocate('Wait 3 days'); // 'Wait 3 days (2)'
 */
export class StateNames {
  private readonly used = new Set<string>();
  /** The next number to try per label, so the 100th "Wait 1 day" costs one lookup, not 100. */
  private readonly nextNumber = new Map<string, number>();

  constructor(private readonly max = MAX_STATE_NAME_LENGTH) {}

  allocate(label: string): string {
    const base = cleanLabel(label) || 'Step';
    for (let n = this.nextNumber.get(base) ?? 1; ; n++) {
      const name = fit(base, n === 1 ? '' : ` (${n})`, this.max);
      if (!this.used.has(name)) {
        this.used.add(name);
        this.nextNumber.set(base, n + 1);
        return name;
      }
    }
  }

  has(name: string): boolean {
    return this.used.has(name);
  }
}
