import fc from 'fast-check';
import { isIsoInstant, parseIsoInstant, parseRuleDuration, windowReaches, windowStart } from '../../../shared/domain/audience/time';
import { refDate, refWindowStart } from './reference-evaluator';

const FC = { seed: 20_260_315, numRuns: 300 };

describe('parseIsoInstant', () => {
  describe('when the string is an ISO-8601 date or date-time', () => {
    it.each<[string, string]>([
      ['2026-01-02', '2026-01-02T00:00:00.000Z'],
      ['2026-01-01T12:00:00Z', '2026-01-01T12:00:00.000Z'],
      ['2026-01-01T12:00Z', '2026-01-01T12:00:00.000Z'],
      ['2026-01-01T12:00', '2026-01-01T12:00:00.000Z'],
      ['2026-01-01T12:00:00.5Z', '2026-01-01T12:00:00.500Z'],
      ['2026-01-01T12:00:00.123456Z', '2026-01-01T12:00:00.123Z'],
      ['2026-01-01T12:00:00+02:00', '2026-01-01T10:00:00.000Z'],
      ['2026-01-01T00:30:00-0130', '2026-01-01T02:00:00.000Z'],
      ['2024-02-29', '2024-02-29T00:00:00.000Z'],
      ['0050-06-01', '0050-06-01T00:00:00.000Z'],
    ])('reads %s as %s', (text, iso) => {
      // Act / Assess
      expect(new Date(parseIsoInstant(text)).toISOString()).toBe(iso);
      expect(isIsoInstant(text)).toBe(true);
    });
  });

  describe('when the string is not one', () => {
    it.each(['', 'yesterday', '2026-02-30', '2025-02-29', '2026-13-01', '2026-1-01', '2026-01-01T24:00:00Z', '2026-01-01T12:60Z', '2026-01-01 12:00:00Z', '2026-01-01T12:00:00ZZ', '2026-01-01T12:00:00.Z', '2026-01-01T12', '2026-01-01T12:00:00+2', '20260101', '2026-01-01x'])(
      'returns NaN for %j',
      (text) => {
        expect(parseIsoInstant(text)).toBeNaN();
        expect(isIsoInstant(text)).toBe(false);
      },
    );
  });

  it('agrees with the reference parser on random strings shaped like dates', () => {
    // Prepare
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    const zone = fc.constantFrom('', 'Z', '+02:00', '-0530', '+23:59');
    const text = fc
      .tuple(fc.integer({ min: 1000, max: 9999 }), two(13), two(32), fc.boolean(), two(24), two(60), fc.constantFrom('', ':07', ':59.1', ':30.123456'), zone)
      .map(([y, mo, d, withTime, h, mi, s, z]) => `${y}-${mo}-${d}${withTime ? `T${h}:${mi}${s}${z}` : ''}`);
    // Act / Assess
    fc.assert(
      fc.property(text, (t) => {
        const mine = parseIsoInstant(t);
        expect(Number.isNaN(mine) ? undefined : mine).toBe(refDate(t));
      }),
      FC,
    );
  });
});

describe('parseRuleDuration', () => {
  it.each<[string, number, number]>([
    ['P7D', 0, 7 * 86_400_000],
    ['PT30M', 0, 1_800_000],
    ['PT1.5S', 0, 1500],
    ['P1W', 0, 7 * 86_400_000],
    ['P1M', 1, 0],
    ['P1Y2M3DT4H', 14, 3 * 86_400_000 + 4 * 3_600_000],
  ])('reads %s as %d months and %d ms', (text, months, fixedMs) => {
    expect(parseRuleDuration(text)).toMatchObject({ iso: text, months, fixedMs });
  });

  it.each(['P0D', 'PT0S', 'P', 'PT', 'P-1D', 'P1.5D', 'P1.5M', 'PT1.0001S', '7D', 'p7d', 'P7D ', 'P1DT', 'P1Q'])('refuses %j', (text) => {
    expect(parseRuleDuration(text)).toBeUndefined();
  });
});

describe('window arithmetic', () => {
  const durations = ['P1D', 'PT1H', 'P1M', 'P2M', 'P1Y', 'P1M1D', 'P1MT1H', 'P13M', 'P1M30D', 'P11M29DT23H', 'P1YT1S'];
  // Instants around month ends from 2023 to 2028, at any time of day.
  const instant = fc.integer({ min: Date.UTC(2023, 0, 1), max: Date.UTC(2028, 11, 31) });

  describe('when the target month has the day', () => {
    it('is luxon calendar subtraction', () => {
      expect(new Date(windowStart(Date.parse('2026-03-15T10:00:00Z'), parseRuleDuration('P1M1DT1H')!)).toISOString()).toBe('2026-02-14T09:00:00.000Z');
    });
  });

  describe('when the target month is shorter', () => {
    it('starts at the end of the target month', () => {
      // Prepare
      const month = parseRuleDuration('P1M')!;
      // Act / Assess: luxon gives 28 Feb 10:00, then 28 Feb 01:00 the next day
      expect(new Date(windowStart(Date.parse('2026-03-29T10:00:00Z'), month)).toISOString()).toBe('2026-03-01T00:00:00.000Z');
      expect(new Date(windowStart(Date.parse('2026-03-31T23:59:59Z'), month)).toISOString()).toBe('2026-03-01T00:00:00.000Z');
      expect(new Date(windowStart(Date.parse('2026-04-01T00:00:00Z'), month)).toISOString()).toBe('2026-03-01T00:00:00.000Z');
      expect(new Date(windowStart(Date.parse('2024-03-30T08:00:00Z'), month)).toISOString()).toBe('2024-03-01T00:00:00.000Z');
    });
  });

  it('agrees with the luxon reference', () => {
    fc.assert(
      fc.property(instant, fc.constantFrom(...durations), (t, iso) => {
        expect(windowStart(t, parseRuleDuration(iso)!)).toBe(refWindowStart(t, iso));
      }),
      FC,
    );
  });

  it('never moves back', () => {
    fc.assert(
      fc.property(instant, fc.integer({ min: 0, max: 4 * 86_400_000 }), fc.constantFrom(...durations), (t, later, iso) => {
        const d = parseRuleDuration(iso)!;
        expect(windowStart(t + later, d)).toBeGreaterThanOrEqual(windowStart(t, d));
      }),
      FC,
    );
  });

  it('windowReaches returns the first instant at which the window start reaches x', () => {
    // Prepare: x on day boundaries too, where month ends bite
    const x = fc.oneof(instant, instant.map((t) => t - (t % 86_400_000)));
    // Act / Assess
    fc.assert(
      fc.property(x, fc.constantFrom(...durations), (at, iso) => {
        const d = parseRuleDuration(iso)!;
        const reached = windowReaches(at, d);
        expect(windowStart(reached, d)).toBeGreaterThanOrEqual(at);
        expect(windowStart(reached - 1, d)).toBeLessThan(at);
      }),
      FC,
    );
  });

  it('windowReaches handles the start of a month reached early by a shorter month', () => {
    // 1 March 00:00 is the window start (P1M) from 29 March on in 2026
    expect(new Date(windowReaches(Date.parse('2026-03-01T00:00:00Z'), parseRuleDuration('P1M')!)).toISOString()).toBe('2026-03-29T00:00:00.000Z');
  });
});
