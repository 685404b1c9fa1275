/**
 * The trigger `install-cursor` puts on a TIMESTAMP definition's table to keep its cursor column current
 * (docs/design.md, "Decisions worth knowing"). It stamps `clock_timestamp()` on every insert and update; a
 * `timestamp without time zone` column gets the UTC wall time (`clock_timestamp() AT TIME ZONE 'UTC'`), since the
 * engine reads naive cursor values as UTC (I7 LAST_WRITER_WINS compares them with SharePoint's times). Assigning
 * clock_timestamp() to a naive column stores the writer's session-local time instead, which an earlier version did.
 */
import type { Pool, PoolClient } from 'pg';
import { quoteIdent } from './sql';

/**
 * A transaction that sets this (`SET LOCAL arcore.keep_cursor = 'on'`) updates rows without moving their cursor
 * column: the trigger installCursorTrigger creates keeps the old value. Backfills write this way (issue #22).
 */
export const KEEP_CURSOR_SETTING = 'arcore.keep_cursor';

/** What the trigger function assigns to a naive cursor column; its presence marks a function that stamps UTC. */
export const UTC_STAMP = "clock_timestamp() AT TIME ZONE 'UTC'";

export const NAIVE_TIMESTAMP = 'timestamp without time zone';

/** The name of the trigger installCursorTrigger creates for `column`. */
export function cursorTriggerName(column: string): string {
  return `arcore_touch_${column}`.slice(0, 63);
}

/**
 * The name of the trigger's function. It outlives a `DROP TRIGGER` (a migration tool re-creating the table's
 * triggers, a restore of the table alone), so its presence says install-cursor set the table up: a push, `status`
 * and `validate` then warn when the trigger is gone or disabled.
 */
export function cursorTriggerFunctionName(table: string, column: string): string {
  return `arcore_touch_${table}_${column}`.slice(0, 63);
}

/**
 * The statements of installCursorTrigger, for callers that print them instead of running them. `naive`: the
 * column is `timestamp without time zone`, stamped with the UTC wall time.
 */
export function cursorTriggerStatements(
  schema: string,
  table: string,
  column: string,
  naive: boolean,
): string[] {
  const fn = `${quoteIdent(schema)}.${quoteIdent(cursorTriggerFunctionName(table, column))}`;
  const trigger = quoteIdent(cursorTriggerName(column));
  const qualified = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  return [
    // A backfill's writes (KEEP_CURSOR_SETTING set in their transaction) keep the row's cursor value.
    `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND current_setting('${KEEP_CURSOR_SETTING}', true) = 'on' THEN
        NEW.${quoteIdent(column)} := OLD.${quoteIdent(column)};
      ELSE
        NEW.${quoteIdent(column)} := ${naive ? UTC_STAMP : 'clock_timestamp()'};
      END IF;
      RETURN NEW;
    END $$`,
    `DROP TRIGGER IF EXISTS ${trigger} ON ${qualified}`,
    `CREATE TRIGGER ${trigger} BEFORE INSERT OR UPDATE ON ${qualified} FOR EACH ROW EXECUTE FUNCTION ${fn}()`,
  ];
}

/**
 * Installs a trigger keeping `column` current (clock_timestamp() on insert and update, as UTC wall time for a
 * naive column) for tables that lack one. Idempotent: the function and trigger are replaced.
 */
export async function installCursorTrigger(
  pool: Pool | PoolClient,
  schema: string,
  table: string,
  column: string,
): Promise<void> {
  const { rows } = await pool.query<{ type: string }>(
    `SELECT format_type(a.atttypid, NULL) AS type FROM pg_attribute a
      WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
    [`${quoteIdent(schema)}.${quoteIdent(table)}`, column],
  );
  const naive = rows[0]?.type === NAIVE_TIMESTAMP;
  for (const statement of cursorTriggerStatements(schema, table, column, naive)) await pool.query(statement);
}

/**
 * SQL true when install-cursor's trigger function exists for the table's cursor column but no enabled trigger
 * calls it: updates no longer move the column, so a push does not see them (I5). `param` renders a value
 * (a parameter placeholder or a literal). A trigger enabled for replicas only (`R`) does not fire for ordinary
 * sessions and counts as disabled.
 */
export function cursorTriggerLostSql(
  schema: string,
  table: string,
  column: string,
  param: (value: string) => string,
): string {
  const fn = `${quoteIdent(schema)}.${quoteIdent(cursorTriggerFunctionName(table, column))}()`;
  return `(to_regprocedure(${param(fn)}) IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(${param(`${quoteIdent(schema)}.${quoteIdent(table)}`)})
         AND tgfoid = to_regprocedure(${param(fn)}) AND tgenabled IN ('O', 'A')))`;
}

/** What a push, `status` and `validate` say when install-cursor's trigger is gone or disabled. */
export function cursorTriggerLostMessage(definition: string, qualified: string, column: string): string {
  return (
    `the trigger keeping cursor column "${column}" of ${qualified} current (${cursorTriggerName(column)}) is ` +
    'missing or disabled: updates no longer move the column, so the push does not see them. Next step: ' +
    `"arcore-sync install-cursor ${definition}" (it puts the trigger back)`
  );
}

/** Whether install-cursor's trigger was set up on the table and is gone or disabled now; one query. */
export async function cursorTriggerLost(
  pool: Pool,
  schema: string,
  table: string,
  column: string,
): Promise<boolean> {
  const values: string[] = [];
  const sql = cursorTriggerLostSql(schema, table, column, (v) => {
    values.push(v);
    return `$${values.length}`;
  });
  const { rows } = await pool.query<{ lost: boolean }>(`SELECT ${sql} AS lost`, values);
  return rows[0].lost;
}

/** Whether an enabled trigger of install-cursor stamps the column in UTC, for `validate`; one query. */
export async function cursorTriggerStampsUtc(
  pool: Pool,
  schema: string,
  table: string,
  column: string,
): Promise<boolean> {
  const { rows } = await pool.query<{ utc: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
       WHERE t.tgrelid = to_regclass($1) AND t.tgname = $2 AND t.tgenabled IN ('O', 'A')
         AND position($3 in p.prosrc) > 0) AS utc`,
    [`${quoteIdent(schema)}.${quoteIdent(table)}`, cursorTriggerName(column), UTC_STAMP],
  );
  return rows[0].utc;
}
