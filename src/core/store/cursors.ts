import type { Pool, PoolClient } from 'pg';

type Db = Pool | PoolClient;
export type CursorScope = 'SOURCE' | 'TARGET';

export interface StoredCursor {
  value: string | null;
  /** TARGET only: the delta page link being applied, so a crash resumes mid-feed (I6). */
  progress: string | null;
  /** TARGET only: what the stored delta link was built from (list and selected fields, I14). */
  fingerprint: TargetFingerprint | null;
  updatedAt: Date;
}

/** The list a delta link reads and the fields it selects: a link is reused only for what it can carry. */
export interface TargetFingerprint {
  listId: string;
  select: string[];
}

export async function readCursor(
  db: Db,
  definitionId: string,
  scope: CursorScope,
): Promise<StoredCursor | null> {
  const { rows } = await db.query<{
    value: string | null;
    progress: string | null;
    fingerprint: TargetFingerprint | null;
    updated_at: Date;
  }>(
    `SELECT value, progress, fingerprint, updated_at FROM arcore.sync_cursors
      WHERE definition_id = $1 AND scope = $2`,
    [definitionId, scope],
  );
  const r = rows[0];
  return r
    ? { value: r.value, progress: r.progress, fingerprint: r.fingerprint, updatedAt: r.updated_at }
    : null;
}

export async function writeCursor(
  db: Db,
  definitionId: string,
  scope: CursorScope,
  value: string | null,
  progress: string | null = null,
  fingerprint: TargetFingerprint | null = null,
): Promise<void> {
  await db.query(
    `INSERT INTO arcore.sync_cursors (definition_id, scope, cursor_type, value, progress, fingerprint, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, now())
     ON CONFLICT (definition_id, scope) DO UPDATE SET value = EXCLUDED.value, progress = EXCLUDED.progress,
       fingerprint = EXCLUDED.fingerprint, cursor_type = EXCLUDED.cursor_type, updated_at = now()`,
    [
      definitionId,
      scope,
      scope === 'SOURCE' ? 'TIMESTAMP' : 'DELTA_TOKEN',
      value,
      progress,
      fingerprint ? JSON.stringify(fingerprint) : null,
    ],
  );
}
