/**
 * The values a pull page inserted, as an intent records them (migration 022), and whether a row read later still
 * holds them. Values are read with pgTypeParsers, which keep timestamps, numerics and json as Postgres printed
 * them: `timestamp with time zone` prints in the session's TimeZone, which another server (a copy the definition
 * was re-pointed to) may set differently, so those compare as instants, to the microsecond; floats compare at the
 * digits every extra_float_digits prints; intervals and money print by settings with no exact way back and are
 * left out; everything else compares as the text Postgres printed (dates in ISO style, as the whole engine reads
 * them).
 */
import { formatInstantExact, parseInstant } from '../../canonical/temporal';

/**
 * Types whose printed text (or node-pg's reading of it) follows session settings another server may set otherwise,
 * with no exact way back: IntervalStyle (interval), lc_monetary (money). Their columns are not compared: the other
 * columns tell a copy of the row from another row with the same key.
 */
const PRINTED_BY_SETTINGS: ReadonlySet<string> = new Set(['interval', 'money']);

/**
 * Floats print by extra_float_digits: 0 (the default before Postgres 12) prints 15 significant digits of a double
 * (6 of a float4), rounding halves to even. Two values are taken for one when they differ by at most one unit in
 * that last digit. (Settings below 0 print fewer digits and are not covered.)
 */
const FLOAT_DIGITS: ReadonlyMap<string, number> = new Map([
  ['float8', 15],
  ['float4', 6],
]);

function sameFloats(recorded: unknown, current: unknown, digits: number): boolean {
  if (Array.isArray(recorded) && Array.isArray(current))
    return (
      recorded.length === current.length &&
      recorded.every((value, i) => sameFloats(value, current[i], digits))
    );
  if (typeof recorded === 'number' && typeof current === 'number') {
    if (recorded === current) return true;
    const magnitude = Math.max(Math.abs(recorded), Math.abs(current));
    const unit = 10 ** (Math.floor(Math.log10(magnitude)) - (digits - 1));
    return Math.abs(recorded - current) <= unit;
  }
  return JSON.stringify(recorded) === JSON.stringify(current ?? null);
}

/** Each column's value as its own JSON text (so jsonb storage cannot reorder a json column's keys). */
export function valuesJson(values: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [column, value] of Object.entries(values)) out[column] = JSON.stringify(value) ?? 'null';
  return out;
}

/** An instant's exact UTC text, or null when the text is not one (then the texts themselves are compared). */
function exactInstant(text: unknown): string | null {
  if (typeof text !== 'string') return null;
  try {
    return formatInstantExact(
      parseInstant(text, (reason) => {
        throw new Error(reason);
      }),
    );
  } catch {
    return null;
  }
}

function sameInstants(recorded: unknown, current: unknown): boolean {
  if (Array.isArray(recorded) && Array.isArray(current))
    return (
      recorded.length === current.length && recorded.every((value, i) => sameInstants(value, current[i]))
    );
  if (recorded === null || current === null) return recorded === current;
  const a = exactInstant(recorded);
  return a !== null ? a === exactInstant(current) : JSON.stringify(recorded) === JSON.stringify(current);
}

/**
 * Whether `row` holds every value recorded (a column missing from the row differs). `udtNames` by column:
 * `timestamptz` and `_timestamptz` columns compare as instants, floats at FLOAT_DIGITS; columns of
 * PRINTED_BY_SETTINGS types are left out.
 */
export function holdsInserted(
  recorded: Record<string, string>,
  row: { values: Record<string, unknown> } | undefined,
  udtNames: ReadonlyMap<string, string>,
): boolean {
  if (!row) return false;
  return Object.entries(recorded).every(([column, json]) => {
    if (!(column in row.values)) return false;
    const current = row.values[column];
    const udt = udtNames.get(column);
    const base = udt?.replace(/^_/, '');
    if (base !== undefined && PRINTED_BY_SETTINGS.has(base)) return true;
    const digits = base === undefined ? undefined : FLOAT_DIGITS.get(base);
    if (digits !== undefined) return sameFloats(JSON.parse(json), current, digits);
    if (udt === 'timestamptz' || udt === '_timestamptz')
      return sameInstants(JSON.parse(json), current ?? null);
    return valuesJson({ v: current }).v === json;
  });
}
