import { storableTimeIso, storableTimeMs } from './validation';

describe('storableTimeMs', () => {
  it.each([
    ['2026-01-01T00:00:00Z', '2026-01-01T00:00:00.000Z'],
    ['2026-01-01T00:00:00+15:59', '2025-12-31T08:01:00.000Z'],
    ['2026-01-01T00:00:00-15:59', '2026-01-01T15:59:00.000Z'],
    ['2026-01-01T00:00:00.123456789Z', '2026-01-01T00:00:00.123Z'],
    ['2026-01-01T10:15:30', '2026-01-01T10:15:30.000Z'],
    ['2026-01-01 10:15Z', '2026-01-01T10:15:00.000Z'],
    ['2026-01-01', '2026-01-01T00:00:00.000Z'],
    ['2026-01', '2026-01-01T00:00:00.000Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
  ])('%s is stored as %s', (value, iso) => {
    expect(storableTimeIso(value)).toBe(iso);
  });

  it.each([
    ['an offset beyond ±15:59', '2026-01-01T00:00:00+23:59'],
    ['an offset of 16 hours', '2026-01-01T00:00:00-16:00'],
    ['a compact offset beyond the limit', '2026-01-01T00:00:00+2359'],
    ['an hour-only offset beyond the limit', '2026-01-01T00:00:00+23'],
    ['a time after 9999 in UTC', '9999-12-31T23:59:59-15:00'],
    ['a time before the year 1 in UTC', '0001-01-01T00:00:00+01:00'],
    ['a week date', '2026-W01-1'],
    ['the basic format', '20260101T000000Z'],
    ['a decimal comma', '2026-01-01T00:00:00,5Z'],
    ['an hour without minutes', '2026-01-01T00Z'],
    ['no time at all', 'yesterday'],
  ])('refuses %s (%s)', (_name, value) => {
    expect(storableTimeMs(value)).toBeNull();
  });
});
