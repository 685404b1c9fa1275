import type { Pool, PoolClient } from 'pg';

type Db = Pool | PoolClient;
export type CursorScope = 'SOURCE' | 'TARGET';

export interface StoredCursor {
  value: string | null;
  /** TARGET only: the delta page link being applied, so a crash resumes mid-feed (I6). */
  progress: string | null;
  updatedAt: Date;
}

export async function readCursor(
  db: Db,
  definitionId: string,
  scope: CursorScope,
): Promise<StoredCursor | null> {
  const { rows } = await db.query<{ value: string | null; progress: string | null; updated_at: Date }>(
    'SELECT value, progress, updated_at FROM arcore.sync_cursors WHERE definition_id = $1 AND scope = $2',
    [definitionId, scope],
  );
  return rows[0] ? { value: rows[0].value, progress: rows[0].progress, updatedAt: rows[0].updated_at } : null;
}

export async function writeCursor(
  db: Db,
  definitionId: string,
  scope: CursorScope,
  value: string | null,
  progress: string | null = null,
): Promise<void> {
  await db.query(
    `INSERT INTO arcore.sync_cursors (definition_id, scope, cursor_type, value, progress, updated_at)
     VALUES ($1, $2, $3, $4, $5, now())
     ON CONFLICT (definition_id, scope) DO UPDATE SET value = EXCLUDED.value, progress = EXCLUDED.progress,
       cursor_type = EXCLUDED.cursor_type, updated_at = now()`,
    [definitionId, scope, scope === 'SOURCE' ? 'TIMESTAMP' : 'DELTA_TOKEN', value, progress],
  );
}
