import type { Pool } from 'pg';
import {
  cursorTriggerName,
  cursorTriggerStatements,
  KEEP_CURSOR_SETTING,
  quoteIdent,
} from '../source/postgres/PostgresSource';
import type { SyncDefinition } from '../definition/schema';
import { getDefinition } from '../store/definitions';
import { deleteCaptureStatements, deleteDetectionOf } from '../source/postgres/tombstones';
import { CursorSetupError } from './errors';
import { inTransaction } from '../db/transaction';

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
  hasTrigger: boolean;
  /** The trigger is there but its function predates KEEP_CURSOR_SETTING: backfills would move the column. */
  triggerOutdated: boolean;
  hasIndex: boolean;
  hasDeleteCapture: boolean;
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
  const trigger = await pool.query<{ keeps: boolean }>(
    `SELECT position($3 in p.prosrc) > 0 AS keeps FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
      WHERE t.tgrelid = $1 AND t.tgname = $2 AND NOT t.tgisinternal`,
    [oid, cursorTriggerName(column), KEEP_CURSOR_SETTING],
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
  return {
    oid,
    kind: relkind,
    column: col.rows[0] ? { type: col.rows[0].type, notNull: col.rows[0].not_null } : null,
    hasTrigger: trigger.rows.some((r) => r.keeps),
    triggerOutdated: trigger.rows.length > 0 && !trigger.rows.some((r) => r.keeps),
    hasIndex: indexes.rows.some((r) => wanted.every((c, i) => r.columns[i] === c)),
    hasDeleteCapture: (await deleteDetectionOf(pool, schema, table)) === 'tombstones',
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
  return installCursorFor(def, await sourcePool(def.source.connection), options);
}

/**
 * The same for a definition not saved yet (read from a file): `apply` refuses a definition whose cursor
 * column does not exist, so the column can be added before it is saved.
 */
export async function installCursorFor(
  def: SyncDefinition,
  pool: Pool,
  options: { printSql?: boolean } = {},
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
  const indexName = quoteIdent(`arcore_${table}_${column}_cursor`.slice(0, 63));
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
      sql: facts.hasTrigger ? [] : cursorTriggerStatements(schema, table, column),
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
  if (options.printSql || sql.length === 0) {
    return {
      definition: name,
      table: `${schema}.${table}`,
      column,
      applied: !options.printSql,
      parts,
      sql,
      notes,
    };
  }
  // One transaction: the table gets all of them or none.
  await inTransaction(pool, async (client) => {
    for (const statement of sql) await client.query(statement);
  });
  return {
    definition: name,
    table: `${schema}.${table}`,
    column,
    applied: true,
    parts: parts.map((p) => (p.status === 'missing' ? { ...p, status: 'added' } : p)),
    sql,
    notes,
  };
}
