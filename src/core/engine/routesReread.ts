/**
 * A routes change on a definition that has synced (issue #21): every synced row whose list changes must move,
 * not only the rows a push happens to read again. The push moves a row when it reads it, so `apply` makes the
 * next push read every row once more, through the same bounded, resumable paths a first push takes:
 * - TIMESTAMP: the keyset cursor goes back to the start. Each page commits its cursor (I5c), so a run the time
 *   budget stops is continued by the next; rows read unchanged are recognised by the ledger and skipped.
 * - LSN: the table is loaded again in key order (the cursor's `load`, resumed by key), while the slot keeps
 *   every change made meanwhile for after the load, as after a new slot.
 * Nothing else of the cursor row changes (a delete comparison owed, the idle mark, the slot position).
 */
import type { PoolClient } from 'pg';
import { parseLsnCursor } from '../capture/lsn';
import { writeLsnCursor } from '../capture/lsn/cursor';

export const ROUTES_REREAD_REASON = 'routes changed: every row is read again and moved to its new list';

/** Under the definition's lock, in `apply`'s transaction. False when there is no cursor (the next push reads all). */
export async function rereadForRoutes(
  client: PoolClient,
  definitionId: string,
  reason = ROUTES_REREAD_REASON,
): Promise<boolean> {
  const { rows } = await client.query<{ value: string | null }>(
    `SELECT value FROM arcore.sync_cursors WHERE definition_id = $1 AND scope = 'SOURCE' FOR UPDATE`,
    [definitionId],
  );
  if (rows.length === 0 || rows[0].value === null) return false;
  const lsn = parseLsnCursor(rows[0].value);
  if (lsn) {
    await writeLsnCursor(client, definitionId, {
      ...lsn,
      load: { after: null, reason },
    });
    return true;
  }
  await client.query(
    `UPDATE arcore.sync_cursors SET value = NULL, progress = NULL, updated_at = now()
      WHERE definition_id = $1 AND scope = 'SOURCE'`,
    [definitionId],
  );
  return true;
}
