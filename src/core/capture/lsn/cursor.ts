import type { Pool, PoolClient } from 'pg';
import { z } from 'zod';

/**
 * The SOURCE cursor of an LSN definition (sync_cursors, cursor_type LSN): the slot position the ledger is
 * known to be consistent with, and, while the table's current rows are being loaded (a new definition, a
 * switch from TIMESTAMP, a lost slot), the last key loaded. The slot holds where decoding resumes; this copy,
 * written before every move of the slot by the push, is never behind it, so a slot ahead of it was moved by
 * someone else (push.ts, assertSlotNotAhead). It also serves `status` and tells a run which phase it resumes.
 */
export interface LsnCursor {
  lsn: string;
  /** Set while loading: the last key loaded (null: nothing yet). */
  load: LsnLoad | null;
  /** As read: a full comparison of ledger and table for deletes is owed (read with the cursor, no extra query). */
  deletesOwed?: boolean;
  /**
   * Set when a run stopped inside a transaction (time budget, crash after a page): the transaction (its commit
   * LSN) and how many of its row changes are already applied. The slot stays before the transaction, so the
   * next run reads it again from its start and skips those changes instead of re-reading their rows.
   */
  within?: { txn: string; changes: number } | null;
  /**
   * As read: the capture shape recorded when capture started (storage.ts; sync_cursors.capture_shape, kept by
   * writeLsnCursor); null when none was recorded yet.
   */
  shape?: string | null;
  /** As read: whether the place of the slot is recorded (sync_cursors.capture_source, source.ts). */
  located?: boolean;
}

/**
 * A load in progress. `upto`: the highest key in the table when the load began (read after the slot was created),
 * the last key the load reads; null: the table was empty; absent: not read yet (a cursor written before the load
 * read it, or by an older version). Rows above it came after the slot and reach the ledger through it, so a table
 * whose keys grow faster than the load writes still finishes loading (docs/design.md, I17).
 */
export interface LsnLoad {
  after: unknown[] | null;
  reason: string;
  upto?: unknown[] | null;
}

const lsnCursorSchema = z.object({
  v: z.literal(1),
  mode: z.literal('LSN'),
  lsn: z.string().min(1),
  load: z
    .object({
      after: z.array(z.unknown()).nullable(),
      reason: z.string(),
      upto: z.array(z.unknown()).nullable().optional(),
    })
    .nullable(),
  within: z
    .object({ txn: z.string().min(1), changes: z.number().int().min(0) })
    .nullable()
    .optional(),
});

/** The stored value when it is an LSN cursor; null for none or a TIMESTAMP cursor (a switched definition). */
export function parseLsnCursor(raw: string | null | undefined): LsnCursor | null {
  if (!raw) return null;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return null;
  }
  const parsed = lsnCursorSchema.safeParse(json);
  return parsed.success
    ? { lsn: parsed.data.lsn, load: parsed.data.load, within: parsed.data.within ?? null }
    : null;
}

export async function readLsnCursor(db: Pool | PoolClient, definitionId: string): Promise<LsnCursor | null> {
  const { rows } = await db.query<{
    value: string | null;
    owed: boolean;
    shape: string | null;
    located: boolean;
  }>(
    `SELECT value, deletes_full_position IS NOT NULL AS owed, capture_shape AS shape,
            capture_source IS NOT NULL AS located
       FROM arcore.sync_cursors WHERE definition_id = $1 AND scope = 'SOURCE' AND cursor_type = 'LSN'`,
    [definitionId],
  );
  const cursor = parseLsnCursor(rows[0]?.value);
  return cursor && { ...cursor, deletesOwed: rows[0].owed, shape: rows[0].shape, located: rows[0].located };
}

/** Records the capture shape the slot's changes are read against (storage.ts). */
export async function writeCaptureShape(
  db: Pool | PoolClient,
  definitionId: string,
  shape: string,
): Promise<void> {
  await db.query(
    `UPDATE arcore.sync_cursors SET capture_shape = $2
      WHERE definition_id = $1 AND scope = 'SOURCE' AND cursor_type = 'LSN'`,
    [definitionId, shape],
  );
}

export async function writeLsnCursor(
  db: Pool | PoolClient,
  definitionId: string,
  cursor: LsnCursor,
): Promise<void> {
  const value = JSON.stringify({
    v: 1,
    mode: 'LSN',
    lsn: cursor.lsn,
    load: cursor.load,
    ...(cursor.within ? { within: cursor.within } : {}),
  });
  await db.query(
    `INSERT INTO arcore.sync_cursors (definition_id, scope, cursor_type, value, updated_at)
     VALUES ($1, 'SOURCE', 'LSN', $2, now())
     ON CONFLICT (definition_id, scope) DO UPDATE SET cursor_type = 'LSN', value = EXCLUDED.value,
       progress = NULL, fingerprint = NULL, updated_at = now()`,
    [definitionId, value],
  );
}
