import type { Pool, PoolClient } from 'pg';
import type { CanonicalRecord } from '../canonical';
import { mayStillLandSql } from './runs';

type Db = Pool | PoolClient;

/**
 * A move in flight (routing, I6): the row's item is being created in `toListId` and will then be deleted from
 * `fromListId`. Recorded and committed before the create is sent; removed in the transaction that points the
 * ledger at the new item (or when the move is undone).
 */
export interface PendingMove {
  identityHash: string;
  fromListId: string;
  fromItemId: string;
  toListId: string;
  /**
   * The delete of the old item may have been sent (migration 018): a missing old item is then the move's own
   * delete. Before it, an old item found missing was deleted by someone else.
   */
  deleteSent: boolean;
  /**
   * How long ago a run first looked for the move's new item and did not find it (migration 025); null: not
   * looked for since the move was recorded.
   */
  checkedSecondsAgo: number | null;
  /** Its create may still land: the run that recorded it never finished, or is unknown (store/runs.ts). */
  mayStillLand: boolean;
  /**
   * What the move's create sent, of the fields the moved pair syncs (migration 026): the base a rerun finishing
   * the move weighs the new item against. Null: recorded before it.
   */
  sentValues: CanonicalRecord | null;
}

export async function recordMoves(
  db: Db,
  definitionId: string,
  runId: string,
  moves: (Omit<PendingMove, 'deleteSent' | 'checkedSecondsAgo' | 'mayStillLand' | 'sentValues'> & {
    sentValues: CanonicalRecord;
  })[],
): Promise<void> {
  if (moves.length === 0) return;
  await db.query(
    `INSERT INTO arcore.sync_moves (definition_id, source_identity_hash, from_list_id, from_item_id, to_list_id, run_id,
       sent_values)
     SELECT $1, x.h, x.f, x.i, x.t, $2, x.v
       FROM jsonb_to_recordset($3::jsonb) AS x(h text, f text, i text, t text, v jsonb)
     ON CONFLICT (definition_id, source_identity_hash) DO UPDATE SET from_list_id = EXCLUDED.from_list_id,
       from_item_id = EXCLUDED.from_item_id, to_list_id = EXCLUDED.to_list_id, run_id = EXCLUDED.run_id,
       created_at = now(), checked_at = NULL, sent_values = EXCLUDED.sent_values,
       -- The same old item: a delete an earlier attempt may have sent still may have landed.
       delete_sent = arcore.sync_moves.delete_sent AND arcore.sync_moves.from_list_id = EXCLUDED.from_list_id
         AND arcore.sync_moves.from_item_id = EXCLUDED.from_item_id`,
    [
      definitionId,
      runId === '0' ? null : runId,
      JSON.stringify(
        moves.map((m) => ({
          h: m.identityHash,
          f: m.fromListId,
          i: m.fromItemId,
          t: m.toListId,
          v: m.sentValues,
        })),
      ),
    ],
  );
}

export async function pendingMoves(db: Db, definitionId: string): Promise<PendingMove[]> {
  const { rows } = await db.query<{
    source_identity_hash: string;
    from_list_id: string;
    from_item_id: string;
    to_list_id: string;
    delete_sent: boolean;
    checked_seconds_ago: number | null;
    may_still_land: boolean;
    sent_values: CanonicalRecord | null;
  }>(
    `SELECT source_identity_hash, from_list_id, from_item_id, to_list_id, delete_sent, sent_values,
            extract(epoch FROM now() - checked_at)::float8 AS checked_seconds_ago,
            ${mayStillLandSql('m.definition_id', 'm.created_at')} AS may_still_land
       FROM arcore.sync_moves m WHERE m.definition_id = $1 ORDER BY m.created_at, m.source_identity_hash`,
    [definitionId],
  );
  return rows.map((r) => ({
    identityHash: r.source_identity_hash,
    fromListId: r.from_list_id,
    fromItemId: r.from_item_id,
    toListId: r.to_list_id,
    deleteSent: r.delete_sent,
    checkedSecondsAgo: r.checked_seconds_ago,
    mayStillLand: r.may_still_land,
    sentValues: r.sent_values,
  }));
}

/** Records that a run looked for these moves' new items and found none (only the first look counts). */
export async function markMovesChecked(db: Db, definitionId: string, hashes: string[]): Promise<void> {
  if (hashes.length === 0) return;
  await db.query(
    `UPDATE arcore.sync_moves SET checked_at = now()
      WHERE definition_id = $1 AND source_identity_hash = ANY($2) AND checked_at IS NULL`,
    [definitionId, hashes],
  );
}

/** Moves in flight into `toListId` among these identities (the pull leaves their new items to the push). */
export async function movesInto(
  db: Db,
  definitionId: string,
  toListId: string,
  hashes: string[],
): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const { rows } = await db.query<{ h: string }>(
    `SELECT source_identity_hash AS h FROM arcore.sync_moves
      WHERE definition_id = $1 AND to_list_id = $2 AND source_identity_hash = ANY($3)`,
    [definitionId, toListId, hashes],
  );
  return new Set(rows.map((r) => r.h));
}

export async function clearMoves(db: Db, definitionId: string, hashes: string[]): Promise<void> {
  if (hashes.length === 0) return;
  await db.query(
    'DELETE FROM arcore.sync_moves WHERE definition_id = $1 AND source_identity_hash = ANY($2)',
    [definitionId, hashes],
  );
}

/**
 * Records that the deletes of these moves' old items are about to be sent (`sent`), or were refused without
 * deleting anything (`!sent`). Committed before the deletes leave, so a crash after them is read as ours.
 * Returns the identities whose move was already marked: an earlier attempt's delete may have landed.
 */
export async function markDeleteSent(
  db: Db,
  definitionId: string,
  hashes: string[],
  sent: boolean,
): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const { rows } = await db.query<{ h: string }>(
    `UPDATE arcore.sync_moves m SET delete_sent = $3 FROM arcore.sync_moves o
      WHERE m.definition_id = $1 AND m.source_identity_hash = ANY($2)
        AND o.definition_id = m.definition_id AND o.source_identity_hash = m.source_identity_hash
     RETURNING CASE WHEN o.delete_sent THEN m.source_identity_hash END AS h`,
    [definitionId, hashes, sent],
  );
  return new Set(rows.flatMap((r) => (r.h === null ? [] : [r.h])));
}

/**
 * Identities among `hashes` whose move in flight may have deleted their old item: a delete of that item is the
 * move's own. An old item deleted before its move sent the delete was deleted by someone else.
 */
export async function movesDeletingOld(db: Db, definitionId: string, hashes: string[]): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const { rows } = await db.query<{ h: string }>(
    `SELECT source_identity_hash AS h FROM arcore.sync_moves
      WHERE definition_id = $1 AND source_identity_hash = ANY($2) AND delete_sent`,
    [definitionId, hashes],
  );
  return new Set(rows.map((r) => r.h));
}
