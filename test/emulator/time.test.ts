import fc from 'fast-check';
import {
  assertTimeZone,
  localDateAt,
  midnightInZone,
  offsetMinutesAt,
  parseDateInput,
  toGraphDateTime,
} from '../../src/emulator/time';

describe('SharePoint date handling', () => {
  it('prints instants in whole seconds UTC with Z', () => {
    expect(toGraphDateTime(Date.UTC(2016, 7, 30, 8, 26, 0, 999))).toBe('2016-08-30T08:26:00Z');
  });

  it('prints any instant as the ISO text of its whole second without milliseconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => {
        const second = Math.floor(ms / 1000) * 1000;
        expect(toGraphDateTime(ms)).toBe(new Date(second).toISOString().replace(/\.\d{3}Z$/, 'Z'));
      }),
    );
  });

  it('prints instants of one week (where the date is reused) as their ISO text too', () => {
    const start = Date.UTC(2026, 11, 1);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 7 * 86_400_000 }), { minLength: 1 }), (offsets) => {
        for (const offset of offsets) {
          const second = Math.floor((start + offset) / 1000) * 1000;
          expect(toGraphDateTime(start + offset)).toBe(
            new Date(second).toISOString().replace(/\.\d{3}Z$/, 'Z'),
          );
        }
      }),
    );
  });

  it('knows fixed offsets and IANA zones, including daylight saving time', () => {
    expect(offsetMinutesAt('UTC', 0)).toBe(0);
    expect(offsetMinutesAt('+01:00', 0)).toBe(60);
    expect(offsetMinutesAt('-05:30', 0)).toBe(-330);
    expect(offsetMinutesAt('Europe/Berlin', Date.UTC(2024, 0, 15))).toBe(60);
    expect(offsetMinutesAt('Europe/Berlin', Date.UTC(2024, 6, 15))).toBe(120);
    expect(() => assertTimeZone('Nowhere/City')).toThrow(/Unknown time zone/);
  });

  it('finds midnight of a date in a zone, and the local date of an instant', () => {
    expect(toGraphDateTime(midnightInZone('+01:00', { year: 2024, month: 3, day: 10 }))).toBe(
      '2024-03-09T23:00:00Z',
    );
    expect(toGraphDateTime(midnightInZone('America/New_York', { year: 2024, month: 3, day: 10 }))).toBe(
      '2024-03-10T05:00:00Z',
    );
    expect(toGraphDateTime(midnightInZone('America/New_York', { year: 2024, month: 3, day: 11 }))).toBe(
      '2024-03-11T04:00:00Z',
    );
    expect(localDateAt('+01:00', Date.UTC(2024, 2, 9, 23, 30))).toEqual({ year: 2024, month: 3, day: 10 });
  });

  it('parses ISO dates and date-times with a zone, nothing else', () => {
    expect(parseDateInput('2024-03-10')).toEqual({ kind: 'date', date: { year: 2024, month: 3, day: 10 } });
    expect(parseDateInput('2024-03-10T08:00:00.5+02:00')).toEqual({
      kind: 'instant',
      ms: Date.UTC(2024, 2, 10, 6, 0, 0, 500),
    });
    expect(parseDateInput('2024-02-30')).toBeUndefined();
    expect(parseDateInput('2024-03-10T08:00:00')).toBeUndefined();
    expect(parseDateInput('10/03/2024')).toBeUndefined();
  });
});
