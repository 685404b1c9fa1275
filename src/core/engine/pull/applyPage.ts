import type { PoolClient } from 'pg';
import { KeyMatchError } from '../../source/postgres/keys';
import { fromGraphFields, type CanonicalRecord } from '../../canonical';
import { closeCopyConflicts, openConflictIdentities, refreshOpenConflicts } from '../../store/conflicts';
import type { TargetFingerprint } from '../../store/cursors';
import { park, parkWaiting, resolveParked } from '../../store/failures';
import type { LedgerEntry } from '../../store/ledger';
import type { InsertedPair } from '../../store/pullIntents';
import { movesDeletingOld } from '../../store/moves';
import type { DeltaEntry } from '../../target/sharepoint';
import { rowsByIdentity } from '../identity';
import { applyToPostgres, type Rekeyed } from '../push/writes';
import type { RunScope } from '../runner';
import { claimsByHiddenKey, claimsOfFlaggedRows, claimsOfKeptRows, recordCopy } from './claims';
import { adoptStandIns, copiesStandingIn } from '../standIns';
import { parkMisrouted } from '../routing';
import { writeTargetCursor, type Progress } from './cursor';
import { assertKeysFree, insertItem } from './insert';
import { insertedPair, recordInsertIntents } from './intents';
import { inPageTx } from './pageTx';
import { assertUnchanged, readPageRows } from './pageRows';
import { parkKey, pullFailureMessage } from './parked';
import { checkpoint, PageWrites, type PageOut } from './pageWrites';
import { decidePair, settle, type Pair, type WriteBack } from './settle';
import { pairDeleteTimes } from './deleteTimes';
import { flushWriteBacks } from './writeBacks';

/**
 * Applies one page of delta entries (the last occurrence of an item wins) in one transaction together with
 * its ledger changes and the progress marker (I6). Echoes are skipped (I3); conflicts go to the policy (I7);
 * a row that Postgres refuses is parked with Postgres's message and the rest of the page is applied (I12).
 * Answers the ids of the items it wrote back to SharePoint after the commit.
 */
