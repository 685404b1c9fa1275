import type { PoolClient } from 'pg';
import { contentHash, fromGraphFields, type CanonicalRecord, type CanonicalValue } from '../../canonical';
import type { SourceRow } from '../../source/postgres/PostgresSource';
import { recordConflict } from '../../store/conflicts';
import type { LedgerEntry, SourcePairs } from '../../store/ledger';
import type { DeltaEntry, WriteOp } from '../../target/sharepoint';
import { decideAligned } from '../alignment';
import { keyOf, pick, rowToCanonical } from '../plan';
import { applyToPostgres, graphFields, type Rekeyed } from '../push/writes';
import { assertKeysFree } from './insert';
import type { PairDecision } from '../reconcile';
import type { RunScope } from '../runner';
import { agreedEntry, sourcePairs } from '../transform';

export interface WriteBack {
  /** Only updates: an item to delete is the push's (I8), an item to re-create too. */
  op: Extract<WriteOp, { kind: 'update' }>;
  entry: LedgerEntry;
  synced: CanonicalRecord;
  /** The item's outcome already counted when its Postgres side settled, or null: the write-back is its outcome. */
  counted: Outcome | null;
}

/** The counters one pulled item can land in: every processed item lands in exactly one. */
export type Outcome = 'created' | 'updated' | 'deleted' | 'skipped' | 'conflicts' | 'failed';

export interface Pair {
  entry: LedgerEntry;
  row: SourceRow | null;
  pg: CanonicalRecord | null;
  sp: CanonicalRecord | null;
  decision: PairDecision;
  itemId: string;
  eTag: string | null;
  spModifiedAt: string | null;
}

/**
 * A synced pair's decision for one delta entry, from the rows the page read locked (pure: the page decides every
 * pair before it writes).
 */
export function decidePair(
  scope: RunScope,
  e: DeltaEntry,
  read: LedgerEntry,
  row: SourceRow | null,
  /** When the row was deleted, if it is gone and its tombstone says (pull/deleteTimes.ts). */
  deletedAt: string | null = null,
): Pair {
  const { plan, def } = scope;
  const itemId = e.kind === 'deleted' ? e.id : e.item.id;
  const sp = e.kind === 'deleted' ? null : fromGraphFields(e.item.fields, plan.columns);
  // Sides that agree under the current pipelines (a backfill stopped before its ledger commit) are in sync (I6).
  const entry = row ? agreedEntry(plan.fields, read, row.values, sp) : read;
  const pg = row ? rowToCanonical(plan, row.values, entry) : null;
  const spModifiedAt = e.kind === 'deleted' ? null : e.item.lastModifiedDateTime;
  // Fields mapped since this pair last synced are aligned now that both sides are read (I14).
  const decision = decideAligned(plan, def, {
    base: entry.syncedValues,
    postgres: pg,
    sharepoint: sp,
    postgresModifiedAt: row ? row.cursor : deletedAt,
    sharepointModifiedAt: spModifiedAt,
  });
  return {
    entry,
    row,
    pg,
    sp,
    decision,
    itemId,
    eTag: e.kind === 'deleted' ? null : e.item.eTag,
    spModifiedAt,
  };
}

/**
 * True when settling `p` clears its row's soft-delete flag: a pair revived (its item back after a delete, I8) whose row
 * deletes.pull SOFT flagged.
 */
export function unflagsRow(scope: RunScope, p: Pair): boolean {
  const { deletes } = scope.def;
  const column = deletes.pull === 'SOFT' ? deletes.pullSoftColumn : undefined;
  return p.entry.state === 'ITEM_DELETED' && p.sp !== null && !!column && p.row?.values[column] === true;
}

