import fc from 'fast-check';
import { parseCalendarDate, parseInstant, type Fail } from '../../../src/core/canonical/temporal';

/*
 * parseInstant and parseCalendarDate read their common shapes without a regular expression and compute four-digit
 * years by day arithmetic (issue 23.3). These are the implementations before that, pattern and Date only: the new
 * ones must give the same instant, the same date text and the same refusal for every text.
 */
const TIMESTAMP_PATTERN =
  /^(\d{4,})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?$/;
const DATE_PATTERN = /^(\d{4,})-(\d{2})-(\d{2})$/;
const DATE_PREFIX_PATTERN = /^(\d{4,})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}.*)?$/;
const pad = (value: number, width: number) => String(value).padStart(width, '0');

function utcEpochSecondsViaDate(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  fail: Fail,
) {
  if (mo < 1 || mo > 12) fail(`month ${mo} does not exist`);
  if (h > 23 || mi > 59 || s > 59) fail('time of day out of range');
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) {
    fail(`${y}-${pad(mo, 2)}-${pad(d, 2)} is not a calendar date`);
  }
  date.setUTCHours(h, mi, s, 0);
  return Math.floor(date.getTime() / 1000);
}

function offsetSeconds(offset: string | undefined): number {
  if (offset === undefined || offset === 'Z' || offset === 'z') return 0;
  const sign = offset.startsWith('-') ? -1 : 1;
  const digits = offset.slice(1).replace(/:/g, '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length >= 4 ? Number(digits.slice(2, 4)) : 0;
  const seconds = digits.length >= 6 ? Number(digits.slice(4, 6)) : 0;
  return sign * (hours * 3600 + minutes * 60 + seconds);
}

function parseInstantBefore(text: string, fail: Fail) {
  if (/ BC$/i.test(text)) fail('dates before the common era cannot be stored');
  if (/^[+-]?infinity$/i.test(text)) fail('infinite timestamps cannot be stored');
  const match = TIMESTAMP_PATTERN.exec(text);
  if (match === null) fail('not a timestamp (expected YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH[:MM]])');
  const [, year, month, day, hour, minute, second, fraction, offset] = match as RegExpExecArray;
  const local = utcEpochSecondsViaDate(
    Number(year),
    Number(month),
    Number(day),
    Number(hour ?? 0),
    Number(minute ?? 0),
    Number(second ?? 0),
    fail,
  );
  return { epochSeconds: local - offsetSeconds(offset), fraction: (fraction ?? '').replace(/0+$/, '') };
}

function parseCalendarDateBefore(text: string, fail: Fail, allowTimeSuffix: boolean) {
  if (/ BC$/i.test(text)) fail('dates before the common era cannot be stored');
  if (/^[+-]?infinity$/i.test(text)) fail('infinite dates cannot be stored');
  const match = (allowTimeSuffix ? DATE_PREFIX_PATTERN : DATE_PATTERN).exec(text);
  if (match === null) fail('not a date (expected YYYY-MM-DD)');
  const [, year, month, day] = match as RegExpExecArray;
  const epochSeconds = utcEpochSecondsViaDate(Number(year), Number(month), Number(day), 0, 0, 0, fail);
  return { text: `${pad(Number(year), 4)}-${month}-${day}`, epochSeconds };
}

const failing: Fail = (reason) => {
  throw new Error(reason);
};

function outcome<T>(read: () => T): { value: T } | { refused: string } {
  try {
    return { value: read() };
  } catch (error) {
    return { refused: (error as Error).message };
  }
}

const digits = (n: number) => fc.stringMatching(new RegExp(`^[0-9]{${n}}$`));
/** Texts near the shapes both read: real and impossible dates, times, fractions, offsets, and small corruptions. */
const timestampLike = fc
  .tuple(
    fc.oneof(digits(4), digits(5), fc.constantFrom('0000', '1900', '2000', '2024', '8900', '9999')),
    fc.oneof(digits(2), fc.constantFrom('01', '02', '12', '13', '00')),
    fc.oneof(digits(2), fc.constantFrom('28', '29', '30', '31', '00')),
    fc.option(
      fc.tuple(
        fc.constantFrom('T', ' ', 't', '_'),
        fc.oneof(digits(2), fc.constantFrom('23', '24')),
        fc.oneof(digits(2), fc.constantFrom('59', '60')),
        fc.option(fc.oneof(digits(2), fc.constantFrom('59', '60', '5'))),
        fc.option(fc.stringMatching(/^\.[0-9]{0,9}$/)),
      ),
    ),
    fc.option(
      fc.constantFrom(
        'Z',
        'z',
        '+01',
        '-05',
        '+05:30',
        '-0930',
        '+05:3',
        '+05:30:15',
        ' Z',
        ' +01',
        '+1',
        ' BC',
        'x',
      ),
    ),
  )
  .map(([y, mo, d, time, offset]) => {
    let text = `${y}-${mo}-${d}`;
    if (time) {
      const [sep, h, mi, s, f] = time;
      text += `${sep}${h}:${mi}`;
      if (s !== null) text += `:${s}${f ?? ''}`;
    }
    return text + (offset ?? '');
  });

describe('parseInstant and parseCalendarDate read as the pattern-only versions did (issue 23.3)', () => {
  it('timestamps: the same instant or the same refusal', () => {
    fc.assert(
      fc.property(fc.oneof(timestampLike, fc.string()), (text) => {
        expect(outcome(() => parseInstant(text, failing))).toEqual(
          outcome(() => parseInstantBefore(text, failing)),
        );
      }),
      { numRuns: 5_000 },
    );
  });

  it('dates: the same date text and midnight, or the same refusal, with and without a time suffix', () => {
    fc.assert(
      fc.property(fc.oneof(timestampLike, fc.string()), fc.boolean(), (text, suffix) => {
        expect(outcome(() => parseCalendarDate(text, failing, suffix))).toEqual(
          outcome(() => parseCalendarDateBefore(text, failing, suffix)),
        );
      }),
      { numRuns: 5_000 },
    );
  });

  it('every day of the leap-year and century edges, and Postgres text output', () => {
    for (const year of [0, 4, 100, 400, 1600, 1900, 2000, 2024, 2100, 8900, 9999])
      for (let month = 1; month <= 12; month++)
        for (let day = 0; day <= 32; day++) {
          const text = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
          expect(outcome(() => parseCalendarDate(text, failing, false))).toEqual(
            outcome(() => parseCalendarDateBefore(text, failing, false)),
          );
          const stamp = `${text} 23:59:59.000120+05:30`;
          expect(outcome(() => parseInstant(stamp, failing))).toEqual(
            outcome(() => parseInstantBefore(stamp, failing)),
          );
        }
    expect(parseInstant('2024-03-01 10:00:00.123456+01', failing)).toEqual({
      epochSeconds: Date.UTC(2024, 2, 1, 9) / 1000,
      fraction: '123456',
    });
  });
});