export async function applyEntries(
  scope: RunScope,
  feed: DeltaEntry[],
  progress: {
    cursorValue: string | null;
    progress: Progress | null;
    fingerprint: TargetFingerprint;
  } | null,
  enumeration: string | null,
): Promise<Set<string>> {
  const { ctx, def, ledger, source, listId } = scope;
  const latest = new Map<string, DeltaEntry>();
  for (const e of feed) {
    const id = e.kind === 'deleted' ? e.id : e.item.id;
    latest.delete(id);
    latest.set(id, e);
  }
  const entries = [...latest.values()];
  const ids = [...latest.keys()];
  const byItem = await ledger.byItemIds(ctx.meta, listId, ids);
  const claims = await claimsByHiddenKey(scope, entries, byItem);
  await claimsOfKeptRows(scope, entries, byItem, claims);
  await claimsOfFlaggedRows(scope, entries, byItem, claims);
  const known = [...byItem.values(), ...[...claims.copies.values()].map((c) => c.entry)];
  // Each key once: a copy carries its pair's key, and a key read twice would be taken for two rows holding it.
  const keys = new Map(known.map((e) => [e.identityHash, def.source.key.map((k) => e.identity[k])]));
  const [parked, moving] = await Promise.all([
    openConflictIdentities(
      ctx.meta,
      scope.definitionId,
      known.map((e) => e.identityHash),
    ),
    // A pair whose move in flight may have sent its old item's delete: that delete is the move's (the push
    // settles it), not the row's. Before the move sent it, the delete is someone else's and is decided as usual.
    // An edit of the old item is applied as usual: the push that settles the move writes it to the new item.
    scope.route
      ? movesDeletingOld(
          ctx.meta,
          scope.definitionId,
          known.map((e) => e.identityHash),
        )
      : new Set<string>(),
  ]);
  // A paired item deleted while a copy carrying its key stands (a user moved it by hand): the copy takes its place.
  const standIns = await copiesStandingIn(scope, entries, byItem, (h) => parked.has(h) || moving.has(h));

  const writeBacks: WriteBack[] = [];
  // New items whose rows this page inserted: recorded (committed) before the source commits, when it is another
  // database, so that a crash between its commit and the metadata's does not insert them twice (intents.ts).
  const newPairs: InsertedPair[] = [];
  const recordIntents = (client: PoolClient, meta: PoolClient) =>
    recordInsertIntents(scope, client, meta, newPairs);
  await inPageTx(scope, recordIntents, async (client, meta) => {
    // Read (and locked) inside the page's transaction: the items are decided on the rows as they are written.
    const { rows, held: busy, locked } = await readPageRows(scope, client, [...keys.values()]);
    // A view's key may be held by several rows (I13): such an item is decided against none of them and parked.
    const { rowByHash, heldBy } = rowsByIdentity(scope, rows);
    const deletedAt = await pairDeleteTimes(
      scope,
      [...byItem.values()].filter((e) => !rowByHash.has(e.identityHash)),
    );
    // A delete Postgres is not to follow (IGNORE) writes nothing by key: it is decided as any other.
    const heldTwice = (e: DeltaEntry, entry: LedgerEntry): number | undefined => {
      const held = heldBy.get(entry.identityHash) ?? 0;
      return held > 1 && !(e.kind === 'deleted' && def.deletes.pull === 'IGNORE') ? held : undefined;
    };
    const out: PageOut = { save: [], remove: [], writeBacks, resolved: [], inserted: newPairs };
    const { save, remove, resolved } = out;
    const writes = new PageWrites(scope, client, meta, out);
    const lateInserts: (() => Promise<void>)[] = [];
    // Items refused for a reference or a unique value that another write of this page may make good (a row pointed
    // at an item created on the same page, whose insert comes later): tried again once the page's other writes are
    // in, in rounds while any lands, and parked only then (I12).
    let retrying: {
      retry: () => Promise<void>;
      itemId: string;
      entry: LedgerEntry | undefined;
      err: unknown;
    }[] = [];
    const refuse = async (itemId: string, entry: LedgerEntry | undefined, err: unknown): Promise<void> => {
      scope.counts.failed++;
      await park(meta, scope.definitionId, {
        direction: 'PULL',
        itemKey: parkKey(scope, itemId),
        sourceIdentity: entry?.identity ?? null,
        spItemId: itemId,
        error: pullFailureMessage(scope, itemId, err),
      });
    };
    // The items of pairs an open conflict holds, as read now: the conflict shows them (refreshOpenConflicts).
    const heldNow: { identityHash: string; values: CanonicalRecord | null }[] = [];
    /** The one-item path: the item in its own savepoint, parked with Postgres's message when refused (I12). */
    const alone = async (e: DeltaEntry, itemId: string, entry: LedgerEntry | undefined): Promise<void> => {
      // An item that fails after an outcome was counted (a conflict recorded, then Postgres refused) counts
      // only as failed: its savepoints undo the rest, and what it added to the page's lists is taken back.
      const undo = checkpoint(scope, out);
      // The item's metadata writes (a conflict recorded) are undone with its rows: with the source in another
      // database, a savepoint on the source alone kept a conflict on record for a write that never happened (I7).
      const both = meta === client ? [client] : [client, meta];
      for (const db of both) await db.query('SAVEPOINT item');
      try {
        if (!entry) {
          if (e.kind === 'upsert') {
            const { entry: inserted, row, supplied } = await insertItem(scope, client, e.item);
            // Nothing in a view refuses a key another row holds: ask it, inside the item's savepoint (I13).
            if (scope.keyUnenforced) {
              const key = def.source.key.map((k) => inserted.identity[k]);
              const [held] = await source.keysHeldTwice([key], client);
              if (held) throw new KeyMatchError(source.qualified, 'insert', inserted.identity, held.rows);
            }
            await assertKeysFree(scope, meta, [{ row, itemId }], remove);
            save.push(inserted);
            out.inserted.push(insertedPair(inserted, row, supplied));
            scope.counts.created++;
          }
        } else {
          // A row another session held while the page waited to lock it: decided by the next pull, on the row then.
          const holder = busy.get(entry.identityHash);
          if (holder !== undefined) throw new Error(holder);
          const held = heldTwice(e, entry);
          if (held !== undefined)
            throw new KeyMatchError(source.qualified, operationOf(scope, e), entry.identity, held);
          const pair = decidePair(
            scope,
            e,
            entry,
            rowByHash.get(entry.identityHash) ?? null,
            deletedAt.get(entry.identityHash) ?? null,
          );
          // Rows read without a lock are written only where they are still as read (pageRows.ts).
          const write = locked
            ? undefined
            : async (key: unknown[], rekeyed: Rekeyed) => {
                await assertUnchanged(scope, client, key, pair.row);
                return applyToPostgres(scope, client, key, entry.identity, pair.decision, rekeyed);
              };
          await settle(scope, client, meta, pair, out, write);
        }
        resolved.push(itemId);
        for (const db of both) await db.query('RELEASE SAVEPOINT item');
      } catch (err) {
        for (const db of both) await db.query('ROLLBACK TO SAVEPOINT item');
        undo();
        if (refusalOfOrder(err)) retrying.push({ retry: () => alone(e, itemId, entry), itemId, entry, err });
        else await refuse(itemId, entry, err);
      }
    };
    for (const e of entries) {
      const itemId = e.kind === 'deleted' ? e.id : e.item.id;
      scope.counts.processed++;
      if (claims.moving.has(itemId)) {
        scope.counts.skipped++;
        resolved.push(itemId);
        continue;
      }
      const copy = claims.copies.get(itemId);
      if (copy && e.kind === 'upsert') {
        await recordCopy(scope, meta, e.item, copy, rowByHash.get(copy.entry.identityHash) ?? null);
        continue;
      }
      const entry = byItem.get(itemId);
      if (entry && e.kind === 'deleted' && moving.has(entry.identityHash)) {
        scope.counts.skipped++;
        continue;
      }
      // An open conflict holds the item: its resolution reads both sides as they are then and writes them, so a
      // parked retry of the item has nothing left to do and is settled, not left due for ever (I5c).
      if (entry && parked.has(entry.identityHash)) {
        const values = e.kind === 'deleted' ? null : heldValues(scope, e.item.fields);
        if (values !== undefined) heldNow.push({ identityHash: entry.identityHash, values });
        scope.counts.skipped++;
        resolved.push(itemId);
        continue;
      }
      // The push keeps no row for an ORPHANED pair: the item has nothing to be applied to, and a parked retry of
      // it is settled (I5c); its tombstone drops the pair.
      if (entry?.state === 'ORPHANED') {
        if (e.kind === 'deleted') remove.push(entry.identityHash);
        scope.counts.skipped++;
        resolved.push(itemId);
        continue;
      }
      if (!entry && e.kind === 'deleted') {
        scope.counts.skipped++; // never synced: nothing to delete
        resolved.push(itemId);
        continue;
      }
      const one = (): Promise<void> => alone(e, itemId, entry);
      // Decided now, written with the page's other writes (pageWrites.ts); anything unusual goes alone.
      if (!entry) {
        // A view's inserts go one by one: each is checked for a key another row holds (I13). Those and any other
        // insert that goes alone wait for the page's batched writes, as the batched inserts do: a key a deleted
        // row frees on this page is then free, not held twice.
        if (e.kind === 'upsert' && (scope.keyUnenforced || !writes.offerInsert(e.item, one)))
          lateInserts.push(one);
        continue;
      }
      let deferred: boolean;
      if (!locked || heldTwice(e, entry) !== undefined || busy.has(entry.identityHash)) deferred = false;
      else {
        let pair: Pair | null = null;
        try {
          pair = decidePair(
            scope,
            e,
            entry,
            rowByHash.get(entry.identityHash) ?? null,
            deletedAt.get(entry.identityHash) ?? null,
          );
        } catch {
          pair = null; // the one-item path meets the same error and parks the item with it
        }
        deferred = pair !== null && (await writes.offerPair(pair, one));
      }
      if (!deferred) await one();
    }
    await writes.flush();
    for (const insert of lateInserts) await insert();
    while (retrying.length > 0) {
      const round = retrying;
      retrying = [];
      for (const r of round) await r.retry();
      if (retrying.length < round.length) continue;
      // None landed: each is refused for good, with its own refusal.
      for (const r of retrying) await refuse(r.itemId, r.entry, r.err);
      retrying = [];
    }
    await refreshOpenConflicts(meta, scope.definitionId, 'sharepoint', heldNow);
    // Removes first: a new item may take the key of a pair this page removes (its item deleted), and its pair,
    // saved under that key, must stay.
    await ledger.remove(meta, remove);
    await ledger.save(meta, save);
    if (standIns.length > 0) {
      await ledger.save(
        meta,
        standIns.map((s) => s.entry),
      );
      await adoptStandIns(meta, scope, standIns);
      // Routed: a copy in a list its row does not route to is moved by the next push.
      for (const s of standIns) {
        const row = rowByHash.get(s.entry.identityHash);
        if (row) await parkMisrouted(scope, meta, s.entry.listId, [{ entry: s.entry, row: row.values }]);
      }
    }
    // Routed: an item adopted by its key here (restored from the recycle bin, a stopped push's create) whose row
    // routes to another list now is moved by the next push, which would not read the unchanged row again.
    if (scope.route && claims.adopted.size > 0)
      await parkMisrouted(
        scope,
        meta,
        listId,
        resolved.flatMap((id) => {
          const entry = claims.adopted.has(id) ? byItem.get(id) : undefined;
          const row = entry && rowByHash.get(entry.identityHash);
          return entry && row ? [{ entry, row: row.values }] : [];
        }),
      );
    // A write-back is sent only after the page commits, and this commit moves the feed past its item: until
    // SharePoint confirms it, the item stays parked, so that a run stopping in between (a crash, a 401, a lost
    // lock, the time budget) leaves a retry that decides it again and sends it (I5c, I6; flushWriteBacks).
    const pending = new Map(writeBacks.map((w) => [parkKey(scope, w.op.itemId), w]));
    await resolveParked(
      meta,
      scope.definitionId,
      'PULL',
      resolved.map((id) => parkKey(scope, id)).filter((key) => !pending.has(key)),
    );
    await parkWaiting(
      meta,
      scope.definitionId,
      'PULL',
      [...pending].map(([itemKey, w]) => ({
        itemKey,
        sourceIdentity: w.entry.identity,
        spItemId: w.op.itemId,
        error: `write-back to item ${w.op.itemId} not confirmed: the run stopped before SharePoint answered it`,
      })),
    );
    // An item that was a copy and is now adopted, deleted or without a paired key no longer conflicts.
    const adopted = resolved.filter((id) => claims.adopted.has(id));
    await closeCopyConflicts(meta, scope.definitionId, listId, adopted, 'ADOPTED');
    await closeCopyConflicts(
      meta,
      scope.definitionId,
      listId,
      resolved.filter((id) => !claims.adopted.has(id)),
      'SETTLED',
    );
    if (enumeration) {
      await ledger.markSeen(meta, listId, ids, enumeration);
      // An adopted pair whose write-back is still to come has no item id in the ledger yet: unmarked, the
      // enumeration's end would take its item for deleted and delete the row.
      const adoptedPairs = [
        ...[...claims.adopted].flatMap((id) => byItem.get(id)?.identityHash ?? []),
        ...standIns.map((s) => s.entry.identityHash),
      ];
      await ledger.markSeenIdentities(meta, adoptedPairs, enumeration);
    }
    if (progress) {
      await writeTargetCursor(
        scope,
        meta,
        progress.cursorValue,
        progress.progress ? JSON.stringify(progress.progress) : null,
        progress.fingerprint,
      );
    }
  });
  await flushWriteBacks(scope, writeBacks);
  return new Set(writeBacks.map((w) => w.op.itemId));
}

/**
 * A refusal another write of the same page may lift: a foreign key (the row referred to is inserted later, or the
 * row referring is deleted later), a unique value or an exclusion another row gives up later in the page.
 */
function refusalOfOrder(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23503' || code === '23505' || code === '23P01';
}

/**
 * An item's values as a conflict records them; undefined when they cannot be read (a value the mapping cannot
 * convert): the record keeps what it showed, and `resolve` reads the item again anyway.
 */
function heldValues(scope: RunScope, fields: Record<string, unknown>): CanonicalRecord | undefined {
  try {
    return fromGraphFields(fields, scope.plan.columns);
  } catch {
    return undefined;
  }
}

/** The write a pulled entry would make by key: what a KeyMatchError names. */
function operationOf(scope: RunScope, e: DeltaEntry): KeyMatchError['operation'] {
  if (e.kind === 'upsert') return 'update';
  return scope.def.deletes.pull === 'SOFT' ? 'soft delete' : 'delete';
}
