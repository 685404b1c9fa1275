import type { Pool, PoolClient } from 'pg';
import { textArrayParam } from '../db/textArray';

type Db = Pool | PoolClient;
export type FailureDirection = 'PUSH' | 'PULL';

export interface ParkedFailure {
  id: string;
  direction: FailureDirection;
  /** PUSH: source identity hash. PULL: SharePoint item id. */
  itemKey: string;
  sourceIdentity: Record<string, unknown> | null;
  spItemId: string | null;
  attempts: number;
  lastError: string;
}

/**
 * The retry queue (I5c). A row or item whose write failed is parked here in the same transaction that moves
 * the cursor past it; every later run retries due entries first. Retries are immediate for the first three
 * attempts, then back off (capped at 15 minutes) so a permanently bad row does not cost every run.
 *
 * `waiting`: the row was not tried, only held back until something an earlier run left settles (a move in
 * flight): parked new, it counts no attempt (so its success leaves no failure on record, resolveParked); parked
 * again, it keeps its attempts and its next retry, and only its message and time change.
 *
 * `heldMove`: the row waits for a user (a move whose two items were both edited, push/moves.ts): counted as a held
 * move, not as a parked failure (migration 031). Any other park of the row clears it.
 */
export async function park(
  db: Db,
  definitionId: string,
  f: {
    direction: FailureDirection;
    itemKey: string;
    sourceIdentity?: Record<string, unknown> | null;
    spItemId?: string | null;
    error: string;
    waiting?: boolean;
    heldMove?: boolean;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO arcore.sync_failures (definition_id, direction, item_key, source_identity, sp_item_id, last_error,
       attempts, held_move)
     VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7 THEN 0 ELSE 1 END, $8)
     ON CONFLICT (definition_id, direction, item_key) WHERE status = 'PARKED' DO UPDATE SET
       attempts = arcore.sync_failures.attempts + CASE WHEN $7 THEN 0 ELSE 1 END,
       last_error = EXCLUDED.last_error, last_failed_at = now(), held_move = EXCLUDED.held_move,
       source_identity = COALESCE(EXCLUDED.source_identity, arcore.sync_failures.source_identity),
       sp_item_id = COALESCE(EXCLUDED.sp_item_id, arcore.sync_failures.sp_item_id),
       next_attempt_at = CASE WHEN $7 THEN arcore.sync_failures.next_attempt_at
         ELSE now() + CASE WHEN arcore.sync_failures.attempts < 3 THEN interval '0'
           ELSE least(interval '15 minutes', interval '30 seconds' * power(2, arcore.sync_failures.attempts - 3)) END
         END`,
    [
      definitionId,
      f.direction,
      f.itemKey,
      f.sourceIdentity ? JSON.stringify(f.sourceIdentity) : null,
      f.spItemId ?? null,
      f.error,
      f.waiting ?? false,
      f.heldMove ?? false,
    ],
  );
}

/**
 * Parks many items of one direction in one statement, each as `waiting` (park): an item already parked keeps its
 * attempts and its next retry; a new one is due at once, with no attempt counted. What a write that is to follow
 * a commit (a pull's write-back) leaves behind should the run stop before that write is confirmed; `settleWaiting`
 * takes it back once it is.
 */
export async function parkWaiting(
  db: Db,
  definitionId: string,
  direction: FailureDirection,
  items: {
    itemKey: string;
    sourceIdentity: Record<string, unknown> | null;
    spItemId: string | null;
    error: string;
  }[],
): Promise<void> {
  if (items.length === 0) return;
  await db.query(
    `INSERT INTO arcore.sync_failures (definition_id, direction, item_key, source_identity, sp_item_id, last_error,
       attempts)
     SELECT $1, $2, i.item_key, i.source_identity::jsonb, i.sp_item_id, i.last_error, 0
       FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS i(item_key, source_identity, sp_item_id, last_error)
     ON CONFLICT (definition_id, direction, item_key) WHERE status = 'PARKED' DO UPDATE SET
       last_error = EXCLUDED.last_error, last_failed_at = now(), held_move = false,
       source_identity = COALESCE(EXCLUDED.source_identity, arcore.sync_failures.source_identity),
       sp_item_id = COALESCE(EXCLUDED.sp_item_id, arcore.sync_failures.sp_item_id)`,
    [
      definitionId,
      direction,
      items.map((i) => i.itemKey),
      items.map((i) => (i.sourceIdentity ? JSON.stringify(i.sourceIdentity) : null)),
      items.map((i) => i.spItemId),
      items.map((i) => i.error),
    ],
  );
}

/** The items' writes that `parkWaiting` waited for are confirmed: settled as `resolveParked` settles them. */
export async function settleWaiting(
  db: Db,
  definitionId: string,
  direction: FailureDirection,
  itemKeys: string[],
): Promise<void> {
  await resolveParked(db, definitionId, direction, itemKeys);
}

/**
 * The items succeeded: a parked entry that had failed is resolved (its history kept); one that never failed (no
 * attempt: only held until a write that was to follow a commit was confirmed, `parkWaiting`) is removed, leaving
 * no failure on record. A retry that finds such a write applied already (a run stopped after SharePoint took it)
 * is such a success, not the end of a failure that never happened.
 */
export async function resolveParked(
  db: Db,
  definitionId: string,
  direction: FailureDirection,
  itemKeys: string[],
): Promise<void> {
  if (itemKeys.length === 0) return;
  await db.query(
    `WITH waited AS (
       DELETE FROM arcore.sync_failures
        WHERE definition_id = $1 AND direction = $2 AND item_key = ANY($3) AND status = 'PARKED' AND attempts = 0)
     UPDATE arcore.sync_failures SET status = 'RESOLVED', resolved_at = now()
      WHERE definition_id = $1 AND direction = $2 AND item_key = ANY($3) AND status = 'PARKED' AND attempts > 0`,
    [definitionId, direction, textArrayParam(itemKeys)],
  );
}

/** Parked items due for their retry now, whatever their back-off, with what their record says now. */
export async function retryNow(
  db: Db,
  definitionId: string,
  direction: FailureDirection,
  items: { itemKey: string; error: string }[],
): Promise<void> {
  if (items.length === 0) return;
  await db.query(
    `UPDATE arcore.sync_failures f SET next_attempt_at = now(), last_error = i.last_error
       FROM unnest($3::text[], $4::text[]) AS i(item_key, last_error)
      WHERE f.definition_id = $1 AND f.direction = $2 AND f.item_key = i.item_key AND f.status = 'PARKED'`,
    [definitionId, direction, items.map((i) => i.itemKey), items.map((i) => i.error)],
  );
}

/**
 * Settles the held-move parks that name no row (a row deleted while its move was held, push/moves.ts): the move is
 * settled. A park of the same key that carries a row (a row inserted again, waiting to be pushed) stays.
 */
export async function resolveRowlessHeldMoves(
  db: Db,
  definitionId: string,
  itemKeys: string[],
): Promise<void> {
  if (itemKeys.length === 0) return;
  await db.query(
    `DELETE FROM arcore.sync_failures
      WHERE definition_id = $1 AND direction = 'PUSH' AND item_key = ANY($2) AND status = 'PARKED'
        AND held_move AND source_identity IS NULL`,
    [definitionId, textArrayParam(itemKeys)],
  );
}

/** Item keys parked in one direction whose back-off has not run out: the next retry is not due yet. */
export async function notDueItemKeys(
  db: Db,
  definitionId: string,
  direction: FailureDirection,
): Promise<Set<string>> {
  const { rows } = await db.query<{ item_key: string }>(
    `SELECT item_key FROM arcore.sync_failures
      WHERE definition_id = $1 AND direction = $2 AND status = 'PARKED' AND next_attempt_at > now()`,
    [definitionId, direction],
  );
  return new Set(rows.map((r) => r.item_key));
}

export async function dueFailures(
  db: Db,
  definitionId: string,
  direction: FailureDirection,
  limit = 1000,
): Promise<ParkedFailure[]> {
  const { rows } = await db.query<{
    id: string;
    direction: FailureDirection;
    item_key: string;
    source_identity: Record<string, unknown> | null;
    sp_item_id: string | null;
    attempts: number;
    last_error: string;
  }>(
    `SELECT id, direction, item_key, source_identity, sp_item_id, attempts, last_error FROM arcore.sync_failures
      WHERE definition_id = $1 AND direction = $2 AND status = 'PARKED' AND next_attempt_at <= now()
      ORDER BY id LIMIT $3`,
    [definitionId, direction, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    direction: r.direction,
    itemKey: r.item_key,
    sourceIdentity: r.source_identity,
    spItemId: r.sp_item_id,
    attempts: r.attempts,
    lastError: r.last_error,
  }));
}
