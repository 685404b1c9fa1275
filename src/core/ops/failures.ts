import type { Pool } from 'pg';
import { definitionIdByName } from './definitionIds';
import { HeldMoveNotDiscardedError, UnknownFailureError } from './errors';
import { heldMovesNextStep } from './heldRows';
import type { FailureRecord, FailureStatus } from './records';
import { inTransaction } from '../db/transaction';

interface FailureRow {
  id: string;
  definition: string;
  direction: FailureRecord['direction'];
  item_key: string;
  source_identity: unknown;
  sp_item_id: string | null;
  attempts: number;
  last_error: string;
  status: FailureStatus;
  first_failed_at: Date;
  last_failed_at: Date;
  next_attempt_at: Date;
  resolved_at: Date | null;
  held_move: boolean;
}

const FAILURE_COLUMNS = `f.id::text AS id, d.name AS definition, f.direction, f.item_key, f.source_identity,
  f.sp_item_id, f.attempts, f.last_error, f.status, f.first_failed_at, f.last_failed_at, f.next_attempt_at,
  f.resolved_at, f.held_move`;

function toFailureRecord(row: FailureRow): FailureRecord {
  return {
    failureId: row.id,
    definition: row.definition,
    direction: row.direction,
    itemKey: row.item_key,
    sourceIdentity: row.source_identity,
    spItemId: row.sp_item_id,
    attempts: row.attempts,
    lastError: row.last_error,
    status: row.status,
    heldMove: row.held_move,
    firstFailedAt: row.first_failed_at.toISOString(),
    lastFailedAt: row.last_failed_at.toISOString(),
    nextAttemptAt: row.next_attempt_at.toISOString(),
    resolvedAt: row.resolved_at ? row.resolved_at.toISOString() : null,
  };
}

/** Failures of a definition (parked ones unless another status is asked for), oldest first. */
export async function listFailures(
  meta: Pool,
  name: string,
  status: FailureStatus | 'ALL' = 'PARKED',
): Promise<FailureRecord[]> {
  const definitionId = await definitionIdByName(meta, name);
  const { rows } = await meta.query<FailureRow>(
    `SELECT ${FAILURE_COLUMNS} FROM arcore.sync_failures f JOIN arcore.sync_definitions d ON d.id = f.definition_id
     WHERE f.definition_id = $1 AND ($2::text = 'ALL' OR f.status = $2)
     ORDER BY f.first_failed_at, f.id`,
    [definitionId, status],
  );
  return rows.map(toFailureRecord);
}

export interface FailureChange {
  definition: string;
  /** Ids of the failures changed, ascending. */
  failureIds: string[];
  /**
   * Discarding all: the held moves left as they are (ids, ascending), and what releases them. Held moves are not
   * failures: discarded, the next push would hold each row again (push/moves.ts settlePendingMoves).
   */
  heldMovesKept?: { failureIds: string[]; nextStep: string };
}

const ID = /^[1-9][0-9]{0,18}$/;

/**
 * Applies `assignment` to the parked failures of a definition: all of them, or exactly `ids`. When an id
 * is not a parked failure of the definition nothing changes and UnknownFailureError names the strays.
 */
async function changeParked(
  meta: Pool,
  name: string,
  ids: string[] | undefined,
  assignment: string,
  heldMoves: 'change' | 'keep',
): Promise<FailureChange> {
  const definitionId = await definitionIdByName(meta, name);
  const wanted = ids === undefined ? null : [...new Set(ids)];
  if (wanted) {
    const malformed = wanted.filter((id) => !ID.test(id));
    if (malformed.length > 0) throw new UnknownFailureError(name, malformed);
  }
  return inTransaction(meta, async (client) => {
    const { rows } = await client.query<{ id: string }>(
      `UPDATE arcore.sync_failures SET ${assignment}
       WHERE definition_id = $1 AND status = 'PARKED' AND ($2::bigint[] IS NULL OR id = ANY($2::bigint[]))
         AND ($3 OR NOT held_move)
       RETURNING id::text AS id`,
      [definitionId, wanted, heldMoves === 'change'],
    );
    const changed = new Set(rows.map((r) => r.id));
    const kept =
      heldMoves === 'keep'
        ? (
            await client.query<{ id: string }>(
              `SELECT id::text AS id FROM arcore.sync_failures
                WHERE definition_id = $1 AND status = 'PARKED' AND held_move
                  AND ($2::bigint[] IS NULL OR id = ANY($2::bigint[]))`,
              [definitionId, wanted],
            )
          ).rows.map((r) => r.id)
        : [];
    const byId = (a: string, b: string) => Number(a) - Number(b);
    // Rolls back: a held move named changes nothing, not even the ids that were failures.
    if (wanted && kept.length > 0)
      throw new HeldMoveNotDiscardedError(name, kept.sort(byId), heldMovesNextStep(name));
    const strays = wanted ? wanted.filter((id) => !changed.has(id)) : [];
    // Rolls back: an unknown id changes nothing, not even the ids that were known.
    if (strays.length > 0) throw new UnknownFailureError(name, strays);
    return {
      definition: name,
      failureIds: [...changed].sort(byId),
      ...(kept.length > 0
        ? { heldMovesKept: { failureIds: kept.sort(byId), nextStep: heldMovesNextStep(name) } }
        : {}),
    };
  });
}

/** Makes parked failures due now: the next run of their direction retries them first (I5c). */
export function retryFailures(meta: Pool, name: string, ids?: string[]): Promise<FailureChange> {
  return changeParked(meta, name, ids, 'next_attempt_at = now()', 'change');
}

/**
 * Gives up on parked failures: no run retries them again. The change they carried is dropped. Held moves are not
 * failures and stay (`heldMovesKept`); naming one is refused (HeldMoveNotDiscardedError) and changes nothing.
 */
export function discardFailures(meta: Pool, name: string, ids?: string[]): Promise<FailureChange> {
  return changeParked(meta, name, ids, "status = 'DISCARDED', resolved_at = now()", 'keep');
}
