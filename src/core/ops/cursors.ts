import type { Pool } from 'pg';
import { clearListCursors } from '../store/cursors';
import { tryLockDefinition } from '../store/locks';
import { definitionIdByName } from './definitionIds';
import { DefinitionBusyError } from './errors';

export type CursorResetScope = 'source' | 'target' | 'all';

export interface CursorReset {
  definition: string;
  /** Cursor rows that existed and were removed. */
  removed: ('SOURCE' | 'TARGET')[];
}

/**
 * The seed's "Reset Cursor": forget where push (source) and/or pull (target) stand, so the next run
 * re-reads everything. The ledger stays, so every row and item found again is matched to its partner
 * and updated (or recognised as unchanged), never created a second time (I1, I3, I6).
 */
export async function resetCursor(meta: Pool, name: string, scope: CursorResetScope): Promise<CursorReset> {
  const definitionId = await definitionIdByName(meta, name);
  const scopes = scope === 'all' ? ['SOURCE', 'TARGET'] : [scope.toUpperCase()];
  // Under the run lock: a run in progress would otherwise write its cursor back when it finishes.
  const lock = await tryLockDefinition(meta, definitionId);
  if (!lock) throw new DefinitionBusyError(name, 'resetting its cursor');
  try {
    const { rows } = await meta.query<{ scope: 'SOURCE' | 'TARGET'; owed: string | null }>(
      `DELETE FROM arcore.sync_cursors WHERE definition_id = $1 AND scope = ANY($2::text[])
       RETURNING scope, deletes_full_position AS owed`,
      [definitionId, scopes],
    );
    // A full comparison for deletes still owed is not where push stands: re-reading the table finds no
    // delete, so the debt (and how far it got) outlives the reset.
    const owed = rows.find((r) => r.scope === 'SOURCE')?.owed ?? null;
    if (owed !== null)
      await meta.query(
        `INSERT INTO arcore.sync_cursors (definition_id, scope, cursor_type, deletes_full_position)
         VALUES ($1, 'SOURCE', 'TIMESTAMP', $2)`,
        [definitionId, owed],
      );
    const removed = new Set(rows.map((r) => r.scope));
    // A routed definition's delta links live per list (arcore.sync_list_cursors).
    if (scopes.includes('TARGET') && (await clearListCursors(meta, definitionId)) > 0) removed.add('TARGET');
    return { definition: name, removed: [...removed].sort() };
  } finally {
    await lock.release();
  }
}