export async function settle(
  scope: RunScope,
  client: PoolClient,
  meta: PoolClient,
  p: Pair,
  out: { save: LedgerEntry[]; remove: string[]; writeBacks: WriteBack[] },
  /**
   * Writes the decision's Postgres side and answers the pipelines' written values; a page's batched write
   * passes what its statement already wrote (pageWrites.ts). A re-created row's new key is set in `rekeyed`.
   */
  writePostgres: (key: unknown[], rekeyed: Rekeyed) => Promise<Record<string, CanonicalValue>> = (
    key,
    rekeyed,
  ) => applyToPostgres(scope, client, key, p.entry.identity, p.decision, rekeyed),
): Promise<void> {
  const { def } = scope;
  const { decision } = p;
  if (p.entry.state === 'ITEM_DELETED' && p.sp === null && p.row !== null) {
    // Its delete was kept out of Postgres already (deletes.pull IGNORE): a tombstone read again (a retry, a
    // re-enumeration) decides nothing, and the row's edits since are no conflict with it.
    scope.counts.skipped++;
    return;
  }
  // The item of a row kept when it was deleted is back (restored from the recycle bin, or adopted by the hidden
  // key): the pair is synced again, decided against the values it last synced (I8).
  const revived = p.entry.state === 'ITEM_DELETED';
  let entry: LedgerEntry = revived ? { ...p.entry, state: 'SYNCED' } : p.entry;
  // deletes.pull IGNORE: the item's delete is not followed, and the row is held apart from the push (below).
  const ignoredDelete = decision.postgres.kind === 'delete' && def.deletes.pull === 'IGNORE';
  // One outcome per item: a conflict counts as such whichever way it was settled; otherwise what Postgres
  // received; otherwise the write-back to SharePoint (counted once it is sent, in flushWriteBacks).
  let counted: Outcome | null = null;
  if (decision.conflict) {
    scope.counts.conflicts++;
    counted = 'conflicts';
    await recordConflict(meta, scope.definitionId, {
      runId: scope.runId,
      identityHash: entry.identityHash,
      identity: entry.identity,
      itemId: p.itemId,
      detectedBy: 'PULL',
      policy: def.conflictPolicy,
      base: entry.syncedValues,
      postgres: p.pg,
      sharepoint: p.sp,
      outcome: decision.outcome,
      resolvedValues: decision.outcome === 'PARKED' ? null : decision.synced,
      status: decision.outcome === 'PARKED' ? 'OPEN' : 'RESOLVED',
      reason: decision.reason,
      fields: decision.conflictFields,
    });
  }
  // A row deletes.pull SOFT flagged when the item was deleted, its item back (claims.ts claimsOfFlaggedRows): the
  // flag goes with the delete it recorded, whatever the values' decision (a MANUAL conflict waits for `resolve`).
  // Cleared after the decision's own write: a row read without a lock is checked unchanged before that write
  // (assertUnchanged), which would take the flag for someone else's edit.
  const unflag = unflagsRow(scope, p);
  const clearFlag = async (key: unknown[]): Promise<void> => {
    await scope.source.clearFlag(client, key, def.deletes.pullSoftColumn as string);
    if (counted === null) {
      scope.counts.updated++;
      counted = 'updated';
    }
  };
  if (decision.outcome === 'PARKED') {
    if (unflag) await clearFlag(pairKey(def, p));
    // The revived pair waits for `resolve` as it was found: kept in the ledger (a pair claimsOfFlaggedRows made up
    // is not there yet), so the next pull knows the item and `resolve` finds the pair.
    if (revived) out.save.push(p.entry);
    return;
  }
  if (decision.postgres.kind === 'none' && decision.sharepoint.kind === 'none') {
    if (unflag) await clearFlag(pairKey(def, p));
    if (decision.synced === null) out.remove.push(entry.identityHash);
    else if (
      revived ||
      newlyAligned(entry.syncedValues, decision.synced) ||
      // Both sides made the same change: what they agree on now is the base of the next decision (I7), or a
      // later edit of either side would meet the old value as a change of the other.
      contentHash(entry.syncedValues ?? {}) !== contentHash(decision.synced)
    )
      out.save.push({
        ...entry,
        eTag: p.eTag ?? entry.eTag,
        spModifiedAt: p.spModifiedAt,
        syncedValues: decision.synced,
        contentHash: contentHash(decision.synced),
        // The pairs of the values agreed on: the old pairs no longer match them, and a later pipeline change would
        // take Postgres's value for an edit (I14).
        sourceValues: sourcePairs(
          scope.plan.fields,
          decision.synced,
          p.row && p.pg ? { values: p.row.values, canonical: p.pg } : null,
          {},
          entry.sourceValues ?? null,
          'pull',
        ),
      });
    else if (p.eTag && p.eTag !== entry.eTag)
      out.save.push({ ...entry, eTag: p.eTag, spModifiedAt: p.spModifiedAt });
    if (!unflag) scope.counts.skipped++; // an echo of our own write, or a change to fields we do not sync (I3)
    return;
  }
  let written: Record<string, CanonicalValue> = {};
  // The row's key when its flag is cleared: a view's trigger may give it a new one (`rekeyed`).
  let unflagKey = pairKey(def, p);
  if (decision.postgres.kind !== 'none') {
    const key = pairKey(def, p);
    const rekeyed: Rekeyed = { to: null };
    written = await writePostgres(key, rekeyed);
    if (rekeyed.to) {
      unflagKey = keyOf(def, rekeyed.to.row.values);
      // Re-created through a view whose trigger made the key: the pair moves to the row's new key (I1). Left under
      // the old one, the next push met the row unpaired (a second item) and the pair rowless (its item deleted or
      // kept as the definition's deletes say). A key another pair holds is refused, as for a new item's row.
      await assertKeysFree(scope, meta, [{ row: rekeyed.to.row, itemId: p.itemId }], [entry.identityHash]);
      out.remove.push(entry.identityHash);
      entry = { ...entry, identity: rekeyed.to.identity, identityHash: rekeyed.to.hash };
    }
    if (counted === null && !ignoredDelete) {
      counted =
        decision.postgres.kind === 'delete'
          ? 'deleted'
          : decision.postgres.kind === 'recreate'
            ? 'created'
            : 'updated';
      scope.counts[counted]++;
    }
  }
  if (unflag) await clearFlag(unflagKey);
  const sa = decision.sharepoint;
  if (sa.kind === 'delete') {
    // The row is gone and the item is to follow: deleting it (or flagging it, or keeping it as ORPHANED) is the
    // push's, as the definition's deletes say (I8), and the pair stays for it to find. Dropping the pair here
    // left the item in SharePoint unpaired: never deleted, and pulled back as a new row by its next edit.
    if (revived || (p.eTag && p.eTag !== entry.eTag))
      out.save.push({ ...entry, eTag: p.eTag ?? entry.eTag, spModifiedAt: p.spModifiedAt });
    if (counted === null) scope.counts.skipped++;
    return;
  }
  if (sa.kind === 'none' || decision.synced === null) {
    // Kept under IGNORE, the row keeps an entry that holds it: without one it looked new, and its next edit made
    // the push create the item again, undoing the delete the policy was to leave alone (I8). The entry keeps the
    // values last synced, the base should the item come back.
    if (decision.synced === null && ignoredDelete)
      out.save.push({ ...entry, state: 'ITEM_DELETED', spModifiedAt: p.spModifiedAt });
    else if (decision.synced === null) out.remove.push(entry.identityHash);
    else
      out.save.push({
        ...entry,
        itemId: p.itemId,
        eTag: p.eTag,
        syncedValues: decision.synced,
        contentHash: contentHash(decision.synced),
        provenance: 'PULL',
        spModifiedAt: p.spModifiedAt,
        state: 'SYNCED',
        sourceValues: sourcePairs(
          scope.plan.fields,
          decision.synced,
          p.row && p.pg ? { values: p.row.values, canonical: p.pg } : null,
          written,
          entry.sourceValues ?? null,
          'pull',
        ),
      });
    if (counted === null) scope.counts.skipped++;
    return;
  }
  // SharePoint must change too (a conflict Postgres won, push-only fields, an edit of another field): written
  // after the page commits, and the ledger takes the written values only when SharePoint confirms the write.
  if (sa.kind === 'write' && p.eTag) {
    // Until then it holds what both sides hold now: what Postgres took from SharePoint, and SharePoint's values
    // (its eTag) for the fields still to be written. Should the write-back fail (a 412: the item edited again
    // meanwhile; a run stopped before it was sent), the next run then weighs the item's new edit against the value
    // the pull itself wrote to Postgres, not against the old base, where the pull's own write looked like an edit
    // of Postgres: a false conflict, and the user's second edit lost under SOURCE_WINS (I7). The next push restores
    // what is to be written with If-Match on that eTag.
    const held = { ...decision.synced, ...pick(p.sp, Object.keys(sa.values)) };
    // A field with pipelines is in sync through its pair (I3): the pairs of what this item settles, the fields
    // Postgres took included, go with both entries. Saved with the old pairs, a pulled value read back through the
    // push pipeline looked changed, and the next push overwrote what the user typed in SharePoint.
    const rowRead = p.row && p.pg ? { values: p.row.values, canonical: p.pg } : null;
    const previous = entry.sourceValues ?? null;
    const heldPairs = sourcePairs(scope.plan.fields, held, rowRead, written, previous, 'pull');
    const heldEntry: LedgerEntry = {
      ...entry,
      itemId: p.itemId,
      eTag: p.eTag,
      syncedValues: held,
      contentHash: contentHash(held),
      provenance: 'PULL',
      spModifiedAt: p.spModifiedAt,
      state: 'SYNCED',
      sourceValues: heldPairs,
    };
    out.save.push(heldEntry);
    out.writeBacks.push({
      op: {
        kind: 'update',
        ref: entry.identityHash,
        itemId: p.itemId,
        eTag: p.eTag,
        fields: graphFields(scope, sa.values),
      },
      entry: {
        ...heldEntry,
        sourceValues: writtenBackPairs(
          heldPairs,
          sourcePairs(scope.plan.fields, decision.synced, rowRead, written, previous, 'push'),
          Object.keys(sa.values),
        ),
      },
      synced: decision.synced,
      counted,
    });
  } else if (sa.kind === 'recreate') {
    // The item was deleted in SharePoint but Postgres won: forget the pair; the next push creates a new item.
    out.remove.push(entry.identityHash);
    if (counted === null) scope.counts.skipped++;
  } else if (counted === null) {
    scope.counts.skipped++; // a write without the item's eTag: nothing is sent; the next push writes it
  }
}

/**
 * The pairs once a write-back is confirmed: the held entry's, with the fields written back paired as the push
 * pipeline made their SharePoint values (the push's stamp), or unpaired where their row value has no pair.
 */
function writtenBackPairs(
  held: SourcePairs | null,
  pushed: SourcePairs | null,
  fields: string[],
): SourcePairs | null {
  const out: SourcePairs = { ...(held ?? {}) };
  for (const f of fields) {
    if (pushed && f in pushed) out[f] = pushed[f];
    else delete out[f];
  }
  return Object.keys(out).length > 0 ? out : null;
}

/** The decision's synced values carry a field the ledger entry did not: it was aligned (I14). */
function newlyAligned(before: CanonicalRecord | null, after: CanonicalRecord): boolean {
  if (before === null) return true;
  return Object.keys(after).some((f) => !Object.prototype.hasOwnProperty.call(before, f));
}

/** The key a pair's Postgres write goes to: the row's as read, else the ledger's identity. */
export function pairKey(def: RunScope['def'], p: Pick<Pair, 'row' | 'entry'>): unknown[] {
  return p.row ? keyOf(def, p.row.values) : def.source.key.map((k) => p.entry.identity[k]);
}
