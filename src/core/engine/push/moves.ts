/**
 * Moves (routing, issue #21): a row whose route changed gets its item created in the new list (with the hidden
 * key column), then deleted from the old one. Crash-safe (I6): the move is recorded in `arcore.sync_moves` and
 * committed before the create is sent; the transaction that points the ledger at the new item removes it. A
 * rerun (settlePendingMoves) finds the new item by the hidden key: it finishes the move, or undoes it.
 *
 * Nothing is lost (I7): the old item is deleted with If-Match on the ledger's eTag. When SharePoint changed (or
 * deleted) it since the last sync, the move is undone (the new item deleted, the ledger left on the old item), so the next
 * pull brings that edit to the conflict decision like any other, and the push after it moves the item.
 */
import {
  contentHash,
  fromGraphFields,
  isWritableSharePointField,
  toGraphFields,
  type CanonicalRecord,
} from '../../canonical';
import { clearMoves, pendingMoves, recordMoves } from '../../store/moves';
import type { LedgerEntry } from '../../store/ledger';
import type { ListItem, WriteOp, WriteOutcome } from '../../target/sharepoint';
import { pick } from '../plan';
import type { RunScope } from '../runner';
import { type PageCommit, type PushRow, describeFailure, responseFields } from './page';
import { graphFields } from './writes';
import { inTransaction } from '../../db/transaction';

/** A row whose item must move from the ledger's list to `toListId`. */
export interface Move {
  r: PushRow;
  entry: LedgerEntry;
  toListId: string;
}

/**
 * What the new item carries: Postgres's values of the fields push writes, and SharePoint's last synced values of
 * the pull-only fields (SharePoint owns those; without them the move would empty them).
 */
export function moveFields(scope: RunScope, r: PushRow, entry: LedgerEntry): Record<string, unknown> {
  const { plan } = scope;
  const spOwned = plan.fields
    .filter((f) => !f.pushable && f.pullable && isWritableSharePointField(f.target, f.kind, f.sp))
    .map((f) => f.target);
  return {
    ...toGraphFields(pick(entry.syncedValues ?? {}, spOwned), plan.columns),
    ...graphFields(scope, pick(r.values, plan.toSharePoint)),
    [scope.def.target.keyColumn]: r.hash,
  };
}

/** The synced values of a moved item: what it was created with. */
function movedSynced(scope: RunScope, m: Move, created: WriteOutcome): CanonicalRecord {
  const { plan } = scope;
  const returned = responseFields(created);
  const pulledBack = returned ? fromGraphFields(returned, plan.columns) : null;
  return {
    ...pick(pulledBack ?? m.entry.syncedValues ?? {}, plan.toPostgres),
    ...pick(m.r.values, plan.toSharePoint),
  };
}

/** Records the moves before their creates leave (I6). A dry run records nothing. */
export async function recordMoveIntents(scope: RunScope, moves: Move[]): Promise<void> {
  if (scope.dryRun || moves.length === 0) return;
  await recordMoves(
    scope.ctx.meta,
    scope.definitionId,
    scope.runId,
    moves.map((m) => ({
      identityHash: m.r.hash,
      fromListId: m.entry.listId,
      fromItemId: m.entry.itemId as string,
      toListId: m.toListId,
    })),
  );
}

function byList<T>(items: T[], listOf: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) out.set(listOf(t), [...(out.get(listOf(t)) ?? []), t]);
  return out;
}

/** Sends ops grouped by list; outcomes come back by ref. */
export async function writeByList(
  scope: RunScope,
  ops: { listId: string; op: WriteOp }[],
): Promise<Map<string, WriteOutcome>> {
  const out = new Map<string, WriteOutcome>();
  if (ops.length === 0) return out;
  scope.assertLockHeld();
  for (const [listId, group] of byList(ops, (o) => o.listId)) {
    const outcomes = await scope.target.writeItems(
      scope.siteId,
      listId,
      group.map((g) => g.op),
    );
    for (const o of outcomes) out.set(o.ref, o);
  }
  return out;
}

