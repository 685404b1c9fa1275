import type { Pool, PoolClient } from 'pg';
import { SettingsError } from '../../config/settings';
import type { SyncDefinition } from '../definition/schema';
import { DefinitionBusyError } from '../ops/errors';
import { clearListCursors, writeCursor } from '../store/cursors';
import { clearMoves, pendingMoves } from '../store/moves';
import { bindListId, getDefinition } from '../store/definitions';
import { LedgerStore, type LedgerEntry } from '../store/ledger';
import { tryLockDefinition } from '../store/locks';
import {
  forgetResolution,
  KeyColumnMissingError,
  resolveSharePoint,
  SourceTableNotFoundError,
} from './runner';
import type { EngineContext } from './types';
import { isRouted, targetListLabel, targetLists } from '../routing/lists';
import { planLists, unbindRoutedLists, type ScopeList } from './routing';
import { refuseRetypedKey } from './keyKinds';
import { contentHash, fromGraphFields, type CanonicalRecord } from '../canonical';
import { readSourceTable } from '../source/postgres/catalog';
import { differs, pick, type FieldPlan } from './plan';
import { UNCONFIRMED_ETAG } from './push/pendingCreates';
import { inTransaction } from '../db/transaction';
import { settleIntentsOutsideRun } from './pull/settleOutsideRun';
import { lockListClaims, refuseShared } from './listIdentity';
import { rethrowIfListGoneOutsideRun } from './listGone';
import { pairsForUnclaimedItems, type KeyedItem } from './unclaimedItems';

export interface RelinkResult {
  definition: string;
  /** The list the ledger pointed at before (null: never bound). */
  previousListId: string | null;
  listId: string;
  /** Items of the current list read while looking for hidden keys. */
  itemsRead: number;
  /** Ledger entries matched to an item of the current list by the hidden key column. */
  adopted: number;
  /**
   * Adopted items whose mapped values differ from the values last synced (edited in the new list, or restored
   * from an older export), or every adopted item when they could not be compared (comparisonPlan): the next push
   * or pull decides them (see adoptedEntry).
   */
  adoptedChanged: number;
  /** Rows whose item is not in the current list: the next push creates it again. */
  toRecreate: number;
  /**
   * Rows whose item was deleted in SharePoint and kept by deletes.pull IGNORE (ITEM_DELETED), with no item in the
   * current list: kept, never created again by the push (I8); `backfill --strategy full_resync` brings them back.
   */
  itemDeletedKept: number;
  /**
   * Rows whose create a stopped run sent into a list still linked: left PENDING_CREATE, found or not, for the
   * push's settle, which adopts the item (and pushes the row again) or, if it never lands, creates it after
   * PENDING_CREATE_SETTLE_SECONDS.
   */
  pendingCreates: number;
  /** Entries of deleted rows (kept by a SOFT or IGNORE delete policy) with no item left: forgotten. */
  forgotten: number;
  /**
   * Items carrying the hidden key of a row the ledger holds no entry for (the definition removed and added back, or
   * the list copied with its items), paired with that row: the next pull compares both sides field by field, values
   * that differ going to the conflict policy (a definition that does not pull writes the row's values).
   */
  pairedByKey: number;
  /** Items carrying a hidden key that neither the ledger nor any row of the table has: left as they are. */
  unknownKeys: number;
  /** Items carrying a key that another item of the list carries too: the first (lowest id) was adopted. */
  duplicateKeys: number;
  /** Parked pull failures that named items of the old list: discarded. */
  pullFailuresDiscarded: number;
  /** New items a pull that stopped had inserted without recording them, paired first (I6, pull/intents.ts). */
  settledInserts: number;
  /** Routed definitions: every routed list as it resolves now (`listId` is the first of them). */
  lists?: { name: string; listId: string }[];
}

const BATCH = 1000;

/**
 * Re-points a definition at the list its name resolves to now, after the list was deleted and re-created or
 * replaced (I15). Items of the current list are matched to rows by the hidden key column; rows whose item is
 * gone lose their ledger entry and the push cursor starts over, so the next push creates their items again
 * (adopting any that carries their key by then, I6) and skips every other row, except a row whose item the user
 * deleted under deletes.pull IGNORE (ITEM_DELETED), which keeps its entry and stays without an item (I8); the pull starts a fresh
 * enumeration, so every adopted item is compared with its row against the values last synced, under the
 * definition's conflict policy; an adopted item that does not hold those values keeps no eTag a push could take for
 * proof of them (adoptedEntry). Nothing is written to either side here. A stopped pull's insert intents are
 * settled first, as a run does; a source transaction of one still open stops the relink before anything changes.
 */
