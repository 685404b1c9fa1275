import type { PoolClient } from 'pg';
import { CanonicalValueError, fromGraphFields, identityOf, type CanonicalRecord } from '../../canonical';
import type { SourceRow } from '../../source/postgres/PostgresSource';
import { recordConflict } from '../../store/conflicts';
import { park } from '../../store/failures';
import type { LedgerEntry } from '../../store/ledger';
import { movesInto } from '../../store/moves';
import type { DeltaEntry, ListItem } from '../../target/sharepoint';
import { differs, rowToCanonical } from '../plan';
import type { RunScope } from '../runner';
import { parkKey } from './parked';
import { confirmListStands } from '../listGone';
import { newRowValues } from './insert';

/** Items matched to ledger entries by the hidden key column instead of by item id. */
export interface KeyClaims {
  /** Adopted as their row's item: created by a push that crashed, or standing in for a paired item that is gone. */
  adopted: Set<string>;
  /** Carrying the key of a row paired with another live item (a copy, a flow, an import): not applied. */
  copies: Map<string, { entry: LedgerEntry; pairedWith: string }>;
  /** Routed: created by a move still in flight into this list; the push finishes or undoes it. */
  moving: Set<string>;
}

const byNumericId = (a: string, b: string) => Number(a) - Number(b) || a.localeCompare(b);

/**
 * Items the ledger does not know by id may carry a row's identity hash in the hidden key column. Adoption by
 * that key is for an item created by a push that crashed before its ledger commit (the entry is PENDING_CREATE,
 * I6), or for one whose row's paired item no longer exists (read to confirm). Any other item carrying a key
 * already paired with a live item is a copy: it neither overwrites the row nor becomes paired (I1, I7). Among
 * several claimants of one key, the oldest item (lowest id) is adopted. Adopted items are entered in `byItem`.
 */
export async function claimsByHiddenKey(
  scope: RunScope,
  entries: DeltaEntry[],
  byItem: Map<string, LedgerEntry>,
): Promise<KeyClaims> {
  const { ctx, def, ledger, target, siteId, listId } = scope;
  const claimants = new Map<string, string[]>();
  for (const e of entries) {
    if (e.kind !== 'upsert' || byItem.has(e.item.id)) continue;
    const key = e.item.fields[def.target.keyColumn];
    if (typeof key !== 'string' || !key) continue;
    const claiming = claimants.get(key);
    if (claiming) claiming.push(e.item.id);
    else claimants.set(key, [e.item.id]);
  }
  const claims: KeyClaims = { adopted: new Set(), copies: new Map(), moving: new Set() };
  if (claimants.size === 0) return claims;
  const moving = scope.route
    ? await movesInto(ctx.meta, scope.definitionId, listId, [...claimants.keys()])
    : new Set<string>();
  // An item a move in flight created is the push's to settle, whether or not its row still has a pair: a row deleted
  // while its move was held has none, and inserting a row for the item would bring the deleted row back.
  for (const hash of moving) for (const itemId of claimants.get(hash) as string[]) claims.moving.add(itemId);
  for (const [hash, entry] of await ledger.byIdentities(ctx.meta, [...claimants.keys()])) {
    if (moving.has(hash)) continue;
    let paired: string | null = null;
    // Single list: an entry of another list (a replaced list being relinked) has no live item in this one.
    // Routed: the entry's item may live in another routed list; it is paired while it exists there.
    const pairedList = scope.route ? entry.listId : listId;
    if (entry.state !== 'PENDING_CREATE' && entry.itemId && entry.listId === pairedList) {
      const live = await target.getItem(siteId, pairedList, entry.itemId);
      if (live) paired = entry.itemId;
      else {
        // I15: a list gone (replaced) is not its item gone.
        await confirmListStands(scope, pairedList);
        ctx.log.info(
          `${def.name}: item ${entry.itemId} of a synced row is gone; an item carrying its key takes its place`,
        );
      }
    }
    for (const itemId of (claimants.get(hash) as string[]).sort(byNumericId)) {
      if (paired !== null) {
        claims.copies.set(itemId, { entry, pairedWith: paired });
        continue;
      }
      // The gone item's tombstone (if in this feed) must not delete the row the adopted item now stands for.
      if (entry.itemId && entry.listId === listId) byItem.delete(entry.itemId);
      // The item is paired now: an UNROUTED entry (routed: the row had no list) or a PENDING_CREATE one (a
      // stopped push's create landed) becomes a synced pair. A pending entry's synced values are what its create
      // sent: the base the pull weighs both sides against, so an edit made to either while it waited is kept.
      const state = entry.state === 'UNROUTED' || entry.state === 'PENDING_CREATE' ? 'SYNCED' : entry.state;
      // Routed: the item is paired in this list.
      byItem.set(itemId, { ...entry, itemId, state, ...(scope.route ? { listId } : {}) });
      claims.adopted.add(itemId);
      paired = itemId;
    }
  }
  return claims;
}

