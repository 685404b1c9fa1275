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

/**
 * Where a cursor row lives: a definition's cursors are keyed by scope (and record the cursor type), a routed
 * list's delta links (arcore.sync_list_cursors) by list id. Table and column names are fixed here, never input.
 */
type CursorRow =
  | { table: 'arcore.sync_cursors'; key: 'scope'; keyValue: CursorScope; cursorType: string }
  | { table: 'arcore.sync_list_cursors'; key: 'list_id'; keyValue: string; cursorType: null };

function definitionRow(scope: CursorScope): CursorRow {
  return {
    table: 'arcore.sync_cursors',
    key: 'scope',
    keyValue: scope,
    cursorType: scope === 'SOURCE' ? 'TIMESTAMP' : 'DELTA_TOKEN',
  };
}

function listRow(listId: string): CursorRow {
  return { table: 'arcore.sync_list_cursors', key: 'list_id', keyValue: listId, cursorType: null };
}

async function readRow(db: Db, definitionId: string, row: CursorRow): Promise<StoredCursor | null> {
  const { rows } = await db.query<{
    value: string | null;
    progress: string | null;
    fingerprint: TargetFingerprint | null;
    updated_at: Date;
  }>(
    `SELECT value, progress, fingerprint, updated_at FROM ${row.table}
      WHERE definition_id = $1 AND ${row.key} = $2`,
    [definitionId, row.keyValue],
  );
  const r = rows[0];
  return r
    ? { value: r.value, progress: r.progress, fingerprint: r.fingerprint, updatedAt: r.updated_at }
    : null;
}

async function writeRow(
  db: Db,
  definitionId: string,
  row: CursorRow,
  value: string | null,
  progress: string | null,
  fingerprint: TargetFingerprint | null,
): Promise<void> {
  const typed = row.cursorType !== null;
  const params: (string | null)[] = [
    definitionId,
    row.keyValue,
    value,
    progress,
    fingerprint ? JSON.stringify(fingerprint) : null,
  ];
  if (row.cursorType !== null) params.push(row.cursorType);
  await db.query(
    `INSERT INTO ${row.table} (definition_id, ${row.key}, value, progress, fingerprint, updated_at${typed ? ', cursor_type' : ''})
     VALUES ($1, $2, $3, $4, $5, now()${typed ? ', $6' : ''})
     ON CONFLICT (definition_id, ${row.key}) DO UPDATE SET value = EXCLUDED.value, progress = EXCLUDED.progress,
       fingerprint = EXCLUDED.fingerprint,${typed ? ' cursor_type = EXCLUDED.cursor_type,' : ''} updated_at = now()`,
    params,
  );
}

export async function readCursor(
  db: Db,
  definitionId: string,
  scope: CursorScope,
): Promise<StoredCursor | null> {
  return readRow(db, definitionId, definitionRow(scope));
}

export async function writeCursor(
  db: Db,
  definitionId: string,
  scope: CursorScope,
  value: string | null,
  progress: string | null = null,
  fingerprint: TargetFingerprint | null = null,
): Promise<void> {
  await writeRow(db, definitionId, definitionRow(scope), value, progress, fingerprint);
}

/** A routed list's delta link (arcore.sync_list_cursors): one per list of a routed definition. */
export async function readListCursor(
  db: Db,
  definitionId: string,
  listId: string,
): Promise<StoredCursor | null> {
  return readRow(db, definitionId, listRow(listId));
}

export async function writeListCursor(
  db: Db,
  definitionId: string,
  listId: string,
  value: string | null,
  progress: string | null = null,
  fingerprint: TargetFingerprint | null = null,
): Promise<void> {
  await writeRow(db, definitionId, listRow(listId), value, progress, fingerprint);
}

/**
 * When each routed list's delta cursor was last written (a page applied, a feed finished, a link reset), by list id;
 * a list never pulled has no entry.
 */
export async function listCursorTimes(db: Db, definitionId: string): Promise<Map<string, Date>> {
  const { rows } = await db.query<{ list_id: string; updated_at: Date }>(
    'SELECT list_id, updated_at FROM arcore.sync_list_cursors WHERE definition_id = $1',
    [definitionId],
  );
  return new Map(rows.map((r) => [r.list_id, r.updated_at]));
}

/** Forgets every routed list's delta link of a definition (relink, reset-cursor). */
export async function clearListCursors(db: Db, definitionId: string): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM arcore.sync_list_cursors WHERE definition_id = $1', [
    definitionId,
  ]);
  return rowCount ?? 0;
}
