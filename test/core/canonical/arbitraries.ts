/* fast-check generators for values as node-pg returns them with pgTypeParsers, per field kind. */
import fc from 'fast-check';
import type { FieldKind } from '../../../src/core/canonical';

const MIN_DATE = new Date('1900-01-02T00:00:00Z');
const MAX_DATE = new Date('8900-12-30T00:00:00Z');

function pad(value: number, width = 2): string {
  return String(Math.abs(value)).padStart(width, '0');
}

/** Text Postgres can store: any well-formed Unicode except NUL. */
export const pgText = (minLength = 0): fc.Arbitrary<string> =>
  fc
    .oneof(
      fc.string({ unit: 'grapheme', minLength }),
      fc.string({ unit: 'binary-ascii', minLength }),
      fc.constantFrom(' ', '  padded  ', '\t', 'line\nbreak', 'ünïcødé ✓'),
    )
    .filter((text) => !text.includes('\u0000') && text.length >= minLength);

export const instantInRange = fc.date({ min: MIN_DATE, max: MAX_DATE, noInvalidDate: true });

/** Postgres text output of a timestamp: 'YYYY-MM-DD HH:MM:SS[.ffffff]' plus an offset for timestamptz. */
export const pgTimestampText = (withOffset: boolean): fc.Arbitrary<string> =>
  fc
    .tuple(
      instantInRange,
      fc.integer({ min: 0, max: 999 }),
      withOffset ? fc.integer({ min: -12 * 4, max: 14 * 4 }) : fc.constant(0),
    )
    .map(([instant, micros, quarterHours]) => {
      const offsetMinutes = quarterHours * 15;
      const shifted = new Date(instant.getTime() + offsetMinutes * 60_000);
      const fraction = `${pad(shifted.getUTCMilliseconds(), 3)}${pad(micros, 3)}`.replace(/0+$/, '');
      const base =
        `${pad(shifted.getUTCFullYear(), 4)}-${pad(shifted.getUTCMonth() + 1)}-${pad(shifted.getUTCDate())} ` +
        `${pad(shifted.getUTCHours())}:${pad(shifted.getUTCMinutes())}:${pad(shifted.getUTCSeconds())}` +
        (fraction === '' ? '' : `.${fraction}`);
      if (!withOffset) return base;
      const sign = offsetMinutes < 0 ? '-' : '+';
      const minutes = Math.abs(offsetMinutes) % 60;
      return `${base}${sign}${pad(Math.trunc(Math.abs(offsetMinutes) / 60))}${minutes === 0 ? '' : `:${pad(minutes)}`}`;
    });

export const pgDateText: fc.Arbitrary<string> = instantInRange.map((instant) =>
  instant.toISOString().slice(0, 10),
);

/** numeric(20,6) text as Postgres prints it (six fraction digits), within 13 integer digits. */
export const pgNumeric20x6Text: fc.Arbitrary<string> = fc
  .tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 9_999_999_999_999n }), fc.integer({ min: 0, max: 999_999 }))
  .map(([negative, integerPart, fraction]) => {
    const text = `${integerPart}.${String(fraction).padStart(6, '0')}`;
    return negative && text !== '0.000000' ? `-${text}` : text;
  });

export const pgInt8Text: fc.Arbitrary<string> = fc
  .bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
  .map((value) => value.toString());

/** A finite double that Postgres float8 accepts (denormals included). */
export const finiteDouble = fc.double({ noNaN: true, noDefaultInfinity: true });

/** A JSON value without NUL characters (jsonb rejects \u0000). */
export const jsonValue: fc.Arbitrary<unknown> = fc
  .jsonValue()
  .filter((value) => !JSON.stringify(value).includes('\\u0000'));

const itemId = fc.integer({ min: 1, max: 2 ** 31 - 1 });

/** A choice SharePoint can store: non-empty, without its ';#' delimiter. */
export const choiceText: fc.Arbitrary<string> = pgText(1).filter((text) => !text.includes(';#'));

/** Values of each kind as node-pg (with pgTypeParsers) or a caller might hand them to toCanonical. */
export function postgresValueOf(kind: FieldKind): fc.Arbitrary<unknown> {
  const orNull = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | null> =>
    fc.oneof({ weight: 9, arbitrary }, { weight: 1, arbitrary: fc.constant(null) });
  switch (kind) {
    case 'text':
    case 'note':
      return orNull(pgText());
    case 'choice':
      return orNull(fc.oneof(choiceText, fc.constant('')));
    case 'number':
      return orNull(
        fc.oneof(
          finiteDouble,
          pgNumeric20x6Text,
          pgInt8Text,
          fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
          fc.constantFrom('12345678901234567890.123456', '-0', '0.000000', '1e-7'),
        ),
      );
    case 'integer':
      return orNull(fc.oneof(fc.integer(), fc.integer().map(String), fc.constant(-0)));
    case 'boolean':
      return orNull(fc.oneof(fc.boolean(), fc.constantFrom('t', 'f', 'true', 'FALSE')));
    case 'dateTime':
      return orNull(fc.oneof(pgTimestampText(false), pgTimestampText(true), instantInRange));
    case 'dateOnly':
      return orNull(pgDateText);
    case 'uuid':
      return orNull(fc.uuid().chain((uuid) => fc.constantFrom(uuid, uuid.toUpperCase(), `{${uuid}}`)));
    case 'json':
      return orNull(
        fc.oneof(
          jsonValue.map((value) => JSON.stringify(value)),
          jsonValue,
        ),
      );
    case 'multiChoice':
      return orNull(fc.array(choiceText, { maxLength: 5 }));
    case 'lookupId':
      return orNull(fc.oneof(itemId, itemId.map(String)));
    case 'multiLookupId':
      return orNull(fc.array(itemId, { maxLength: 5 }));
  }
}
