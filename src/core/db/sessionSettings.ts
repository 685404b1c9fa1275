import type { Pool } from 'pg';
import type { ErrorKind } from '../errors/kind';
import { describeEndpoint, type PostgresEndpoint } from './errors';

/*
 * The engine reads date, timestamp, timestamptz and numeric values as the text Postgres prints
 * (canonical/pgTypes.ts) and parses it as ISO 8601, and reads float8 as the digits Postgres prints. What
 * Postgres prints follows the session's DateStyle, IntervalStyle and extra_float_digits, which a database or
 * role may configure (ALTER DATABASE … SET DateStyle = 'SQL, DMY'). So every connection the engine opens
 * pins them, right after it opens and before anyone queries through it (pool.ts, SocketClosingClient):
 * - DateStyle 'ISO, MDY': ISO output. MDY only decides how ambiguous input such as 06/12/2026 is read; the
 *   engine only ever sends ISO text, which every DateStyle reads alike.
 * - IntervalStyle 'postgres': the default, the style the ISO DateStyle pairs with.
 * - extra_float_digits 3: PG12+ prints the shortest text that reads back to the exact float8 for any value
 *   above 0 (0 or below round to 15 digits and lose precision); before PG12, 3 is the most digits.
 *
 * Why a SET after connecting and not the startup parameter `options` (-c DateStyle=…): PgBouncer accepts in
 * a startup packet only the parameters it tracks (client_encoding, DateStyle, TimeZone,
 * standard_conforming_strings, application_name, and those in track_extra_parameters) and refuses the
 * connection on any other ("unsupported startup parameter in options: extra_float_digits"); an entry in
 * ignore_startup_parameters makes it drop the value silently instead
 * (https://www.pgbouncer.org/config.html#ignore_startup_parameters,
 * https://github.com/pgbouncer/pgbouncer/pull/878, https://github.com/pgbouncer/pgbouncer/issues/1074).
 * PgBouncer before 1.20 refuses `options` itself. Azure Flexible Server's built-in PgBouncer (port 6432)
 * ships with pgbouncer.ignore_startup_parameters empty
 * (https://learn.microsoft.com/en-us/azure/postgresql/flexible-server/server-parameters-table-pgbouncer), so
 * `options` would make the engine unable to connect through it at all. A SET is accepted everywhere.
 * Under transaction pooling a SET lands on one server connection; PgBouncer keeps DateStyle per client
 * (always tracked) and IntervalStyle (track_extra_parameters' default since that setting exists,
 * https://github.com/pgbouncer/pgbouncer/pull/867; older versions do not, and the engine reads no interval)
 * and sets them again on whichever server connection serves the client next. extra_float_digits is not
 * reported in ParameterStatus, so PgBouncer cannot carry it: there the server's value holds (1 unless
 * configured, which is exact on PG12+), and `arcore-sync validate` reports it.
 */
export const PIN_SESSION_SETTINGS_SQL =
  "SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3";

/** The session settings `arcore-sync validate` reports, as Postgres names them. */
export interface SessionSettings {
  DateStyle: string;
  IntervalStyle: string;
  extra_float_digits: string;
}

/**
 * A new connection's settings could not be pinned (the SET was refused): the engine would read dates or floats
 * in whatever style the session prints, so it does not use the connection. Queries are not checked afterwards:
 * a statement that changes DateStyle for its own transaction (a user's trigger) is the session's business, and a
 * pooler that drops the SET sends the client no word of it; `arcore-sync validate` reports what a query gets.
 */
export class SessionSettingsError extends Error {
  readonly errorKind: ErrorKind = 'invalid_input';
  readonly hint =
    "let the engine's role run SET DateStyle, IntervalStyle and extra_float_digits (a server or pooler refused " +
    'them), check the source with "arcore-sync validate FILE", then run again';

  constructor(
    readonly endpoint: PostgresEndpoint,
    reason: string,
  ) {
    super(
      `Postgres at ${describeEndpoint(endpoint)}: could not set the session's DateStyle, IntervalStyle and ` +
        `extra_float_digits (${PIN_SESSION_SETTINGS_SQL}): ${reason}`,
    );
    this.name = 'SessionSettingsError';
  }
}

/** ISO output is the first word of DateStyle ("ISO, MDY"); the order word only affects input. */
export function isIsoDateStyle(dateStyle: string): boolean {
  return /^\s*iso\b/i.test(dateStyle);
}

const DATESTYLE_FIX =
  "run ALTER DATABASE … SET DateStyle = 'ISO, MDY' (or ALTER ROLE), or, behind a connection pooler, make it " +
  'keep each client’s DateStyle (PgBouncer does unless configured otherwise)';

/**
 * What is wrong with a session's settings for the engine, one sentence each; empty when all fit. IntervalStyle is
 * pinned but not checked: the engine maps no interval column, so another style changes nothing it reads.
 */
export function sessionSettingsProblems(settings: SessionSettings): string[] {
  const problems: string[] = [];
  if (!isIsoDateStyle(settings.DateStyle)) {
    problems.push(
      `DateStyle is '${settings.DateStyle}': dates would be read in the wrong style; ${DATESTYLE_FIX}`,
    );
  }
  const digits = Number(settings.extra_float_digits);
  if (!Number.isInteger(digits) || digits < 1) {
    problems.push(
      `extra_float_digits is ${settings.extra_float_digits}: double precision values are printed rounded ` +
        'and SharePoint would get fewer digits than stored; run ALTER DATABASE … SET extra_float_digits = 3 ' +
        '(or ALTER ROLE), which a connection pooler cannot override',
    );
  }
  return problems;
}

/**
 * The settings a query on `pool` runs under, as the server answers (behind a transaction pooler: those of
 * whichever server connection serves it, which is what the engine's own queries get).
 */
export async function readSessionSettings(pool: Pool): Promise<SessionSettings> {
  const { rows } = await pool.query<SessionSettings>(
    `SELECT current_setting('DateStyle') AS "DateStyle", current_setting('IntervalStyle') AS "IntervalStyle",
            current_setting('extra_float_digits') AS extra_float_digits`,
  );
  return rows[0];
}
