import { nextWallClockTime } from '../../../shared/domain/journey/wait-until';

describe('nextWallClockTime', () => {
  it.each([
    ['later today', '2026-11-29T06:00:00Z', '09:00', 'Europe/Paris', undefined, '2026-11-29T08:00:00.000Z'],
    ['tomorrow when today’s has passed', '2026-11-29T10:00:00Z', '09:00', 'Europe/Paris', undefined, '2026-11-30T08:00:00.000Z'],
    ['strictly after now (the exact minute is next day’s)', '2026-11-29T08:00:00Z', '09:00', 'Europe/Paris', undefined, '2026-11-30T08:00:00.000Z'],
    ['in a zone west of UTC, across the UTC date line', '2026-11-29T23:30:00Z', '18:00', 'America/New_York', undefined, '2026-11-30T23:00:00.000Z'],
    ['on given weekdays only (Sunday now → Monday)', '2026-11-29T12:00:00Z', '09:00', 'UTC', ['mon'], '2026-11-30T09:00:00.000Z'],
    ['a single weekday a week away', '2026-11-30T10:00:00Z', '09:00', 'UTC', ['mon'], '2026-12-07T09:00:00.000Z'],
    ['an invalid zone falls back to UTC', '2026-11-29T06:00:00Z', '09:00', 'Mars/Olympus', undefined, '2026-11-29T09:00:00.000Z'],
    ['a time skipped by spring-forward moves past the gap', '2026-03-29T00:00:00Z', '02:30', 'Europe/Paris', undefined, '2026-03-29T01:30:00.000Z'],
    ['a time repeated by fall-back is its second (standard-time) occurrence', '2026-10-24T12:00:00Z', '02:30', 'Europe/Paris', ['sun'], '2026-10-25T01:30:00.000Z'],
  ] as const)('%s', (_name, now, time, zone, weekdays, expected) => {
    // Act
    const next = nextWallClockTime(new Date(now), time, zone, weekdays);
    // Assess
    expect(next.toISOString()).toBe(expected);
  });
});
