import type { Pool, PoolClient } from 'pg';
import type { DeletePolicy, SyncDefinition } from '../definition/schema';
import { textArrayParam } from '../db/textArray';

/**
 * What rows held apart from syncing tell an operator: why they are held, and the step that lets them go on. One
 * wording for `status` (human and JSON), run summaries, `validate`/`apply` and the console (docs/design.md).
 */

/**
 * A move held for the user (both of a routed row's items edited in SharePoint while it waited, push/moves.ts):
 * what releases it. Each held row's park names both items.
 */
export function heldMovesNextStep(name: string): string {
  return (
    'in SharePoint, delete the item whose edits you do not want (each held row names both items; copy any edit ' +
    `you keep into the other first), then run "arcore-sync push ${name}" (or let the next push run): it settles ` +
    `the move. "arcore-sync failures ${name}" lists the held rows`
  );
}

/** The push backfill that re-creates the items of ITEM_DELETED rows, naming the fields that flow to SharePoint. */
export function fullResyncCommand(name: string, pushFields: string[]): string {
  return `arcore-sync backfill ${name} --fields ${pushFields.join(',') || '…'} --strategy full_resync`;
}

/**
 * Rows whose item was deleted in SharePoint and kept by `deletes.pull` IGNORE (ledger state ITEM_DELETED): why they
 * are not synced and what to do, under the policy the definition has now. Switching `deletes.pull` away from IGNORE
 * does not apply the new policy to them retroactively: deleting (or flagging) Postgres rows the operator chose to
 * keep could lose data, so they stay held until the operator decides.
 */
export function itemDeletedAdvice(
  name: string,
  rows: number,
  deletesPull: DeletePolicy,
  pushFields: string[],
): { reason: string; nextStep: string } {
  const plural = rows === 1 ? 'row' : 'rows';
  const items = rows === 1 ? 'its item' : 'their items';
  const recreate = `"${fullResyncCommand(name, pushFields)}" re-creates ${items}`;
  if (deletesPull === 'IGNORE') {
    return {
      reason:
        `${rows} ${plural} whose item was deleted in SharePoint, kept by deletes.pull IGNORE: not synced, and no ` +
        `push re-creates ${items}`,
      nextStep: `${recreate}; or leave them`,
    };
  }
  const letGo =
    deletesPull === 'PROPAGATE'
      ? 'to let the PROPAGATE policy apply to them, delete those rows in Postgres yourself (the items are gone ' +
        'already: the push only forgets them)'
      : 'to let the SOFT policy apply to them, set their flag column in Postgres yourself (they then stay held, ' +
        'with no item)';
  return {
    reason:
      `${rows} ${plural} whose item was deleted in SharePoint while deletes.pull was IGNORE ${rows === 1 ? 'is' : 'are'} ` +
      'still kept: the new ' +
      `policy (${deletesPull}) applies to deletes from now on, not to these rows, so that no row you chose to keep ` +
      'is deleted behind your back; they are not synced',
    nextStep: `${recreate}, or ${letGo}. "arcore-sync verify ${name}" counts them`,
  };
}

/** The fields a push backfill of `def` may name: those that flow to SharePoint. */
export function pushFieldsOf(def: SyncDefinition): string[] {
  return def.fields.filter((f) => f.direction !== 'PULL_ONLY').map((f) => f.target);
}

/**
 * SQL: the ledger entry aliased `l` has no open conflict. An ITEM_DELETED entry with one is a pair revived (its item
 * back from the recycle bin) whose values wait for `resolve`: an open conflict, not a row kept without its item.
 */
export function withoutOpenConflict(l: string): string {
  return `NOT EXISTS (SELECT 1 FROM arcore.sync_conflicts c WHERE c.definition_id = ${l}.definition_id
    AND c.status = 'OPEN' AND c.kind = 'CHANGE' AND c.source_identity_hash = ${l}.source_identity_hash)`;
}

/**
 * Of `hashes`, the identities whose ITEM_DELETED entry is a pair revived and waiting for `resolve` (an open CHANGE
 * conflict, see withoutOpenConflict): a pair, with its item, not a row kept without one.
 */
export async function revivedPairs(
  db: Pool | PoolClient,
  definitionId: string,
  hashes: string[],
): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const { rows } = await db.query<{ h: string }>(
    `SELECT l.source_identity_hash AS h FROM arcore.sync_ledger l
      WHERE l.definition_id = $1 AND l.source_identity_hash = ANY($2::text[]) AND l.state = 'ITEM_DELETED'
        AND l.sp_item_id IS NOT NULL AND NOT ${withoutOpenConflict('l')}`,
    [definitionId, textArrayParam(hashes)],
  );
  return new Set(rows.map((r) => r.h));
}

/** How many rows of the definition are held ITEM_DELETED (their item deleted in SharePoint, the row kept). */
export async function countItemDeletedRows(db: Pool | PoolClient, definitionId: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM arcore.sync_ledger l WHERE l.definition_id = $1 AND l.state = 'ITEM_DELETED'
        AND ${withoutOpenConflict('l')}`,
    [definitionId],
  );
  return Number(rows[0].n);
}

/**
 * `validate` and `apply` of a definition whose `deletes.pull` is not IGNORE while rows kept under IGNORE remain: a
 * warning naming them and the next step (null when there are none, or the policy is still IGNORE).
 */
export async function itemDeletedWarning(
  db: Pool | PoolClient,
  definitionId: string,
  def: SyncDefinition,
): Promise<{ definition: string; path: string; message: string } | null> {
  if (def.deletes.pull === 'IGNORE') return null;
  const rows = await countItemDeletedRows(db, definitionId);
  if (rows === 0) return null;
  const advice = itemDeletedAdvice(def.name, rows, def.deletes.pull, pushFieldsOf(def));
  return {
    definition: def.name,
    path: 'deletes.pull',
    message: `${advice.reason}. Next step: ${advice.nextStep}`,
  };
}
