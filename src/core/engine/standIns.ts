/**
 * Copies standing in for deleted items (I6, I8): a user moves an item by hand (SharePoint has no move between lists) by
 * copying it, hidden key and all, then deleting the original. The pull (a tombstone) and the push (a 404) meet the
 * original gone; the copy on record takes the pair's place, so the row is not deleted. Shared by both directions.
 */
import type { Pool, PoolClient } from 'pg';
import { adoptCopyConflicts, openCopiesOf, type OpenCopy } from '../store/conflicts';
import { retryNow } from '../store/failures';
import type { LedgerEntry } from '../store/ledger';
import type { DeltaEntry } from '../target/sharepoint';
import { confirmListStands } from './listGone';
import { UNCONFIRMED_ETAG } from './push/pendingCreates';
import type { RunScope } from './runner';

const byNumericId = (a: string, b: string) => Number(a) - Number(b) || a.localeCompare(b);

/** A copy standing in for a paired item deleted in SharePoint: the pair moves to it instead of the row going. */
export interface StandIn {
  /** The id of the deleted item (whose tombstone, or 404, decides no delete). */
  gone: string;
  /** The pair, pointed at the copy (its list and id, its eTag unconfirmed: the copy's values are weighed later). */
  entry: LedgerEntry;
  copy: OpenCopy;
}

/**
 * Pairs whose item was deleted in SharePoint while a copy of it stands: their row has a copy on record (an OPEN COPY
 * conflict: an item carrying the row's hidden key, in the pair's list or, routed, in another one) that still exists.
 * A user moved the item by hand (copied it, then deleted the original). The copy takes the pair's place, as
 * claimsByHiddenKey adopts it when the copy is read after the original is gone; decided as a delete, the row went
 * (deletes.pull PROPAGATE, or a delete the conflict policy let win) whenever the copy's own retry came later: another
 * routed list pulled after, a retry backing off, a push meeting the item gone. The pair keeps its synced values as
 * the base with an unconfirmed eTag, and the copy's retry is made due (adoptStandIns), so the next pull of its list
 * weighs the copy's edits against them (I7) and a push meets a 412 first. One read per copy, only for such pairs.
 */
export async function standingCopies(scope: RunScope, gone: LedgerEntry[]): Promise<StandIn[]> {
  const { ctx, def, target, siteId } = scope;
  const pairs = gone.filter((e) => e.state === 'SYNCED' && e.itemId !== null);
  if (pairs.length === 0) return [];
  const copies = await openCopiesOf(
    ctx.meta,
    scope.definitionId,
    pairs.map((e) => e.identityHash),
  );
  if (copies.length === 0) return [];
  const out: StandIn[] = [];
  for (const g of pairs) {
    const candidates = copies
      .filter((c) => c.identityHash === g.identityHash)
      .sort((a, b) => byNumericId(a.itemId, b.itemId));
    for (const copy of candidates) {
      // Routed: the copy's list is in its park key; only a list the run pulls reads the copy again.
      const listId = scope.route ? copy.parkKey.slice(0, copy.parkKey.indexOf('/')) : scope.listId;
      if (!scope.lists.some((l) => l.listId === listId)) continue;
      if (listId === g.listId && copy.itemId === g.itemId) continue;
      const item = await target.getItem(siteId, listId, copy.itemId, [def.target.keyColumn]);
      if (item === null) {
        await confirmListStands(scope, listId); // I15: a list gone is not its items deleted
        continue;
      }
      if (item.fields[def.target.keyColumn] !== g.identityHash) continue;
      out.push({
        gone: g.itemId as string,
        entry: { ...g, listId, itemId: copy.itemId, eTag: UNCONFIRMED_ETAG },
        copy,
      });
      ctx.log.info(
        `${def.name}: item ${g.itemId} of a synced row was deleted in SharePoint while item ${copy.itemId}, a copy ` +
          'carrying its key, stands: the copy takes its place, and the row is kept',
      );
      break;
    }
  }
  return out;
}

/**
 * Tombstones of paired items a copy stands in for (standingCopies): taken out of `byItem`, so they decide nothing.
 * `held`: rows an open conflict or a move in flight decides instead.
 */
export async function copiesStandingIn(
  scope: RunScope,
  entries: DeltaEntry[],
  byItem: Map<string, LedgerEntry>,
  held: (hash: string) => boolean,
): Promise<StandIn[]> {
  const gone: LedgerEntry[] = [];
  for (const e of entries) {
    if (e.kind !== 'deleted') continue;
    const entry = byItem.get(e.id);
    if (entry?.itemId === e.id && !held(entry.identityHash)) gone.push(entry);
  }
  const standIns = await standingCopies(scope, gone);
  for (const s of standIns) byItem.delete(s.gone);
  return standIns;
}

/**
 * What the commit that points pairs at their stand-ins (standingCopies) records with them: each COPY conflict closed
 * ADOPTED, and each copy's pull retry due now, saying so.
 */
export async function adoptStandIns(
  db: Pool | PoolClient,
  scope: RunScope,
  standIns: StandIn[],
): Promise<void> {
  if (standIns.length === 0) return;
  await adoptCopyConflicts(
    db,
    scope.definitionId,
    standIns.map((s) => s.copy.conflictId),
  );
  await retryNow(
    db,
    scope.definitionId,
    'PULL',
    standIns.map((s) => ({
      itemKey: s.copy.parkKey,
      error:
        `item ${s.copy.itemId} takes the place of item ${s.gone}, deleted in SharePoint; the next pull of its list ` +
        'applies its edits',
    })),
  );
}
