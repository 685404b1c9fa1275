import type { Pool } from 'pg';
import { quoteIdent } from '../source/postgres/PostgresSource';
import {
  cursorTriggerName,
  cursorTriggerStatements,
  KEEP_CURSOR_SETTING,
  cursorTriggerLost,
  NAIVE_TIMESTAMP,
  UTC_STAMP,
} from '../source/postgres/cursorTrigger';
import { parseDefinition } from '../definition/parse';
import type { SyncDefinition } from '../definition/schema';
import { getDefinition } from '../store/definitions';
import { deleteCaptureStatements, deleteDetectionOf } from '../source/postgres/tombstones';
import { CursorSetupError, DefinitionBusyError } from './errors';
import { inTransaction } from '../db/transaction';
import { tryLockDefinition, type DefinitionLock } from '../store/locks';
import { rereadForRoutes } from '../engine/routesReread';

/** `deletes`: the delete-capture trigger and its tombstone table (deletes found without scanning the table). */
export type CursorPart = 'column' | 'trigger' | 'index' | 'deletes';

export interface CursorPartStatus {
  part: CursorPart;
  /** present: already there; added: created by this call; missing: --print-sql only, not created. */
  status: 'present' | 'added' | 'missing';
  /** The statements that create it (empty when present). */
  sql: string[];
}

export interface InstallCursorResult {
  definition: string;
  table: string;
  column: string;
  /** False with printSql: nothing was run (true when everything was already there). */
  applied: boolean;
  parts: CursorPartStatus[];
  /** Every statement still needed (printSql) or run (applied), in order. */
  sql: string[];
  notes: string[];
  /**
   * Definitions on the table whose next push reads the whole table again: the trigger replaced stamped the naive
   * cursor column with the writer's local time, the new one stamps UTC (docs/design.md, "Decisions worth knowing").
   */
  rereading: string[];
}

const TIMESTAMP_TYPES = new Set(['timestamp with time zone', 'timestamp without time zone']);
const RELATION_KINDS: Record<string, string> = {
  v: 'a view',
  m: 'a materialized view',
  f: 'a foreign table',
};

interface TableFacts {
  oid: number;
  kind: string;
  column: { type: string; notNull: boolean } | null;
  /** The trigger is there, enabled, keeps the column for backfills and stamps UTC on a naive column. */
  hasTrigger: boolean;
  /** The trigger is there but its function predates KEEP_CURSOR_SETTING: backfills would move the column. */
  triggerOutdated: boolean;
  /** The trigger is there but disabled (or fires for replicas only): updates do not move the column. */
  triggerDisabled: boolean;
  /** A naive column stamped by a trigger of ours that wrote the writer's session-local time, not UTC. */
  triggerLocalTime: boolean;
  hasIndex: boolean;
  hasDeleteCapture: boolean;
  /** install-cursor's trigger function is there but no enabled trigger calls it (dropped, disabled). */
  triggerLost: boolean;
}

async function readFacts(
  pool: Pool,
  schema: string,
  table: string,
  column: string,
  key: string[],
): Promise<TableFacts | null> {
  const rel = await pool.query<{ oid: number; relkind: string }>(
    `SELECT c.oid::int AS oid, c.relkind::text AS relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
    [schema, table],
  );
  if (rel.rows.length === 0) return null;
  const { oid, relkind } = rel.rows[0];
  const col = await pool.query<{ type: string; not_null: boolean }>(
    `SELECT format_type(a.atttypid, NULL) AS type, a.attnotnull AS not_null FROM pg_attribute a
      WHERE a.attrelid = $1 AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
    [oid, column],
  );
  const trigger = await pool.query<{ keeps: boolean; utc: boolean; enabled: boolean }>(
    `SELECT position($3 in p.prosrc) > 0 AS keeps, position($4 in p.prosrc) > 0 AS utc,
            t.tgenabled IN ('O', 'A') AS enabled
       FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
      WHERE t.tgrelid = $1 AND t.tgname = $2 AND NOT t.tgisinternal`,
    [oid, cursorTriggerName(column), KEEP_CURSOR_SETTING, UTC_STAMP],
  );
  // An index serves keyset reads when its leading columns are (cursor, key…); partial ones do not count.
  const indexes = await pool.query<{ columns: string[] }>(
    `SELECT array_agg(a.attname::text ORDER BY k.ord) AS columns
       FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND i.indisvalid AND i.indpred IS NULL
      GROUP BY i.indexrelid`,
    [oid],
  );
  const wanted = [column, ...key];
  const naive = col.rows[0]?.type === NAIVE_TIMESTAMP;
  return {
    oid,
    kind: relkind,
    column: col.rows[0] ? { type: col.rows[0].type, notNull: col.rows[0].not_null } : null,
    hasTrigger: trigger.rows.some((r) => r.keeps && r.enabled && (r.utc || !naive)),
    triggerOutdated: trigger.rows.length > 0 && !trigger.rows.some((r) => r.keeps),
    triggerDisabled: trigger.rows.length > 0 && !trigger.rows.some((r) => r.enabled),
    triggerLocalTime: naive && trigger.rows.length > 0 && !trigger.rows.some((r) => r.utc),
    hasIndex: indexes.rows.some((r) => wanted.every((c, i) => r.columns[i] === c)),
    hasDeleteCapture: (await deleteDetectionOf(pool, schema, table)) === 'tombstones',
    triggerLost: await cursorTriggerLost(pool, schema, table, column),
  };
}