/**
 * An item carrying the key of a row paired with another live item: recorded as an OPEN COPY conflict naming
 * both items, and parked, so later pulls look at it again (with back-off) until it is deleted, its key is
 * cleared, or the paired item is gone and it is adopted in its place. The pair itself keeps syncing.
 */
export async function recordCopy(
  scope: RunScope,
  meta: PoolClient,
  item: ListItem,
  copy: { entry: LedgerEntry; pairedWith: string },
  row: SourceRow | null,
): Promise<void> {
  const { def, plan } = scope;
  const { values: sp, unreadable } = readableFields(item, plan.columns);
  const pg = row ? rowToCanonical(plan, row.values) : null;
  const reason =
    `item ${item.id} carries the hidden key (${def.target.keyColumn}) of the row paired with item ${copy.pairedWith}, ` +
    `which still exists: a copy, a flow or an import. It was not applied and is not paired. Delete item ${item.id} ` +
    `in SharePoint, or clear its ${def.target.keyColumn} to sync it as a new item` +
    unreadable.map((err) => ` (its ${err.message}: change it too before it syncs)`).join('');
  scope.counts.conflicts++;
  await recordConflict(meta, scope.definitionId, {
    runId: scope.runId,
    identityHash: copy.entry.identityHash,
    identity: copy.entry.identity,
    itemId: item.id,
    detectedBy: 'PULL',
    policy: def.conflictPolicy,
    base: copy.entry.syncedValues,
    postgres: pg,
    sharepoint: sp,
    outcome: 'NOT_APPLIED',
    resolvedValues: null,
    status: 'OPEN',
    reason,
    fields: differs(pg, sp, plan.toPostgres),
    kind: 'COPY',
    listId: scope.listId,
  });
  await park(meta, scope.definitionId, {
    direction: 'PULL',
    itemKey: parkKey(scope, item.id),
    sourceIdentity: copy.entry.identity,
    spItemId: item.id,
    error: reason,
  });
}

/**
 * An item's canonical values, leaving out (and answering) each field whose value has no canonical form for its
 * column: a copy is recorded as a copy whatever it holds, so one bad value does not fail the whole page (I12).
 */
function readableFields(
  item: ListItem,
  columns: RunScope['plan']['columns'],
): { values: CanonicalRecord; unreadable: CanonicalValueError[] } {
  try {
    return { values: fromGraphFields(item.fields, columns), unreadable: [] };
  } catch (err) {
    if (!(err instanceof CanonicalValueError)) throw err;
  }
  const values: CanonicalRecord = {};
  const unreadable: CanonicalValueError[] = [];
  for (const [field, column] of columns) {
    try {
      Object.assign(values, fromGraphFields(item.fields, new Map([[field, column]])));
    } catch (err) {
      if (!(err instanceof CanonicalValueError)) throw err;
      unreadable.push(err);
    }
  }
  return { values, unreadable };
}

/**
 * A new item whose key, mapped from SharePoint, is that of a row kept when its item was deleted under deletes.pull
 * IGNORE (ITEM_DELETED) is that row's item now (a user added it again by hand): it takes the kept pair, which the page
 * revives and decides against the values last synced (I8), as an item carrying the row's hidden key would be.
 * Inserting a row for it instead met the kept row's key and was refused by every pull. Whatever the policy is now:
 * rows kept before a switch away from IGNORE stay kept (docs/design.md I8). Entered in `byItem`.
 */
