/**
 * Retiring the delete capture `install-cursor` adds (triggers and tombstone table, source/postgres/tombstones.ts)
 * once no definition reads its tombstones: only TIMESTAMP definitions do. An LSN definition finds deletes in
 * its slot, and a removed definition reads nothing, so left in place the triggers would fill the tombstone
 * table forever. It stays while another TIMESTAMP definition reads the same table: that one's pushes sweep a
 * shared table and drop its tombstones (engine/push/deletes.ts), so they do not pile up.
 */
import type { Pool } from 'pg';
import { inTransaction } from '../db/transaction';
import { quoteIdent } from '../source/postgres/PostgresSource';
import {
  DELETE_CAPTURE_TRIGGER,
  dropDeleteCaptureStatements,
  tombstoneTableName,
} from '../source/postgres/tombstones';

/** The table a definition reads, as sync_definitions stores it. */
export interface SourceTable {
  schema: string;
  table: string;
  connection: string;
}

export interface DeleteCaptureRetirement {
  /** schema.table */
  table: string;
  /**
   * dropped: triggers, functions and tombstone table removed; kept: another TIMESTAMP definition reads the table
   * (`keptFor`); absent: nothing installed; preview: a dry run would drop it; failed: the drop was refused (`sql`
   * is what to run on the source server).
   */
  status: 'dropped' | 'kept' | 'absent' | 'preview' | 'failed';
  keptFor: string[];
  error?: string;
  sql?: string[];
}

/** TIMESTAMP definitions other than `definitionId` reading the same table over the same connection. */
export async function timestampReaders(
  meta: Pool,
  definitionId: string,
  source: SourceTable,
): Promise<string[]> {
  const { rows } = await meta.query<{ name: string }>(
    `SELECT name FROM arcore.sync_definitions
      WHERE id <> $1 AND cursor_type = 'TIMESTAMP' AND document->'source'->>'table' = $2
        AND coalesce(document->'source'->>'schema', 'public') = $3
        AND coalesce(document->'source'->>'connection', 'default') = $4
      ORDER BY name`,
    [definitionId, source.table, source.schema, source.connection],
  );
  return rows.map((r) => r.name);
}

/** Whether the delete-capture trigger or the tombstone table is on the table. */
async function installed(pool: Pool, source: SourceTable): Promise<boolean> {
  const { rows } = await pool.query<{ installed: boolean }>(
    `SELECT to_regclass($1) IS NOT NULL
            OR EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($2) AND tgname = $3) AS installed`,
    [
      `${quoteIdent(source.schema)}.${quoteIdent(tombstoneTableName(source.table))}`,
      `${quoteIdent(source.schema)}.${quoteIdent(source.table)}`,
      DELETE_CAPTURE_TRIGGER,
    ],
  );
  return rows[0].installed;
}

/**
 * Drops the table's delete capture unless another TIMESTAMP definition reads the table. Never throws for a
 * refused drop (a role that does not own the table): the caller reports `failed` with the SQL to run.
 */
export async function retireDeleteCapture(
  meta: Pool,
  pool: Pool,
  definitionId: string,
  source: SourceTable,
  opts: { dryRun?: boolean } = {},
): Promise<DeleteCaptureRetirement> {
  const table = `${source.schema}.${source.table}`;
  const keptFor = await timestampReaders(meta, definitionId, source);
  if (keptFor.length > 0) return { table, status: 'kept', keptFor };
  if (!(await installed(pool, source))) return { table, status: 'absent', keptFor };
  const sql = dropDeleteCaptureStatements(source.schema, source.table);
  if (opts.dryRun) return { table, status: 'preview', keptFor, sql };
  try {
    await inTransaction(pool, async (client) => {
      for (const statement of sql) await client.query(statement);
    });
    return { table, status: 'dropped', keptFor };
  } catch (err) {
    return { table, status: 'failed', keptFor, error: (err as Error).message, sql };
  }
}

/** One line for logs and CLI output. */
export function describeRetirement(r: DeleteCaptureRetirement): string {
  const tombstones = tombstoneTableName(r.table.slice(r.table.indexOf('.') + 1));
  switch (r.status) {
    case 'dropped':
      return `delete capture on ${r.table} dropped (its triggers and the tombstone table ${tombstones})`;
    case 'kept':
      return `delete capture on ${r.table} kept: ${r.keptFor.join(', ')} (TIMESTAMP) read${r.keptFor.length > 1 ? '' : 's'} the table`;
    case 'preview':
      return `delete capture on ${r.table} would be dropped (its triggers and the tombstone table ${tombstones})`;
    case 'failed':
      return (
        `delete capture on ${r.table} could not be checked or dropped (${r.error}); where it is installed its ` +
        `triggers keep filling ${tombstones}: run on the source server: ${(r.sql ?? []).join('; ')};`
      );
    default:
      return `no delete capture on ${r.table}`;
  }
}
