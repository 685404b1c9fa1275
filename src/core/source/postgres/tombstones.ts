/**
 * Delete capture for TIMESTAMP definitions (I8): triggers on the source table record the keys of deleted rows
 * in a tombstone table next to it, so a push finds deletes without comparing the whole table with the ledger.
 * The tombstone table lives in the source database (the trigger writes it in the deleting transaction); the
 * push consumes tombstones and deletes them only after the ledger commit that applied them, so a crash in
 * between leaves them to the next run, which applies them again idempotently.
 */
import type { Pool } from 'pg';
import { pgTypeParsers } from '../../canonical';
import { castTypeOf, quoteIdent, type PostgresSource } from './PostgresSource';
import { cursorTriggerLostSql } from './cursorTrigger';

/** The statement-level trigger recording deleted keys; its presence selects tombstone delete detection. */
export const DELETE_CAPTURE_TRIGGER = 'arcore_capture_deletes';
const KEY_CHANGE_TRIGGER = 'arcore_capture_key_changes';
const TRUNCATE_TRIGGER = 'arcore_capture_truncate';

export function tombstoneTableName(table: string): string {
  return `arcore_${table}_deleted`.slice(0, 63);
}

/** The qualified names of the table and of the delete-capture objects on it. */
function captureObjects(schema: string, table: string) {
  return {
    qualified: `${quoteIdent(schema)}.${quoteIdent(table)}`,
    tombstones: `${quoteIdent(schema)}.${quoteIdent(tombstoneTableName(table))}`,
    statementFn: `${quoteIdent(schema)}.${quoteIdent(`arcore_deleted_${table}`.slice(0, 63))}`,
    rowFn: `${quoteIdent(schema)}.${quoteIdent(`arcore_rekeyed_${table}`.slice(0, 63))}`,
  };
}

/**
 * The statements that install delete capture on `schema.table`. A tombstone whose key is NULL asks the next
 * push for one full comparison of ledger and table: install writes one (deletes made before the trigger
 * existed), and so does TRUNCATE (it deletes without row triggers). A key change is the old key's delete.
 * The trigger functions run as their owner (SECURITY DEFINER, fixed search_path): an application role allowed
 * to delete rows needs no privilege on the tombstone table.
 */