/**
 * `install-cursor NAME`: adds what a TIMESTAMP cursor needs to the definition's table: the column
 * (`timestamptz NOT NULL DEFAULT clock_timestamp()`) when missing, the trigger keeping it current on every
 * insert and update, an index on (cursor column, key columns) for keyset reads, and the delete-capture trigger
 * with its tombstone table (push then finds deletes without comparing the table with the ledger). Idempotent: what is
 * there is left alone. With `printSql` nothing runs; the statements still needed are returned.
 */
export async function installCursor(
  meta: Pool,
  sourcePool: (connection: string) => Pool | Promise<Pool>,
  name: string,
  options: { printSql?: boolean } = {},
): Promise<InstallCursorResult> {
  const def = (await getDefinition(meta, name)).definition;
  return installCursorFor(def, await sourcePool(def.source.connection), { ...options, meta });
}

/** The saved TIMESTAMP definitions that read `def`'s table (same connection) in order of its cursor column. */
async function definitionsOnTable(meta: Pool, def: SyncDefinition): Promise<{ id: string; name: string }[]> {
  const { rows } = await meta.query<{ id: string; name: string; document: unknown }>(
    `SELECT id::text AS id, name, document FROM arcore.sync_definitions
      WHERE document->'source'->>'table' = $1 AND coalesce(document->'source'->>'schema', 'public') = $2
        AND coalesce(document->'source'->>'connection', 'default') = $3
      ORDER BY name`,
    [def.source.table, def.source.schema, def.source.connection],
  );
  return rows.filter((r) => {
    const cursor = parseDefinition(r.document, `stored definition "${r.name}"`).source.cursor;
    return cursor.type === 'TIMESTAMP' && cursor.column === def.source.cursor.column;
  });
}

/**
 * Makes each definition's next push read the whole table again (rows it finds unchanged are skipped by their
 * hash, I3), under its lock so that a run in progress cannot write its cursor back. Runs before the source
 * changes: a crash in between costs a re-read, never a change left behind the cursor.
 */
async function rereadTable(
  meta: Pool,
  definitions: { id: string; name: string }[],
  change: () => Promise<void>,
): Promise<string[]> {
  const locks: DefinitionLock[] = [];
  try {
    for (const d of definitions) {
      const lock = await tryLockDefinition(meta, d.id);
      if (!lock) throw new DefinitionBusyError(d.name, 'replacing the cursor trigger on its table');
      locks.push(lock);
    }
    const rereading = await inTransaction(meta, async (client) => {
      const restarted: string[] = [];
      for (const d of definitions)
        if (await rereadForRoutes(client, d.id, CURSOR_TRIGGER_REREAD_REASON)) restarted.push(d.name);
      return restarted;
    });
    await change();
    return rereading;
  } finally {
    for (const lock of locks) await lock.release();
  }
}

const CURSOR_TRIGGER_REREAD_REASON =
  'the cursor trigger was replaced: every row is read again for changes the old one did not stamp as the engine reads';

/**
 * The same for a definition not saved yet (read from a file): `apply` refuses a definition whose cursor
 * column does not exist, so the column can be added before it is saved. `meta`: the metadata store, to make the
 * saved definitions on the table read it again when the trigger replaced left their cursors behind (without it,
 * the notes name the `reset-cursor` to run).
 */