/**
 * The second half of moves whose item was created in its new list: delete the old item (If-Match), then point
 * the ledger at the new one (in the page commit, which also clears the move). An old item SharePoint changed
 * since the last sync undoes the move (see the module comment).
 */
export async function finishMoves(
  scope: RunScope,
  created: { m: Move; o: WriteOutcome & { status: 'created' } }[],
  commit: PageCommit,
): Promise<void> {
  const deletes = created.map(({ m }) => ({
    listId: m.entry.listId,
    op: {
      kind: 'delete' as const,
      ref: m.r.hash,
      itemId: m.entry.itemId as string,
      eTag: m.entry.eTag ?? undefined,
    },
  }));
  const outcomes = await writeByList(scope, deletes);
  const undo: { m: Move; o: WriteOutcome & { status: 'created' } }[] = [];
  for (const c of created) {
    const { m, o } = c;
    const d = outcomes.get(m.r.hash);
    if (d?.status === 'deleted') {
      scope.counts.moved++;
      const synced = movedSynced(scope, m, o);
      commit.save.push({
        ...m.entry,
        listId: m.toListId,
        itemId: o.itemId,
        eTag: o.eTag,
        syncedValues: synced,
        contentHash: contentHash(synced),
        provenance: 'PUSH',
        state: 'SYNCED',
        lastSourceTs: m.r.row.cursor,
        spModifiedAt: o.lastModifiedDateTime ?? null,
      });
      commit.moved.push(m.r.hash);
      commit.resolved.push(m.r.hash);
      scope.dryRun?.recordMove({
        key: m.r.identity,
        itemId: m.entry.itemId,
        from: scope.lists.find((l) => l.listId === m.entry.listId)?.name ?? m.entry.listId,
        to: scope.lists.find((l) => l.listId === m.toListId)?.name ?? m.toListId,
      });
    } else if (d?.status === 'precondition_failed' || d?.status === 'not_found') {
      // Changed or deleted in SharePoint since the last sync: the pull decides that (I7, I8) before any move.
      undo.push(c);
    } else {
      // The old item may still be there: the move stays recorded and the next run finishes it.
      scope.counts.failed++;
      commit.park.push({
        hash: m.r.hash,
        identity: m.r.identity,
        itemId: m.entry.itemId,
        error: `moving the item to list ${m.toListId}: ${d ? describeFailure(d) : 'no answer'}`,
      });
    }
  }
  await undoMoves(
    scope,
    undo.map(({ m, o }) => ({ m, newItemId: o.itemId, newETag: o.eTag })),
    commit,
  );
}

/**
 * Deletes the items a move created, leaving the ledger on the old item that SharePoint changed: the next pull
 * decides that change (I7) and the next push moves the item with it.
 */
async function undoMoves(
  scope: RunScope,
  undo: { m: Move; newItemId: string; newETag: string }[],
  commit: PageCommit,
): Promise<void> {
  const outcomes = await writeByList(
    scope,
    undo.map(({ m, newItemId, newETag }) => ({
      listId: m.toListId,
      op: { kind: 'delete' as const, ref: m.r.hash, itemId: newItemId, eTag: newETag },
    })),
  );
  for (const { m } of undo) {
    const o = outcomes.get(m.r.hash);
    if (o && (o.status === 'deleted' || o.status === 'not_found')) {
      scope.counts.skipped++;
      scope.details.movesDeferred = ((scope.details.movesDeferred as number) ?? 0) + 1;
      scope.ctx.log.info(
        `${scope.def.name}: item ${m.entry.itemId} changed or was deleted in SharePoint since the last sync; ` +
          'its move waits for the next pull to decide that change',
      );
      commit.moved.push(m.r.hash);
    } else {
      scope.counts.failed++;
      commit.park.push({
        hash: m.r.hash,
        identity: m.r.identity,
        itemId: m.entry.itemId,
        error: `undoing a move: ${o ? describeFailure(o) : 'no answer'}`,
      });
    }
  }
}

