import type { Pool } from 'pg';
import { readSourceTable } from '../source/postgres/catalog';
import {
  DELETE_CHUNK_ROWS,
  SWEEP_SLICE_MS,
  deleteDetectionOf,
  type DeleteDetection,
} from '../source/postgres/tombstones';
import type { SyncDefinition } from './schema';

export interface DeleteDetectionReport {
  /** `tombstones`: the delete-capture trigger records deletes; `sweep`: the ledger is compared with the table. */
  mode: DeleteDetection;
  message: string;
}

/**
 * How push will find rows deleted in Postgres (I8), for `validate`: with the delete-capture trigger an idle push
 * costs the same whatever the table's size; without it (views, or not installed) the push compares the ledger
 * with the table a chunk at a time, so a delete in a big table can take several pushes to be found.
 */
export async function describeDeleteDetection(
  def: SyncDefinition,
  pool: Pool,
): Promise<DeleteDetectionReport | null> {
  const { schema, table } = def.source;
  const info = await readSourceTable(pool, schema, table);
  if (!info) return null;
  const mode = await deleteDetectionOf(pool, schema, table);
  if (mode === 'tombstones')
    return {
      mode,
      message: 'captured by trigger (arcore_capture_deletes): push reads only the recorded deletes',
    };
  const swept =
    `found by comparing the ledger with the table, ${DELETE_CHUNK_ROWS.toLocaleString('en-US')} rows at a time (up to ` +
    `${SWEEP_SLICE_MS} ms per push), so on a ` +
    'large table a delete may take several pushes to reach SharePoint';
  if (['v', 'm', 'f'].includes(info.relkind))
    return {
      mode,
      message: `${swept}. "${schema}.${table}" is a view: it cannot carry the delete-capture trigger`,
    };
  return {
    mode,
    message: `${swept}. Install the delete-capture trigger: "arcore-sync install-cursor ${def.name}" (or --print-sql)`,
  };
}
