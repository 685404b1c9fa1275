import type { Pool } from 'pg';

/**
 * `arcore.pending_pulls` holds at most one row per definition: "a pull is wanted and its queue message
 * is on its way" (I11). Whoever inserts the row enqueues the message; everyone who finds the row
 * already there does not, so a burst of notifications becomes one pull. The pull worker deletes the row
 * when it starts (`claimPendingPull`), so a change arriving during that pull inserts a fresh row and
 * enqueues exactly one follow-up.
 */

/**
 * A pending row older than this is treated as lost (its message was never delivered or the worker died
 * before claiming it) and may be re-armed, so one lost message cannot silence a list for good.
 */
export const STALE_PENDING_PULL_SECONDS = 15 * 60;

/**
 * Marks a pull of `definitionId` as wanted. Returns true when the caller must enqueue a message: no pull
 * was pending, or the pending one is stale.
 */
export async function requestPull(meta: Pool, definitionId: string, reason: string): Promise<boolean> {
  const { rows } = await meta.query<{ definition_id: string }>(
    `INSERT INTO arcore.pending_pulls (definition_id, reason) VALUES ($1, $2)
     ON CONFLICT (definition_id) DO UPDATE SET requested_at = now(), reason = EXCLUDED.reason
       WHERE arcore.pending_pulls.requested_at < now() - make_interval(secs => $3)
     RETURNING definition_id`,
    [definitionId, reason.slice(0, 500), STALE_PENDING_PULL_SECONDS],
  );
  return rows.length > 0;
}

/**
 * Marks a pull as wanted whatever is pending (the safety timer and retries enqueue unconditionally);
 * the row makes notifications that arrive meanwhile collapse into that message.
 */
export async function markPullPending(meta: Pool, definitionId: string, reason: string): Promise<void> {
  await meta.query(
    `INSERT INTO arcore.pending_pulls (definition_id, reason) VALUES ($1, $2)
     ON CONFLICT (definition_id) DO UPDATE SET requested_at = now(), reason = EXCLUDED.reason`,
    [definitionId, reason.slice(0, 500)],
  );
}

/** Called by the pull worker as it starts: from here on, a new notification means a follow-up pull. */
export async function claimPendingPull(meta: Pool, definitionId: string): Promise<boolean> {
  const { rowCount } = await meta.query('DELETE FROM arcore.pending_pulls WHERE definition_id = $1', [
    definitionId,
  ]);
  return (rowCount ?? 0) > 0;
}