export async function relinkDefinition(ctx: EngineContext, name: string): Promise<RelinkResult> {
  const stored = await getDefinition(ctx.meta, name);
  const def = stored.definition;
  const lock = await tryLockDefinition(ctx.meta, stored.id);
  if (!lock) throw new DefinitionBusyError(name, 'relinking it');
  const target = ctx.target();
  try {
    forgetResolution(ctx, def);
    const routed = isRouted(def);
    // Routed: every routed list is read; an item is known by its list and id.
    const scopeLists: ScopeList[] = [];
    let siteId = '';
    for (const listName of targetLists(def)) {
      const resolved = await resolveSharePoint(target, def, listName);
      siteId = resolved.siteId;
      const columns = await target.getColumns(siteId, resolved.listId);
      if (!columns.some((c) => c.name === def.target.keyColumn))
        throw new KeyColumnMissingError(name, routed ? listName : targetListLabel(def), def.target.keyColumn);
      scopeLists.push({ name: listName, listId: resolved.listId, spColumns: columns });
    }
    const lists = scopeLists.map((l) => ({ name: l.name, listId: l.listId }));
    const listId = lists[0].listId;
    // I15: a list another definition syncs is not taken over (its items would be adopted by their hidden keys, which
    // name key values, not tables). Checked before reading the lists, and again where the binding is written.
    await refuseShared(ctx.meta, stored, scopeLists);
    // I1, I14: a key column retyped since the ledger was built renders other identities than the items' hidden keys.
    await refuseRetypedKey(ctx, stored);
    // The ledger read below must hold the pairs whose rows a stopped pull committed, or relink would forget their
    // items' rows and the next push would create their items a second time.
    const settledInserts = await settleIntentsOutsideRun(ctx, stored, lock);
    // The mapped values of each item, to weigh against the values last synced (an adopted item is not assumed to
    // hold them: adoptedEntry).
    const plan = await comparisonPlan(ctx, def, scopeLists);
    if (!plan)
      ctx.log.warn(
        `${name}: source.connection "${def.source.connection}" is not configured in this process: the adopted ` +
          'items are not compared with the values last synced, and the next push or pull reads each one it meets',
      );

    const itemsByKey = new Map<string, FoundItem[]>();
    let itemsRead = 0;
    let duplicateKeys = 0;
    for (const list of scopeLists) {
      const listPlan = list.plan ?? plan;
      const select = listPlan ? listPlan.select : [def.target.keyColumn];
      try {
        for await (const page of target.deltaPages(siteId, list.listId, { select })) {
          for (const e of page.entries) {
            if (e.kind !== 'upsert') continue;
            const key = e.item.fields[def.target.keyColumn];
            if (typeof key !== 'string' || key === '') {
              itemsRead++;
              continue;
            }
            // A delta feed may show an item more than once (changed while it is read): its last showing counts.
            const before = itemsByKey.get(key) ?? [];
            const seen = before.filter((i) => !(i.listId === list.listId && i.id === e.item.id));
            if (seen.length === before.length) itemsRead++;
            seen.push({
              listId: list.listId,
              id: e.item.id,
              eTag: e.item.eTag,
              values:
                plan && listPlan
                  ? pick(fromGraphFields(e.item.fields, listPlan.columns), mappedTargets(plan))
                  : null,
            });
            itemsByKey.set(key, seen);
          }
        }
      } catch (err) {
        // A list deleted or replaced while relink reads it: named as such before anything is bound (I15).
        await rethrowIfListGoneOutsideRun(ctx, target, siteId, def, list, err);
      }
    }
    for (const found of itemsByKey.values()) duplicateKeys += found.length - 1;
    // Among several items with one key: the one in the list the ledger names, else the oldest of the first list.
    const itemFor = (e: LedgerEntry) => {
      const found = itemsByKey.get(e.identityHash);
      if (!found) return undefined;
      const sorted = [...found].sort((a, b) => Number(a.id) - Number(b.id));
      return sorted.find((i) => i.listId === e.listId) ?? sorted[0];
    };

    const ledger = new LedgerStore(
      stored.id,
      def.source.key.length > 1 ? 'COMPOSITE_COLUMNS' : 'PRIMARY_KEY',
      def.source.connection,
    );
    // Each item by its key, the first of several (lowest id); the ledger loop below takes out the keys it holds, and
    // the items left are paired with the row of their key, if the table has it (I15).
    const byKey = new Map<string, KeyedItem>();
    for (const [key, found] of itemsByKey) {
      const first = [...found].sort((a, b) => Number(a.id) - Number(b.id))[0];
      byKey.set(key, {
        listId: first.listId,
        id: first.id,
        eTag: first.eTag,
        values: first.values && plan ? pick(first.values, mappedTargets(plan)) : null,
      });
    }
    const result: RelinkResult = {
      definition: name,
      previousListId: stored.listId,
      listId,
      itemsRead,
      adopted: 0,
      adoptedChanged: 0,
      toRecreate: 0,
      itemDeletedKept: 0,
      pendingCreates: 0,
      forgotten: 0,
      pairedByKey: 0,
      unknownKeys: 0,
      duplicateKeys,
      pullFailuresDiscarded: 0,
      settledInserts,
      ...(routed ? { lists } : {}),
    };
    await inTransaction(ctx.meta, async (client) => {
      // Check and bind under the lists' claim locks, as a run's claim does (claimLists): a definition whose run
      // claims one of these lists meanwhile is seen, or sees this binding.
      await lockListClaims(client, scopeLists);
      await refuseShared(client, stored, scopeLists);
      // A move in flight whose row stays paired with its old item, into a list still routed, is left for the
      // next push to settle (it finds the new item by the hidden key and finishes the move); clearing it would
      // leave that new item behind, and the push would create the row's item in its list a second time.
      const moving = new Map((await pendingMoves(client, stored.id)).map((m) => [m.identityHash, m]));
      const keepMoves = new Set<string>();
      const replacedBy = await replacedLists(client, stored.id, stored.listId, lists);
      let rewrite = false;
      let after = '';
      for (;;) {
        const batch = await ledger.batchAfter(client, after, BATCH);
        if (batch.length === 0) break;
        after = batch[batch.length - 1].identityHash;
        const save: LedgerEntry[] = [];
        const remove: string[] = [];
        for (const e of batch) {
          byKey.delete(e.identityHash); // an entry holds this key: the ledger's to decide
          if (e.state === 'UNROUTED') continue; // never synced: no item to look for
          if (e.state === 'PENDING_CREATE' && lists.some((l) => l.listId === e.listId)) {
            // A stopped run's create into a list still linked, landed or not: left to the fresh pull (which
            // adopts a landed item with the values its create sent as the base) and the push's settle (which
            // adopts it, or waits for it: push/pendingCreates.ts). Forgotten, the next push could create a
            // second item.
            result.pendingCreates++;
            continue;
          }
          const item = itemFor(e);
          if (item) {
            const m = moving.get(e.identityHash);
            if (
              m &&
              item.listId === m.fromListId &&
              item.id === m.fromItemId &&
              lists.some((l) => l.listId === m.toListId)
            )
              keepMoves.add(e.identityHash);
            result.adopted++;
            const adopted = adoptedEntry(plan, def.pull.enabled, e, item);
            if (adopted.changed) result.adoptedChanged++;
            if (adopted.rewrite) rewrite = true;
            save.push(adopted.entry);
          } else if (e.state === 'ORPHANED') {
            result.forgotten++;
            remove.push(e.identityHash);
          } else if (e.state === 'ITEM_DELETED') {
            // The user deleted its item and deletes.pull IGNORE kept the row (I8): forgotten, the push would create
            // the item again. Kept on its list as it resolves now; an old list's item id names nothing there (or
            // another item), so it is dropped: an item carrying the row's key is adopted by the pull, and
            // `backfill --strategy full_resync` creates one on request (migration 029).
            result.itemDeletedKept++;
            const moved = replacedBy.get(e.listId);
            if (moved !== undefined) save.push({ ...e, listId: moved, itemId: null, eTag: null });
          } else {
            // Forgotten here, created again by the next push, which re-reads the table from the start.
            result.toRecreate++;
            remove.push(e.identityHash);
          }
        }
        await ledger.remove(client, remove);
        await ledger.save(client, save);
      }
      const pairedByKey =
        plan && byKey.size > 0
          ? await pairsForUnclaimedItems(ctx.sourcePool(def.source.connection), def, plan, byKey)
          : [];
      result.pairedByKey = pairedByKey.length;
      result.unknownKeys = plan ? byKey.size : 0;
      await ledger.save(client, pairedByKey);
      // Not pulled, a pair adopted by key gets the row's values from the push, which reads every row again.
      if (pairedByKey.length > 0 && !def.pull.enabled) rewrite = true;
      // The delta link and any page in progress belong to the old list: the next pull enumerates the new one.
      await writeCursor(client, stored.id, 'TARGET', null, null, null);
      await clearListCursors(client, stored.id);
      // Other moves in flight are settled by the pairing above (each row keeps the item found for it).
      await clearMoves(
        client,
        stored.id,
        [...moving.keys()].filter((h) => !keepMoves.has(h)),
      );
      // Rows whose item is gone have no ledger entry now: the next push reads every row (writing only those
      // and real differences) so that they are created again.
      // Kept pending creates need no re-read: the push's settle parks their rows, which are pushed again by key.
      // Adopted items a push-only definition must bring back to the row's values need that re-read too.
      if (result.toRecreate > 0 || rewrite) await writeCursor(client, stored.id, 'SOURCE', null);
      const discarded = await client.query(
        `UPDATE arcore.sync_failures SET status = 'DISCARDED', resolved_at = now()
          WHERE definition_id = $1 AND direction = 'PULL' AND status = 'PARKED'`,
        [stored.id],
      );
      result.pullFailuresDiscarded = discarded.rowCount ?? 0;
      await repointOpenConflicts(client, stored.id);
      if (routed) {
        await unbindRoutedLists(client, stored.id);
        await client.query(
          `INSERT INTO arcore.sync_definition_lists (definition_id, list_name, list_id)
           SELECT $1, x.name, x.id FROM jsonb_to_recordset($2::jsonb) AS x(name text, id text)`,
          [stored.id, JSON.stringify(lists.map((l) => ({ name: l.name, id: l.listId })))],
        );
      } else await bindListId(client, stored.id, listId);
    });
    ctx.log.info(
      `${name}: relinked to list ${listId}: ${result.adopted} adopted (${result.adoptedChanged} differing from ` +
        `the values last synced), ${result.pairedByKey} paired with the row whose key they carry, ` +
        `${result.toRecreate} to re-create, ` +
        `${result.itemDeletedKept} kept without their item (deleted in SharePoint, deletes.pull IGNORE), ` +
        `${result.forgotten} forgotten`,
    );
    return result;
  } finally {
    await target.close();
    await lock.release();
  }
}