export async function claimsOfKeptRows(
  scope: RunScope,
  entries: DeltaEntry[],
  byItem: Map<string, LedgerEntry>,
  claims: KeyClaims,
): Promise<void> {
  const { def, plan, ledger, ctx, listId } = scope;
  const byHash = new Map<string, string>();
  for (const e of entries) {
    if (e.kind !== 'upsert' || byItem.has(e.item.id) || claims.copies.has(e.item.id)) continue;
    if (claims.moving.has(e.item.id)) continue;
    try {
      // A value with no canonical form for its column throws here: the item's own insert (its savepoint) parks it
      // with that message, and the rest of the page goes on (I12).
      const { values } = newRowValues(scope, e.item);
      if (!def.source.key.every((k) => k in values && values[k].value !== null)) continue;
      const key = Object.fromEntries(def.source.key.map((k) => [k, values[k].value]));
      const { hash } = identityOf(def.source.key, key, plan.keyKinds);
      if (!byHash.has(hash)) byHash.set(hash, e.item.id);
    } catch {
      // A value or key with no canonical form: its insert is refused as any such item's is.
    }
  }
  if (byHash.size === 0) return;
  for (const [hash, entry] of await ledger.byIdentities(ctx.meta, [...byHash.keys()])) {
    if (entry.state !== 'ITEM_DELETED') continue;
    const itemId = byHash.get(hash) as string;
    byItem.set(itemId, { ...entry, itemId, ...(scope.route ? { listId } : {}) });
    claims.adopted.add(itemId);
  }
}

/**
 * A new item carrying the hidden key of a row that deletes.pull SOFT flagged when the row's item was deleted in
 * SharePoint is that item back (restored from the recycle bin under its id, or a copy of it added again): SOFT kept
 * the row but not its pair, so no entry names the key. The flagged row takes the item as a pair revived with no base
 * (ITEM_DELETED, synced values unknown): the page decides the two sides against each other under the conflict policy
 * (equal values agree) and clears the row's flag (settle.ts). Before, the item was taken for a new one, parked
 * because its row's key was there already (or not mapped from SharePoint), and clearing the flag made the push create
 * a second item. Only items no entry claims are looked for, and only then are the flagged rows read. Entered in
 * `byItem`.
 */
export async function claimsOfFlaggedRows(
  scope: RunScope,
  entries: DeltaEntry[],
  byItem: Map<string, LedgerEntry>,
  claims: KeyClaims,
): Promise<void> {
  const { def, listId } = scope;
  const column = def.deletes.pull === 'SOFT' ? def.deletes.pullSoftColumn : undefined;
  if (!column) return;
  const claimants = new Map<string, string[]>();
  for (const e of entries) {
    if (e.kind !== 'upsert' || byItem.has(e.item.id) || claims.copies.has(e.item.id)) continue;
    if (claims.moving.has(e.item.id) || claims.adopted.has(e.item.id)) continue;
    const key = e.item.fields[def.target.keyColumn];
    if (typeof key !== 'string' || !key) continue;
    const claiming = claimants.get(key);
    if (claiming) claiming.push(e.item.id);
    else claimants.set(key, [e.item.id]);
  }
  if (claimants.size === 0) return;
  // A key some entry holds was decided by claimsByHiddenKey (adopted, a copy, or an item in flight): not a flagged row's.
  const held = await scope.ledger.byIdentities(scope.ctx.meta, [...claimants.keys()]);
  for (const hash of held.keys()) claimants.delete(hash);
  if (claimants.size === 0) return;
  const flagged = await flaggedRowsOf(scope, column);
  for (const [hash, claiming] of claimants) {
    const identity = flagged.get(hash);
    if (!identity) continue;
    // Among several items carrying the key, the oldest (lowest id) takes the row; the others stay new items.
    const [itemId] = [...claiming].sort(byNumericId);
    byItem.set(itemId, {
      identityHash: hash,
      identity,
      listId,
      itemId,
      eTag: null,
      syncedValues: null,
      contentHash: null,
      provenance: 'PULL',
      state: 'ITEM_DELETED',
      lastSourceTs: null,
      spModifiedAt: null,
    });
    claims.adopted.add(itemId);
    scope.ctx.log.info(
      `${def.name}: item ${itemId} carries the key of a row flagged when its item was deleted ` +
        `(deletes.pull SOFT): the row takes it again and its ${column} flag is cleared`,
    );
  }
}

/**
 * The identities of the rows flagged under deletes.pull SOFT now, by identity hash: read for the page that needs them
 * (rows this run flagged or unflagged on earlier pages are seen as they are now).
 */
async function flaggedRowsOf(scope: RunScope, column: string): Promise<Map<string, Record<string, unknown>>> {
  const { def, plan } = scope;
  const rows = new Map<string, Record<string, unknown>>();
  for (const key of await scope.source.flaggedKeys(column)) {
    const identity = Object.fromEntries(def.source.key.map((k, i) => [k, key[i]]));
    try {
      rows.set(identityOf(def.source.key, identity, plan.keyKinds).hash, identity);
    } catch {
      // A key with no identity was never synced.
    }
  }
  return rows;
}
