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

/** A routed list's delta link (arcore.sync_list_cursors): one per list of a routed definition. */
export async function readListCursor(
  db: Db,
  definitionId: string,
  listId: string,
): Promise<StoredCursor | null> {
  const { rows } = await db.query<{
    value: string | null;
    progress: string | null;
    fingerprint: TargetFingerprint | null;
    updated_at: Date;
  }>(
    `SELECT value, progress, fingerprint, updated_at FROM arcore.sync_list_cursors
      WHERE definition_id = $1 AND list_id = $2`,
    [definitionId, listId],
  );
  const r = rows[0];
  return r
    ? { value: r.value, progress: r.progress, fingerprint: r.fingerprint, updatedAt: r.updated_at }
    : null;
}

export async function writeListCursor(
  db: Db,
  definitionId: string,
  listId: string,
  value: string | null,
  progress: string | null = null,
  fingerprint: TargetFingerprint | null = null,
): Promise<void> {
  await db.query(
    `INSERT INTO arcore.sync_list_cursors (definition_id, list_id, value, progress, fingerprint, updated_at)
     VALUES ($1, $2, $3, $4, $5, now())
     ON CONFLICT (definition_id, list_id) DO UPDATE SET value = EXCLUDED.value, progress = EXCLUDED.progress,
       fingerprint = EXCLUDED.fingerprint, updated_at = now()`,
    [definitionId, listId, value, progress, fingerprint ? JSON.stringify(fingerprint) : null],
  );
}

/** Forgets every routed list's delta link of a definition (relink, reset-cursor). */
export async function clearListCursors(db: Db, definitionId: string): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM arcore.sync_list_cursors WHERE definition_id = $1', [
    definitionId,
  ]);
  return rowCount ?? 0;
}