/**
 * Each replaced list's id → the id its name resolves to now (a single list: the bound one → the current one).
 * Lists still linked are not in it.
 */
async function replacedLists(
  client: PoolClient,
  definitionId: string,
  boundListId: string | null,
  lists: { name: string; listId: string }[],
): Promise<Map<string, string>> {
  const current = new Set(lists.map((l) => l.listId));
  const byName = new Map(lists.map((l) => [l.name, l.listId]));
  const { rows } = await client.query<{ list_name: string; list_id: string }>(
    'SELECT list_name, list_id FROM arcore.sync_definition_lists WHERE definition_id = $1',
    [definitionId],
  );
  const bound =
    rows.length > 0
      ? rows.map((r) => [r.list_id, byName.get(r.list_name)] as const)
      : [[boundListId, lists[0].listId] as const];
  const replaced = new Map<string, string>();
  for (const [was, now] of bound)
    if (was !== null && now !== undefined && !current.has(was)) replaced.set(was, now);
  return replaced;
}

/** An item of the current list carrying a row's hidden key, with its mapped values. */
interface FoundItem {
  listId: string;
  id: string;
  eTag: string;
  /** Null when the values could not be compared (comparisonPlan). */
  values: CanonicalRecord | null;
}

/**
 * The plan adopted items are compared with, or null when the source connection is not configured in this process
 * (a host without its setting) and the definition pulls: every adopted item is then taken as unconfirmed. One that
 * does not pull needs the comparison (its push is the items' only writer), so the missing setting stops it.
 */
