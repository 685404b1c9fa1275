/**
 * Cursor values of a TIMESTAMP push, shifted and compared by Postgres in the cursor column's own type (I5a, I5b):
 * a `timestamp` stays a `timestamp`, a `timestamptz` stays a `timestamptz`. A naive value taken through
 * `timestamptz` is read in the session's TimeZone and printed back with an offset that the cast to `timestamp`
 * drops: around a daylight-saving change the window started after the cursor (review C).
 */
import type { RunScope } from '../runner';

/** The cursor column's type as a cast (`::timestamp without time zone`, `::timestamp with time zone`). */
function cursorCast(scope: RunScope): string {
  return `::${scope.source.column(scope.def.source.cursor.column as string).dataType}`;
}

/** The value `seconds` before `value`: where the overlap window behind a cursor value starts (I5b). */
export async function windowStart(scope: RunScope, value: string, seconds: number): Promise<string> {
  const cast = cursorCast(scope);
  const { rows } = await scope.sourcePool.query<{ start: string }>(
    `SELECT ($1${cast} - make_interval(secs => $2))::text AS start`,
    [value, seconds],
  );
  return rows[0].start;
}

/** `a < b` (`a <= b` with `orEqual`), for cursor values as Postgres prints them (microseconds included). */
export async function isBefore(scope: RunScope, a: string, b: string, orEqual = false): Promise<boolean> {
  const cast = cursorCast(scope);
  const { rows } = await scope.sourcePool.query<{ before: boolean }>(
    `SELECT $1${cast} ${orEqual ? '<=' : '<'} $2${cast} AS before`,
    [a, b],
  );
  return rows[0].before;
}