export async function installCursorFor(
  def: SyncDefinition,
  pool: Pool,
  options: { printSql?: boolean; meta?: Pool } = {},
): Promise<InstallCursorResult> {
  const name = def.name;
  const { schema, table, key } = def.source;
  if (def.source.cursor.type === 'LSN') {
    throw new CursorSetupError(
      name,
      'source.cursor.type is "LSN": changes are captured from a replication slot and need no timestamp ' +
        'column or trigger',
    );
  }
  const column = def.source.cursor.column;
  const qualified = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  const facts = await readFacts(pool, schema, table, column, key);
  if (!facts) {
    throw new CursorSetupError(name, `table "${schema}.${table}" does not exist in the source database`);
  }
  const kind = RELATION_KINDS[facts.kind];
  if (kind) {
    throw new CursorSetupError(
      name,
      `"${schema}.${table}" is ${kind}, which cannot carry a trigger or take a new column. Add a timestamptz ` +
        'column kept current by a trigger to the table underneath (a definition of that table shows the SQL: ' +
        `"arcore-sync install-cursor NAME --print-sql"), then select it as "${column}" in the view`,
    );
  }
  if (facts.column && !TIMESTAMP_TYPES.has(facts.column.type)) {
    throw new CursorSetupError(
      name,
      `cursor column "${column}" exists as ${facts.column.type}, not a timestamp: choose another cursor ` +
        'column name in the definition (install-cursor then adds it) or change its type',
    );
  }
  const naive = facts.column?.type === NAIVE_TIMESTAMP;
  const notes: string[] = [];
  if (facts.column && !facts.column.notNull) {
    notes.push(
      `cursor column "${column}" allows NULL and is left as it is: rows with a NULL cursor are never pushed ` +
        `(ALTER TABLE ${qualified} ALTER COLUMN ${quoteIdent(column)} SET DEFAULT clock_timestamp(); then fill ` +
        `the NULLs and SET NOT NULL)`,
    );
  }
  if (facts.triggerOutdated) {
    notes.push(
      `the trigger on ${qualified} predates backfills (it moves "${column}" on their writes too): it is replaced ` +
        `by one that keeps the column when a transaction sets ${KEEP_CURSOR_SETTING}`,
    );
  }
  // Either way the stored cursors may have passed rows whose change they never saw: the next push reads them all.
  const reread = !facts.hasTrigger && (facts.triggerLocalTime || facts.triggerLost);
  if (facts.triggerLocalTime) {
    notes.push(
      `the trigger on ${qualified} stamped "${column}" (timestamp without time zone) with the writing session's ` +
        `local time, while the engine reads naive cursor values as UTC: it is replaced by one stamping UTC ` +
        `(${UTC_STAMP}). Rows stamped ahead of the UTC time now are stamped again, so new stamps are not behind ` +
        'the cursor; older stamps keep their local time until their row changes (LAST_WRITER_WINS compares them as UTC)',
    );
  } else if (facts.triggerLost) {
    notes.push(
      `the trigger keeping "${column}" of ${qualified} current was missing or disabled: it is created again, and ` +
        'updates made meanwhile (which did not move the column) are found by reading the table again',
    );
  }
  const indexName = quoteIdent(`arcore_${table}_${column}_cursor`.slice(0, 63));
  const triggerSql = cursorTriggerStatements(schema, table, column, naive);
  if (facts.triggerLocalTime)
    // Runs after the new trigger exists, which stamps each updated row with the UTC time of the update.
    triggerSql.push(
      `UPDATE ${qualified} SET ${quoteIdent(column)} = ${UTC_STAMP} WHERE ${quoteIdent(column)} > ${UTC_STAMP}`,
    );
  const parts: CursorPartStatus[] = [
    {
      part: 'column',
      status: facts.column ? 'present' : 'missing',
      sql: facts.column
        ? []
        : [
            `ALTER TABLE ${qualified} ADD COLUMN IF NOT EXISTS ${quoteIdent(column)} timestamptz NOT NULL ` +
              'DEFAULT clock_timestamp()',
          ],
    },
    {
      part: 'trigger',
      status: facts.hasTrigger ? 'present' : 'missing',
      sql: facts.hasTrigger ? [] : triggerSql,
    },
    {
      part: 'index',
      status: facts.hasIndex ? 'present' : 'missing',
      sql: facts.hasIndex
        ? []
        : [
            `CREATE INDEX IF NOT EXISTS ${indexName} ON ${qualified} (${[column, ...key].map(quoteIdent).join(', ')})`,
          ],
    },
    {
      part: 'deletes',
      status: facts.hasDeleteCapture ? 'present' : 'missing',
      sql: facts.hasDeleteCapture ? [] : deleteCaptureStatements(schema, table, key),
    },
  ];
  const sql = parts.flatMap((p) => p.sql);
  const result = { definition: name, table: `${schema}.${table}`, column, parts, sql, notes, rereading: [] };
  if (options.printSql || sql.length === 0) {
    if (reread)
      notes.push(
        `after running these statements, run "arcore-sync reset-cursor NAME --scope source" for ${name} and every ` +
          'other definition reading this table, so their next push reads it again',
      );
    return { ...result, applied: !options.printSql };
  }
  // One transaction: the table gets all of them or none.
  const change = () =>
    inTransaction(pool, async (client) => {
      for (const statement of sql) await client.query(statement);
    });
  let rereading: string[] = [];
  if (reread && options.meta)
    rereading = await rereadTable(options.meta, await definitionsOnTable(options.meta, def), change);
  else await change();
  if (reread && !options.meta)
    notes.push(
      `run "arcore-sync reset-cursor NAME --scope source" for every saved definition reading this table, so ` +
        'its next push reads it again',
    );
  if (rereading.length > 0)
    notes.push(
      `the next push of ${rereading.join(', ')} reads the whole table again (rows found unchanged are skipped)`,
    );
  return {
    ...result,
    applied: true,
    parts: parts.map((p) => (p.status === 'missing' ? { ...p, status: 'added' } : p)),
    rereading,
  };
}