/**
 * A rerun after a crash: moves left in flight. The new item is looked up by the hidden key column in the list
 * the row was moving to. Found: the old item is deleted (If-Match) and the ledger points at the new item; when
 * SharePoint changed the old item meanwhile, the new item is deleted instead. Not found: the create never
 * landed, and the move is forgotten. Either way the row is pushed again (its keys are returned).
 */
export async function settlePendingMoves(scope: RunScope): Promise<unknown[][]> {
  const { ctx, def, ledger, target, siteId, plan } = scope;
  const pending = await pendingMoves(ctx.meta, scope.definitionId);
  if (pending.length === 0) return [];
  const entries = await ledger.byIdentities(
    ctx.meta,
    pending.map((m) => m.identityHash),
  );
  const keys: unknown[][] = [];
  const settled: string[] = [];
  const save: LedgerEntry[] = [];
  let finished = 0;
  let undone = 0;
  for (const m of pending) {
    const entry = entries.get(m.identityHash);
    const found = (
      await target.findItemsByField(siteId, m.toListId, def.target.keyColumn, m.identityHash)
    ).sort((a, b) => Number(a.id) - Number(b.id));
    const onOld = entry?.listId === m.fromListId && entry.itemId === m.fromItemId;
    // The ledger already names an item (the move committed, or the row was re-paired): every other copy goes.
    const keep: ListItem | null = onOld
      ? (found[0] ?? null)
      : (found.find((i) => entry?.listId === m.toListId && i.id === entry.itemId) ?? null);
    const extras = found.filter((i) => i !== keep);
    if (extras.length) await deleteItems(scope, m.toListId, extras);
    if (entry) keys.push(def.source.key.map((k) => entry.identity[k]));
    if (!onOld || !keep || !entry) {
      settled.push(m.identityHash);
      continue;
    }
    scope.assertLockHeld();
    // not_found here is most likely the crashed run's own delete: the move is finished.
    const [d] = await target.writeItems(siteId, m.fromListId, [
      { kind: 'delete', ref: m.identityHash, itemId: m.fromItemId, eTag: entry.eTag ?? undefined },
    ]);
    if (d.status === 'deleted' || d.status === 'not_found') {
      const values = fromGraphFields(keep.fields, plan.columns);
      save.push({
        ...entry,
        listId: m.toListId,
        itemId: keep.id,
        eTag: keep.eTag,
        syncedValues: values,
        contentHash: contentHash(values),
        provenance: 'PUSH',
        state: 'SYNCED',
        spModifiedAt: keep.lastModifiedDateTime,
      });
      settled.push(m.identityHash);
      finished++;
    } else if (d.status === 'precondition_failed') {
      if (await deleteItems(scope, m.toListId, [keep])) {
        settled.push(m.identityHash);
        undone++;
      }
    } else {
      ctx.log.warn(
        `${def.name}: finishing the move of item ${m.fromItemId} failed (${describeFailure(d)}); the next run tries again`,
      );
    }
  }
  if (!scope.dryRun) {
    await inTransaction(ctx.meta, async (client) => {
      await ledger.save(client, save);
      await clearMoves(client, scope.definitionId, settled);
      scope.assertLockHeld();
    });
  }
  scope.counts.processed += finished;
  scope.counts.moved += finished;
  scope.details.movesFinishedAfterCrash = finished;
  scope.details.movesUndoneAfterCrash = undone;
  return keys;
}

/** Deletes items a move left behind (duplicates by the hidden key); true when all are gone. */
async function deleteItems(scope: RunScope, listId: string, items: ListItem[]): Promise<boolean> {
  scope.assertLockHeld();
  const outcomes = await scope.target.writeItems(
    scope.siteId,
    listId,
    items.map((i) => ({ kind: 'delete' as const, ref: i.id, itemId: i.id })),
  );
  return outcomes.every((o) => o.status === 'deleted' || o.status === 'not_found');
}