export function deleteCaptureStatements(schema: string, table: string, key: string[]): string[] {
  const { qualified, tombstones, statementFn, rowFn } = captureObjects(schema, table);
  const keyOf = (alias: string) => `ARRAY[${key.map((k) => `${alias}.${quoteIdent(k)}::text`).join(', ')}]`;
  const keyCols = key.map(quoteIdent).join(', ');
  const changed = key.map((k) => `OLD.${quoteIdent(k)} IS DISTINCT FROM NEW.${quoteIdent(k)}`).join(' OR ');
  return [
    `CREATE TABLE IF NOT EXISTS ${tombstones} (
       id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       key text[],
       deleted_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
    `CREATE OR REPLACE FUNCTION ${statementFn}() RETURNS trigger LANGUAGE plpgsql
       SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    BEGIN
      IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO ${tombstones} (key) VALUES (NULL);
      ELSE
        INSERT INTO ${tombstones} (key) SELECT ${keyOf('o')} FROM arcore_gone o;
      END IF;
      RETURN NULL;
    END $$`,
    `CREATE OR REPLACE FUNCTION ${rowFn}() RETURNS trigger LANGUAGE plpgsql
       SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    BEGIN INSERT INTO ${tombstones} (key) VALUES (${keyOf('OLD')}); RETURN NULL; END $$`,
    `DROP TRIGGER IF EXISTS ${quoteIdent(DELETE_CAPTURE_TRIGGER)} ON ${qualified}`,
    `CREATE TRIGGER ${quoteIdent(DELETE_CAPTURE_TRIGGER)} AFTER DELETE ON ${qualified} REFERENCING OLD TABLE AS ` +
      `arcore_gone FOR EACH STATEMENT EXECUTE FUNCTION ${statementFn}()`,
    `DROP TRIGGER IF EXISTS ${quoteIdent(TRUNCATE_TRIGGER)} ON ${qualified}`,
    `CREATE TRIGGER ${quoteIdent(TRUNCATE_TRIGGER)} AFTER TRUNCATE ON ${qualified} FOR EACH STATEMENT ` +
      `EXECUTE FUNCTION ${statementFn}()`,
    `DROP TRIGGER IF EXISTS ${quoteIdent(KEY_CHANGE_TRIGGER)} ON ${qualified}`,
    `CREATE TRIGGER ${quoteIdent(KEY_CHANGE_TRIGGER)} AFTER UPDATE OF ${keyCols} ON ${qualified} FOR EACH ROW ` +
      `WHEN (${changed}) EXECUTE FUNCTION ${rowFn}()`,
    `INSERT INTO ${tombstones} (key) VALUES (NULL)`,
  ];
}

/** The statements that remove delete capture from `schema.table`: triggers, functions, tombstone table. */
export function dropDeleteCaptureStatements(schema: string, table: string): string[] {
  const { qualified, tombstones, statementFn, rowFn } = captureObjects(schema, table);
  return [
    ...[DELETE_CAPTURE_TRIGGER, TRUNCATE_TRIGGER, KEY_CHANGE_TRIGGER].map(
      (t) => `DROP TRIGGER IF EXISTS ${quoteIdent(t)} ON ${qualified}`,
    ),
    `DROP FUNCTION IF EXISTS ${statementFn}()`,
    `DROP FUNCTION IF EXISTS ${rowFn}()`,
    `DROP TABLE IF EXISTS ${tombstones}`,
  ];
}

export type DeleteDetection = 'tombstones' | 'sweep';

/** Ledger entries (and tombstones) compared per step: one ledger query, one source query. */
export const DELETE_CHUNK_ROWS = 1000;
/**
 * Without the trigger, the share of a push the sweep may take (at least one chunk) before it leaves the rest of
 * the ledger to the next push: idle cost stays bounded whatever the table's size.
 */
export const SWEEP_SLICE_MS = 25;

/** Which delete detection a table has: tombstones when the capture trigger and its table are both there. */
export async function deleteDetectionOf(pool: Pool, schema: string, table: string): Promise<DeleteDetection> {
  const { rows } = await pool.query<{ installed: boolean }>(
    `SELECT to_regclass($3) IS NOT NULL AND EXISTS (
              SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = $2 AND tgenabled <> 'D'
            ) AS installed`,
    [
      `${quoteIdent(schema)}.${quoteIdent(table)}`,
      DELETE_CAPTURE_TRIGGER,
      `${quoteIdent(schema)}.${quoteIdent(tombstoneTableName(table))}`,
    ],
  );
  return rows[0].installed ? 'tombstones' : 'sweep';
}

/**
 * What a TIMESTAMP push checks of the table's triggers before its deletes, in one query: its delete detection
 * (as deleteDetectionOf), and whether install-cursor's trigger on `cursorColumn` is gone or disabled (updates then
 * no longer move the column and the push cannot see them; the run warns).
 */
export async function sourceTriggersOf(
  pool: Pool,
  schema: string,
  table: string,
  cursorColumn: string,
): Promise<{ detection: DeleteDetection; cursorTriggerLost: boolean }> {
  const values = [
    `${quoteIdent(schema)}.${quoteIdent(table)}`,
    DELETE_CAPTURE_TRIGGER,
    `${quoteIdent(schema)}.${quoteIdent(tombstoneTableName(table))}`,
  ];
  const lost = cursorTriggerLostSql(schema, table, cursorColumn, (v) => {
    values.push(v);
    return `$${values.length}`;
  });
  const { rows } = await pool.query<{ installed: boolean; lost: boolean }>(
    `SELECT to_regclass($3) IS NOT NULL AND EXISTS (
              SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = $2 AND tgenabled <> 'D'
            ) AS installed, ${lost} AS lost`,
    values,
  );
  return { detection: rows[0].installed ? 'tombstones' : 'sweep', cursorTriggerLost: rows[0].lost };
}

/** One recorded delete: the row's key in definition order (parsed as a source read parses it), or a sweep request. */
export interface Tombstone {
  id: string;
  key: unknown[] | null;
  /** When the row was deleted (ISO, UTC): the Postgres side's modification time for LAST_WRITER_WINS (I7). */
  deletedAt: string;
}

/** Tombstones after `afterId` in id order, their keys cast back to the key columns' types. */
export async function readTombstones(
  source: PostgresSource,
  afterId: string,
  limit: number,
): Promise<Tombstone[]> {
  const { schema, table, key } = source.shape;
  const tombstones = `${quoteIdent(schema)}.${quoteIdent(tombstoneTableName(table))}`;
  const keys = key.map((k, i) => `(t.key[${i + 1}])::${castTypeOf(source.column(k))} AS "k${i}"`);
  const { rows } = await source.pool.query<Record<string, unknown>>({
    text: `SELECT t.id::text AS id, t.key IS NULL AS sweep,
                  to_char(t.deleted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS deleted_at,
                  ${keys.join(', ')} FROM ${tombstones} t
            WHERE t.id > $1::bigint ORDER BY t.id LIMIT $2`,
    values: [afterId, limit],
    types: pgTypeParsers,
  });
  return rows.map((r) => ({
    id: r.id as string,
    key: r.sweep ? null : key.map((_, i) => r[`k${i}`]),
    deletedAt: r.deleted_at as string,
  }));
}

/**
 * The tombstones after `afterId` (a push stopped before reading them): how many there are, and how many rows
 * deleted in Postgres they still name (`deletedKeys`): their distinct keys that have no row in the table. A row deleted and inserted again (a table reloaded
 * with the same keys), a key deleted twice, or a key with NULL in it (never synced, I13) adds nothing.
 * Whether SharePoint holds an item for the key is not looked up (the ledger is in the metadata store); the
 * push that reads the tombstone decides. One query, run only when a push stops with tombstones left; each
 * tombstone is one probe of the key's index, so it costs what the tombstones left are, not the table.
 */
export async function tombstonesLeft(
  source: PostgresSource,
  afterId: string,
): Promise<{ tombstones: number; deletedKeys: number }> {
  const { schema, table, key } = source.shape;
  const tombstones = `${quoteIdent(schema)}.${quoteIdent(tombstoneTableName(table))}`;
  const match = key
    .map((k, i) => `r.${quoteIdent(k)} = (t.key[${i + 1}])::${castTypeOf(source.column(k))}`)
    .join(' AND ');
  const { rows } = await source.pool.query<{ tombstones: string; keys: string }>(
    `SELECT count(*) AS tombstones,
            count(DISTINCT t.key) FILTER (
              WHERE t.key IS NOT NULL AND array_position(t.key, NULL) IS NULL
                AND NOT EXISTS (SELECT 1 FROM ${source.qualified} r WHERE ${match})) AS keys
       FROM ${tombstones} t WHERE t.id > $1::bigint`,
    [afterId],
  );
  return { tombstones: Number(rows[0].tombstones), deletedKeys: Number(rows[0].keys) };
}

/** Drops consumed tombstones by id (never by range: a lower id may commit after a higher one was read). */
export async function deleteTombstones(source: PostgresSource, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const { schema, table } = source.shape;
  await source.pool.query(
    `DELETE FROM ${quoteIdent(schema)}.${quoteIdent(tombstoneTableName(table))} WHERE id = ANY($1::bigint[])`,
    [ids],
  );
}

/** Drops every tombstone of the table: when no definition reads them any more (a shared table sweeps). */
export async function clearTombstones(source: PostgresSource): Promise<void> {
  const { schema, table } = source.shape;
  await source.pool.query(`DELETE FROM ${quoteIdent(schema)}.${quoteIdent(tombstoneTableName(table))}`);
}

/** The keys among `keys` (definition order) that have a row, parsed as a source read parses them; one query. */
export async function presentKeys(source: PostgresSource, keys: unknown[][]): Promise<unknown[][]> {
  if (keys.length === 0) return [];
  const { key } = source.shape;
  const arrays = key.map((k, i) => `$${i + 1}::${castTypeOf(source.column(k))}[]`).join(', ');
  const names = key.map(quoteIdent).join(', ');
  const join = key.map((k) => `t.${quoteIdent(k)} = k.${quoteIdent(k)}`).join(' AND ');
  const select = key.map((k, i) => `t.${quoteIdent(k)} AS "k${i}"`).join(', ');
  const { rows } = await source.pool.query<Record<string, unknown>>({
    text: `SELECT ${select} FROM ${source.qualified} t JOIN unnest(${arrays}) AS k(${names}) ON ${join}`,
    values: key.map((_, i) => keys.map((k) => k[i])),
    types: pgTypeParsers,
  });
  return rows.map((r) => key.map((_, i) => r[`k${i}`]));
}

/**
 * When the rows with these keys (definition order) were last deleted, by their tombstones (ISO, UTC), by the keys'
 * positions in `keys`: the Postgres side's time of a delete that meets an edit (LAST_WRITER_WINS, I7). Empty
 * without delete capture. One query; tombstones are few (each push consumes them).
 */
export async function deletedTimes(source: PostgresSource, keys: unknown[][]): Promise<Map<number, string>> {
  const times = new Map<number, string>();
  if (keys.length === 0) return times;
  const { schema, table, key } = source.shape;
  const tombstones = `${quoteIdent(schema)}.${quoteIdent(tombstoneTableName(table))}`;
  const { rows: exists } = await source.pool.query<{ t: string | null }>(
    'SELECT to_regclass($1)::text AS t',
    [tombstones],
  );
  if (!exists[0].t) return times;
  const arrays = key.map((k, i) => `$${i + 2}::${castTypeOf(source.column(k))}[]`).join(', ');
  const names = key.map((_, i) => `k${i}`);
  const { rows } = await source.pool.query<{ i: number; deleted_at: string }>({
    text: `SELECT k.i, to_char(max(t.deleted_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS deleted_at
             FROM unnest($1::int[], ${arrays}) AS k(i, ${names.join(', ')})
             JOIN ${tombstones} t ON t.key = ARRAY[${names.map((n) => `k.${n}::text`).join(', ')}]
            GROUP BY k.i`,
    values: [keys.map((_, i) => i), ...key.map((_, c) => keys.map((k) => k[c]))],
  });
  for (const r of rows) times.set(Number(r.i), r.deleted_at);
  return times;
}