async function comparisonPlan(
  ctx: EngineContext,
  def: SyncDefinition,
  lists: ScopeList[],
): Promise<FieldPlan | null> {
  let pool: Pool;
  try {
    pool = ctx.sourcePool(def.source.connection);
  } catch (err) {
    if (err instanceof SettingsError && def.pull.enabled) return null;
    throw err;
  }
  const table = await readSourceTable(pool, def.source.schema, def.source.table);
  if (!table) throw new SourceTableNotFoundError(def.name, `${def.source.schema}.${def.source.table}`);
  return planLists(def, table.columns, lists, !isRouted(def));
}

/** Every field the mapping syncs, in either direction. */
function mappedTargets(plan: FieldPlan): string[] {
  return [...new Set([...plan.toSharePoint, ...plan.toPostgres])];
}

/**
 * The pair of an adopted item (I15, I7). The ledger's synced values are the old list's; the item may not hold them
 * (edited in the new list, restored from an older export). Only an item that does keeps its eTag as proof: an
 * If-Match with it would otherwise "prove" unchanged an item that differs, and a push would overwrite it with no
 * conflict. One that differs gets UNCONFIRMED_ETAG (as an adopted pending create does): the push's write meets a
 * 412 and decides under the policy against the synced values, and the pull sees another eTag and does the same.
 * A definition that does not pull has no such decision to make (Postgres is the only writer): its pair records what
 * the item holds, with the item's eTag, and `rewrite` asks for the push's re-read, which brings the item back to
 * the row's values. Fields mapped after the pair last synced are left to alignment as before.
 */
