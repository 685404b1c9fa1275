import type { Pool } from 'pg';

/**
 * `arcore.pending_pulls` holds at most one row per definition: "a pull is wanted" (I11). While
 * `message_sent` is true, its queue message is on its way: whoever armed the row enqueues the message, and
 * everyone who finds the row already there does not, so a burst of notifications becomes one pull. The pull
 * worker deletes the row when it starts (`claimPendingPull`), so a change arriving during that pull arms a
 * fresh row and enqueues exactly one follow-up.
 *
 * A row never claims a message that does not exist: rows are armed only by the invocation that sends their
 * message, all of one invocation's rows in one statement (a failure arms none, and the caller answers so that
 * its trigger is retried). Work that cannot send a message (it finished after its function answered, or its
 * in-memory queue was dropped) records the pull as owed instead (`message_sent` false, migration 035): the next
 * notification of that definition, the next timer tick or the next local host start sends it at once.
 */

/**
 * A pending row older than this is treated as lost (the host failed to write its message after the function
 * returned, or the worker died before claiming it) and may be re-armed, so one lost message cannot silence a
 * list for good.
 */
export const STALE_PENDING_PULL_SECONDS = 15 * 60;

/** A definition whose pull message the caller must send. */
export interface PullRequest {
  definitionId: string;
  definition: string;
}

/** A pull wanted for one definition, and why (kept in the row for status and logs). */
export interface WantedPull extends PullRequest {
  reason: string;
}

/**
 * Sorted by id, the first of each definition only: one statement locks its rows in id order (so two of them
 * never deadlock) and touches each row once (as ON CONFLICT requires).
 */
function distinct(pulls: readonly WantedPull[]): { ids: string[]; reasons: string[] } {
  const byId = new Map<string, string>();
  for (const p of pulls) if (!byId.has(p.definitionId)) byId.set(p.definitionId, p.reason.slice(0, 500));
  const ids = [...byId.keys()].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
  return { ids, reasons: ids.map((id) => byId.get(id) ?? '') };
}

/**
 * Marks the pulls as wanted, all or none (one statement). Returns those whose message the caller must send:
 * the definitions with no pull pending, with one owed but unsent, or with a stale one.
 */
export async function requestPulls(meta: Pool, pulls: readonly WantedPull[]): Promise<PullRequest[]> {
  const { ids, reasons } = distinct(pulls);
  if (ids.length === 0) return [];
  const { rows } = await meta.query<{ definition_id: string }>(
    `INSERT INTO arcore.pending_pulls (definition_id, reason)
     SELECT id, reason FROM unnest($1::bigint[], $2::text[]) AS t(id, reason) ORDER BY id
     ON CONFLICT (definition_id) DO UPDATE SET requested_at = now(), reason = EXCLUDED.reason, message_sent = true
       WHERE NOT arcore.pending_pulls.message_sent
          OR arcore.pending_pulls.requested_at < now() - make_interval(secs => $3)
     RETURNING definition_id::text`,
    [ids, reasons, STALE_PENDING_PULL_SECONDS],
  );
  const armed = new Set(rows.map((r) => r.definition_id));
  const sent = new Set<string>();
  return pulls.flatMap(({ definitionId, definition }) => {
    if (!armed.has(definitionId) || sent.has(definitionId)) return [];
    sent.add(definitionId);
    return [{ definitionId, definition }];
  });
}

/** `requestPulls` for one definition: true when the caller must enqueue its message. */
export async function requestPull(meta: Pool, definitionId: string, reason: string): Promise<boolean> {
  const armed = await requestPulls(meta, [{ definitionId, definition: '', reason }]);
  return armed.length > 0;
}

/**
 * Marks a pull as wanted whatever is pending (the safety timer and retries enqueue unconditionally);
 * the row makes notifications that arrive meanwhile collapse into that message.
 */
export async function markPullPending(meta: Pool, definitionId: string, reason: string): Promise<void> {
  await meta.query(
    `INSERT INTO arcore.pending_pulls (definition_id, reason) VALUES ($1, $2)
     ON CONFLICT (definition_id) DO UPDATE SET requested_at = now(), reason = EXCLUDED.reason, message_sent = true`,
    [definitionId, reason.slice(0, 500)],
  );
}

/**
 * Records pulls that are wanted but that no message carries (work that can no longer send one). A row already
 * there stays as it is: its pull has not started yet, so it runs after whatever asked for this one.
 */
export async function owePulls(meta: Pool, pulls: readonly WantedPull[]): Promise<void> {
  const { ids, reasons } = distinct(pulls);
  if (ids.length === 0) return;
  await meta.query(
    `INSERT INTO arcore.pending_pulls (definition_id, reason, message_sent)
     SELECT id, reason, false FROM unnest($1::bigint[], $2::text[]) AS t(id, reason) ORDER BY id
     ON CONFLICT (definition_id) DO NOTHING`,
    [ids, reasons],
  );
}

/** The messages of these definitions' pending pulls were dropped unsent: their pulls are owed again. */
export async function releasePulls(meta: Pool, definitionIds: readonly string[]): Promise<void> {
  const { ids } = distinct(
    definitionIds.map((definitionId) => ({ definitionId, definition: '', reason: '' })),
  );
  if (ids.length === 0) return;
  await meta.query(
    'UPDATE arcore.pending_pulls SET message_sent = false WHERE definition_id = ANY($1::bigint[])',
    [ids],
  );
}

/**
 * Takes over the pulls owed with no message on its way (unsent, or stale) of enabled, pull-enabled definitions:
 * marks them sent and returns them, and the caller sends their messages. `all` takes every pending pull, for a
 * host whose queue is new (no message of an earlier in-memory queue can still exist).
 */
export async function takeOwedPulls(meta: Pool, options: { all?: boolean } = {}): Promise<PullRequest[]> {
  // SKIP LOCKED: a row another instance is taking (or arming) right now is theirs to send.
  const { rows } = await meta.query<{ definition_id: string; name: string }>(
    `WITH owed AS (
       SELECT p.definition_id, d.name FROM arcore.pending_pulls p
       JOIN arcore.sync_definitions d ON d.id = p.definition_id
       WHERE d.enabled AND COALESCE((d.document -> 'pull' ->> 'enabled')::boolean, true)
         AND ($1 OR NOT p.message_sent OR p.requested_at < now() - make_interval(secs => $2))
       ORDER BY p.definition_id FOR UPDATE OF p SKIP LOCKED)
     UPDATE arcore.pending_pulls p SET message_sent = true, requested_at = now() FROM owed
     WHERE p.definition_id = owed.definition_id
     RETURNING p.definition_id::text, owed.name`,
    [options.all ?? false, STALE_PENDING_PULL_SECONDS],
  );
  return rows
    .map((r) => ({ definitionId: r.definition_id, definition: r.name }))
    .sort((a, b) => a.definition.localeCompare(b.definition));
}

/** Called by the pull worker as it starts: from here on, a new notification means a follow-up pull. */
export async function claimPendingPull(meta: Pool, definitionId: string): Promise<boolean> {
  const { rowCount } = await meta.query('DELETE FROM arcore.pending_pulls WHERE definition_id = $1', [
    definitionId,
  ]);
  return (rowCount ?? 0) > 0;
}
