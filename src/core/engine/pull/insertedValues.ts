/**
 * The values a pull page inserted, as an intent records them (migration 022), and whether a row read later still
 * holds them. Values are read with pgTypeParsers, which keep timestamps, numerics and json as Postgres printed
 * them: `timestamp with time zone` prints in the session's TimeZone, which another server (a copy the definition
 * was re-pointed to) may set differently, so those compare as instants, to the microsecond; a few types print by
 * settings with no exact way back and are left out; everything else compares as the text Postgres printed (dates
 * in ISO style, as the whole engine reads them).
 */
import { formatInstantExact, parseInstant } from '../../canonical/temporal';

/**
 * Types whose printed text (or node-pg's reading of it) follows session settings another server may set otherwise,
 * with no exact way back: extra_float_digits (float4, float8), IntervalStyle (interval), lc_monetary (money). Their
 * columns are not compared: the other columns tell a copy of the row from another row with the same key.
 */
const PRINTED_BY_SETTINGS: ReadonlySet<string> = new Set(['float4', 'float8', 'interval', 'money']);

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
 * `timestamptz` and `_timestamptz` columns compare as instants; columns of PRINTED_BY_SETTINGS types are left out.
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
    if (udt !== undefined && PRINTED_BY_SETTINGS.has(udt.replace(/^_/, ''))) return true;
    if (udt === 'timestamptz' || udt === '_timestamptz')
      return sameInstants(JSON.parse(json), current ?? null);
    return valuesJson({ v: current }).v === json;
  });
}