function adoptedEntry(
  plan: FieldPlan | null,
  pulls: boolean,
  e: LedgerEntry,
  item: FoundItem,
): { entry: LedgerEntry; changed: boolean; rewrite: boolean } {
  const state = e.state === 'ORPHANED' ? 'ORPHANED' : 'SYNCED';
  const base = { ...e, listId: item.listId, itemId: item.id, state } as const;
  const synced = e.syncedValues;
  if (synced === null || !plan || !item.values)
    return { entry: { ...base, eTag: UNCONFIRMED_ETAG }, changed: true, rewrite: false };
  const changedFields = differs(
    synced,
    item.values,
    mappedTargets(plan).filter((f) => f in synced),
  );
  if (changedFields.length === 0)
    return { entry: { ...base, eTag: item.eTag }, changed: false, rewrite: false };
  if (pulls) return { entry: { ...base, eTag: UNCONFIRMED_ETAG }, changed: true, rewrite: false };
  const held: CanonicalRecord = { ...synced, ...pick(item.values, changedFields) };
  return {
    entry: { ...base, eTag: item.eTag, syncedValues: held, contentHash: contentHash(held) },
    changed: true,
    rewrite: e.state !== 'ORPHANED',
  };
}

/**
 * Open conflicts name their item by the old list's id, which in the current list is another item, or none (I15).
 * A row's conflict (CHANGE) follows its pair: the item adopted for it, or none when it is to be re-created (resolve
 * then finds the row's item by its hidden key). A COPY conflict named an item of the old list: closed, as its parked
 * pull failure was discarded; the fresh pull of the current list records any copy still there again.
 */
async function repointOpenConflicts(client: PoolClient, definitionId: string): Promise<void> {
  await client.query(
    `UPDATE arcore.sync_conflicts c SET sp_item_id = (
        SELECT l.sp_item_id FROM arcore.sync_ledger l
         WHERE l.definition_id = c.definition_id AND l.source_identity_hash = c.source_identity_hash)
      WHERE c.definition_id = $1 AND c.status = 'OPEN' AND c.kind = 'CHANGE'`,
    [definitionId],
  );
  await client.query(
    `UPDATE arcore.sync_conflicts SET status = 'RESOLVED', outcome = 'LIST_RELINKED', resolved_at = now(),
            resolved_by = 'relink'
      WHERE definition_id = $1 AND status = 'OPEN' AND kind = 'COPY'`,
    [definitionId],
  );
}
