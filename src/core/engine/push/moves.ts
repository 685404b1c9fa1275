/**
 * Moves (routing, issue #21): a row whose route changed gets its item created in the new list (with the hidden
 * key column), then deleted from the old one. Crash-safe (I6): the move is recorded in `arcore.sync_moves` and
 * committed before the create is sent, with the values the create sends; the transaction that points the ledger at
 * the new item removes it. A rerun (settlePendingMoves) finds the new item by the hidden key: it finishes the move,
 * weighing the item against those values (an edit made to it meanwhile is kept), or undoes it.
 *
 * Nothing is lost (I7): the old item is deleted with If-Match on the ledger's eTag. When SharePoint changed (or
 * deleted) it since the last sync, the move is undone (the new item deleted, the ledger left on the old item), so the next
 * pull brings that edit to the conflict decision like any other, and the push after it moves the item.
 */
import type { PoolClient } from 'pg';
import {
  canonicalEquals,
  contentHash,
  fromGraphFields,
  isWritableSharePointField,
  toGraphFields,
  type CanonicalRecord,
} from '../../canonical';
import {
  clearMoves,
  markDeleteSent,
  markMovesChecked,
  pendingMoves,
  recordMoves,
  type PendingMove,
} from '../../store/moves';
import { park, resolveRowlessHeldMoves } from '../../store/failures';
import type { LedgerEntry } from '../../store/ledger';
import { outcomesBeforeStop, type ListItem, type WriteOp, type WriteOutcome } from '../../target/sharepoint';
import { RunTimeBudgetError } from '../../budget/errors';
import { pushPlanFor, unalignedFields } from '../alignment';
import { pick } from '../plan';
import type { RunScope } from '../runner';
import {
  adoptStandIn,
  type PageCommit,
  type PushRow,
  describeFailure,
  responseFields,
  writtenETag,
} from './page';
import { listName, writeProblem } from '../routing';
import { inTransaction } from '../../db/transaction';
import { groupBy } from '../../groupBy';
import { afterMiss, PENDING_CREATE_SETTLE_SECONDS, UNCONFIRMED_ETAG } from './pendingCreates';
import { confirmListStands, confirmListsOfNotFound, noItemsIfRetiredGone } from '../listGone';
import { standingCopies } from '../standIns';

/** A row whose item must move from the ledger's list to `toListId`, and what its new item is created with. */
export interface Move {
  r: PushRow;
  entry: LedgerEntry;
  toListId: string;
  carry: MoveCarry;
  /** The new item's values (canonical): its create's Graph fields are built from them (moveFields). */
  sent: CanonicalRecord;
}

/**
 * Which fields of a moved item come from where. SharePoint owns the pull-only fields, and a field mapped since
 * the pair last synced (I14) is the pull's to align, reading both sides: the new item takes both from the old
 * item, so the move loses nothing SharePoint holds. Every other field push writes takes Postgres's value.
 */
export interface MoveCarry {
  /** Targets written with Postgres's values. */
  fromPostgres: string[];
  /** Targets written with the old item's values (the ledger's, or read from the item when never synced). */
  fromSharePoint: string[];
  /** Of those, the targets the ledger never synced: read from the old item, and left out of the synced values. */
  unaligned: string[];
}

export function moveCarry(scope: RunScope, r: PushRow, entry: LedgerEntry): MoveCarry {
  const { plan, def } = scope;
  const base = entry.syncedValues;
  const unalignedAll = new Set(unalignedFields(plan, base));
  // The push plan leaves to the pull the unaligned fields it must not write (the same rule as an update).
  const pushed = new Set(
    pushPlanFor(plan, base, r.values, { pullEnabled: def.pull.enabled, listReadWithAllFields: false })
      .toSharePoint,
  );
  const fromPostgres = plan.toSharePoint.filter((t) => pushed.has(t));
  const fromSharePoint = plan.fields
    .filter(
      (f) =>
        !pushed.has(f.target) &&
        f.pullable &&
        isWritableSharePointField(f.target, f.kind, f.sp) &&
        (!f.pushable || unalignedAll.has(f.target)),
    )
    .map((f) => f.target);
  return { fromPostgres, fromSharePoint, unaligned: fromSharePoint.filter((t) => unalignedAll.has(t)) };
}

/**
 * The move of a row's item to `toListId`, with what the new item carries (see MoveCarry). A field the ledger
 * never synced is read from the old item (one read, only for such a move); an old item already gone leaves it
 * out (the delete then finds it gone and the move is undone).
 */
export async function planMove(
  scope: RunScope,
  r: PushRow,
  entry: LedgerEntry,
  toListId: string,
): Promise<Move> {
  const { plan } = scope;
  const carry = moveCarry(scope, r, entry);
  let owned = pick(
    entry.syncedValues ?? {},
    carry.fromSharePoint.filter((t) => !carry.unaligned.includes(t)),
  );
  if (carry.unaligned.length > 0 && entry.itemId) {
    const item = await scope.target.getItem(scope.siteId, entry.listId, entry.itemId, plan.select);
    if (item) owned = { ...owned, ...pick(fromGraphFields(item.fields, plan.columns), carry.unaligned) };
  }
  return { r, entry, toListId, carry, sent: { ...owned, ...pick(r.values, carry.fromPostgres) } };
}

/** The Graph `fields` body creating a move's new item: its values and the row's hidden key. */
export function moveFields(scope: RunScope, m: Move): Record<string, unknown> {
  return { ...toGraphFields(m.sent, scope.plan.columns), [scope.def.target.keyColumn]: m.r.hash };
}

/**
 * What a move records as sent (sync_moves.sent_values): its values without the fields the ledger never synced
 * and Postgres did not write, which stay out of the synced values (the pull still aligns those, I14).
 */
function sentSynced(m: Move): CanonicalRecord {
  const out = { ...m.sent };
  for (const t of m.carry.unaligned) delete out[t];
  return out;
}

/**
 * The synced values of a moved item: what it was created with, without the fields the ledger never synced and
 * Postgres did not write (the pull still aligns those, I14).
 */
function movedSynced(scope: RunScope, m: Move, created: WriteOutcome): CanonicalRecord {
  const { plan } = scope;
  const { carry } = m;
  const returned = responseFields(created);
  const pulledBack = returned ? fromGraphFields(returned, plan.columns) : null;
  const synced: CanonicalRecord = {
    ...pick(pulledBack ?? m.entry.syncedValues ?? {}, plan.toPostgres),
    ...pick(m.r.values, carry.fromPostgres),
  };
  for (const t of unalignedFields(plan, m.entry.syncedValues))
    if (!carry.fromPostgres.includes(t)) delete synced[t];
  return synced;
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
      sentValues: sentSynced(m),
    })),
  );
}

/** Sends ops grouped by list; outcomes come back by ref (a write to a list with a problem fails unsent). */
export async function writeByList(
  scope: RunScope,
  ops: { listId: string; op: WriteOp }[],
): Promise<Map<string, WriteOutcome>> {
  const out = new Map<string, WriteOutcome>();
  if (ops.length === 0) return out;
  scope.assertLockHeld();
  // A list that does not fit the mapping (planLists) gets no create or update: the row is parked with why.
  const sendable: typeof ops = [];
  for (const o of ops) {
    const problem = writeProblem(scope, o.listId, o.op.kind);
    if (problem) out.set(o.op.ref, { ref: o.op.ref, status: 'failed', message: problem, notSent: true });
    else sendable.push(o);
  }
  let stop: RunTimeBudgetError | null = null;
  for (const [listId, group] of groupBy(sendable, (o) => o.listId)) {
    if (stop) {
      // I16: the lists after a stop are not written; their writes are known not sent.
      for (const g of group)
        out.set(g.op.ref, {
          ref: g.op.ref,
          status: 'failed',
          message: stop.message,
          notSent: true,
          stopped: true,
        });
      continue;
    }
    let outcomes: WriteOutcome[];
    try {
      outcomes = await scope.target.writeItems(
        scope.siteId,
        listId,
        group.map((g) => g.op),
      );
    } catch (error) {
      const done = outcomesBeforeStop(error);
      if (!done) throw error;
      stop = error as RunTimeBudgetError;
      outcomes = done;
    }
    // I15: a 404 from a list gone (replaced inside the resolution cache's window) is no item deleted. From a
    // retired list that is gone, a delete is done: the item went with its list.
    const standing = await confirmListsOfNotFound(scope, listId, outcomes);
    const deletes = new Set(group.filter((g) => g.op.kind === 'delete').map((g) => g.op.ref));
    for (const o of outcomes)
      out.set(
        o.ref,
        standing === 'retired-gone' && o.status === 'not_found' && deletes.has(o.ref)
          ? { ref: o.ref, status: 'deleted' }
          : o,
      );
  }
  if (stop) {
    stoppedWrites.set(stop, out);
    throw stop;
  }
  return out;
}

/**
 * `writeByList`, a stop by the run's time budget (I16) returned beside the outcomes of the batches that went through
 * (the writes it stopped are `failed` and `stopped`), for the caller to record before the run stops. Any other
 * failure throws and keeps nothing.
 */
export async function writeByListUntilStopped(
  scope: RunScope,
  ops: { listId: string; op: WriteOp }[],
): Promise<{ outcomes: Map<string, WriteOutcome>; stop: RunTimeBudgetError | null }> {
  try {
    return { outcomes: await writeByList(scope, ops), stop: null };
  } catch (error) {
    const done = writesBeforeStop(error);
    if (!done) throw error;
    return { outcomes: done, stop: error as RunTimeBudgetError };
  }
}

/** What a `writeByList` stopped by the run's time budget did, by the error it threw. */
const stoppedWrites = new WeakMap<RunTimeBudgetError, Map<string, WriteOutcome>>();

/**
 * I16: the outcomes by ref of a `writeByList` that threw `error` because the run's time budget stopped some of its
 * batches (batchWriter.ts outcomesBeforeStop); undefined for any other failure, which keeps nothing.
 */
function writesBeforeStop(error: unknown): Map<string, WriteOutcome> | undefined {
  return error instanceof RunTimeBudgetError ? stoppedWrites.get(error) : undefined;
}

/**
 * The second half of moves whose item was created in its new list: delete the old item (If-Match), then point
 * the ledger at the new one (in the page commit, which also clears the move). An old item SharePoint changed
 * (or deleted) since the last sync undoes the move (see the module comment); those rows are returned, for the
 * caller to decide SharePoint's change as it decides an update's 412 (push/conflicts.ts), and then
 * `retryDecidedMoves`.
 */
export async function finishMoves(
  scope: RunScope,
  created: { m: Move; o: WriteOutcome & { status: 'created' } }[],
  commit: PageCommit,
): Promise<{ r: PushRow; entry: LedgerEntry }[]> {
  const deletes = created.map(({ m }) => ({
    listId: m.entry.listId,
    op: {
      kind: 'delete' as const,
      ref: m.r.hash,
      itemId: m.entry.itemId as string,
      eTag: m.entry.eTag ?? undefined,
    },
  }));
  // Committed before the deletes leave: after a crash, a missing old item is read as this delete only now. A
  // move already marked had an earlier attempt whose delete may have landed: its missing old item is ours too.
  const sentBefore = scope.dryRun
    ? new Set<string>()
    : await markDeleteSent(
        scope.ctx.meta,
        scope.definitionId,
        created.map(({ m }) => m.r.hash),
        true,
      );
  const outcomes = await writeByList(scope, deletes);
  const undo: { m: Move; o: WriteOutcome & { status: 'created' }; oldGone: boolean }[] = [];
  const refused: string[] = [];
  for (const c of created) {
    const { m, o } = c;
    const d = outcomes.get(m.r.hash);
    if (d?.status === 'deleted' || (d?.status === 'not_found' && sentBefore.has(m.r.hash))) {
      scope.counts.moved++;
      const synced = movedSynced(scope, m, o);
      commit.save.push({
        ...m.entry,
        listId: m.toListId,
        itemId: o.itemId,
        eTag: writtenETag(scope.plan, o, synced),
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
      undo.push({ ...c, oldGone: d.status === 'not_found' });
    } else {
      // The old item may still be there: the move stays recorded and the next run finishes it. A refusal
      // (SharePoint answered, nothing deleted) makes a later missing old item someone else's delete again.
      if (d?.status === 'rejected') refused.push(m.r.hash);
      scope.counts.failed++;
      commit.park.push({
        hash: m.r.hash,
        identity: m.r.identity,
        itemId: m.entry.itemId,
        error: `moving the item to list ${m.toListId}: ${d ? describeFailure(d) : 'no answer'}`,
      });
    }
  }
  if (!scope.dryRun)
    await markDeleteSent(
      scope.ctx.meta,
      scope.definitionId,
      refused.filter((h) => !sentBefore.has(h)),
      false,
    );
  return undoMoves(
    scope,
    undo.map(({ m, o, oldGone }) => ({ m, newItemId: o.itemId, newETag: o.eTag, oldGone })),
    commit,
  );
}

/**
 * Deletes the items a move created, leaving the ledger on the old item that SharePoint changed; returns the rows
 * undone, whose change the caller decides now (I7), as the push decides any 412: waiting for a pull instead
 * left the item in a list the row no longer routes to, for ever in a definition that does not pull (or whose
 * pull finds no mapped field changed: a save that changed nothing mapped gives a new eTag too).
 */
async function undoMoves(
  scope: RunScope,
  undo: { m: Move; newItemId: string; newETag: string; oldGone: boolean }[],
  commit: PageCommit,
): Promise<{ r: PushRow; entry: LedgerEntry }[]> {
  const undone: { r: PushRow; entry: LedgerEntry }[] = [];
  const outcomes = await writeByList(
    scope,
    undo.map(({ m, newItemId, newETag }) => ({
      listId: m.toListId,
      op: { kind: 'delete' as const, ref: m.r.hash, itemId: newItemId, eTag: newETag },
    })),
  );
  // An old item deleted while a copy of it stands (a user's move by hand): the copy takes its place, as for an update
  // meeting it gone (push/conflicts.ts); decided with no item, the row met a delete.
  const standIns = new Map(
    (
      await standingCopies(
        scope,
        undo.filter((u) => u.oldGone).map((u) => u.m.entry),
      )
    ).map((s) => [s.entry.identityHash, s]),
  );
  for (const { m, oldGone } of undo) {
    const o = outcomes.get(m.r.hash);
    const standIn = standIns.get(m.r.hash);
    if (o && (o.status === 'deleted' || o.status === 'not_found') && standIn) {
      commit.moved.push(m.r.hash);
      adoptStandIn(scope, commit, m.r, standIn, 'the next push writes the row to it (or moves it)');
    } else if (o && (o.status === 'deleted' || o.status === 'not_found')) {
      scope.details.movesDeferred = ((scope.details.movesDeferred as number) ?? 0) + 1;
      scope.ctx.log.info(
        `${scope.def.name}: item ${m.entry.itemId} changed or was deleted in SharePoint since the last sync; ` +
          'that change is decided first (conflict policy), and the row moves on the next push',
      );
      commit.moved.push(m.r.hash);
      // An old item deleted in SharePoint is decided with no item, in the list the row routes to: a re-create the
      // policy decides is made there, not in the list the row is leaving (which would be moved again).
      undone.push({
        r: m.r,
        entry: oldGone ? { ...m.entry, listId: m.toListId, itemId: null, eTag: null } : m.entry,
      });
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
  return undone;
}

/**
 * Rows whose undone move had SharePoint's change decided in this page (settleConflicts): those left synced on
 * their old item are parked instead of resolved, so that the next push reads them by key and moves them (with the
 * eTag the decision read). A row the policy parked (MANUAL), deleted or left failed keeps what the decision said.
 */
export function retryDecidedMoves(
  scope: RunScope,
  decided: { r: PushRow; entry: LedgerEntry }[],
  commit: PageCommit,
): void {
  // An old item deleted in SharePoint was decided in the list the row routes to (undoMoves): nothing to move.
  const hashes = new Set(decided.filter((d) => d.entry.itemId !== null).map((d) => d.r.hash));
  if (hashes.size === 0) return;
  const synced = new Set(
    commit.save
      .filter((e) => hashes.has(e.identityHash) && e.state === 'SYNCED' && e.itemId !== null)
      .map((e) => e.identityHash),
  );
  const parkedNow = new Set(commit.park.map((p) => p.hash));
  commit.resolved = commit.resolved.filter((h) => !synced.has(h) || parkedNow.has(h));
  for (const { r } of decided) {
    if (!hashes.has(r.hash) || !synced.has(r.hash) || parkedNow.has(r.hash)) continue;
    const entry = commit.save.find((e) => e.identityHash === r.hash);
    commit.park.push({
      hash: r.hash,
      identity: r.identity,
      itemId: entry?.itemId ?? null,
      error:
        'its item changed in SharePoint while it was moving to another list; that change was decided, and the ' +
        'row moves on the next push',
    });
  }
}

/**
 * Per run: rows whose move the run could not settle (its new item exists, the old item's delete failed), or
 * undid because SharePoint changed or deleted the old item.
 */
const unsettledMoves = new WeakMap<RunScope, Set<string>>();

/**
 * Whether the row waits this run after its move was settled: still in flight (pushing the row now would create
 * its item in the new list a second time), or undone (the pull decides the old item's change before it moves).
 * Its parked retry and the next run go on.
 */
export function moveUnsettled(scope: RunScope, hash: string): boolean {
  return unsettledMoves.get(scope)?.has(hash) ?? false;
}

/** Per run: why a move is held until a user acts (both of the row's items hold an edit); the row's park says it. */
const heldMoves = new WeakMap<RunScope, Map<string, string>>();

/** Why the row's move is held until a user acts, if it is (the row's park carries it, with the next step). */
export function heldMoveReason(scope: RunScope, hash: string): string | undefined {
  return heldMoves.get(scope)?.get(hash);
}

/** Holds a move whose items both hold a user's edit: neither is deleted, and the row waits for the user. */
function hold(scope: RunScope, m: PendingMove, reason: string): void {
  holdMove(scope, m.identityHash);
  let held = heldMoves.get(scope);
  if (!held) heldMoves.set(scope, (held = new Map()));
  held.set(m.identityHash, reason);
  scope.details.movesHeld = held.size;
  scope.ctx.log.warn(`${scope.def.name}: ${reason}`);
}

/** A move of this run whose create's outcome stays unknown: the rest of the run leaves the row alone. */
export function holdMove(scope: RunScope, hash: string): void {
  let held = unsettledMoves.get(scope);
  if (!held) unsettledMoves.set(scope, (held = new Set()));
  held.add(hash);
}

/**
 * A rerun after a crash: moves left in flight. The new item is looked up by the hidden key column in the list
 * the row was moving to. Found: the old item is deleted (If-Match) and the ledger points at the new item, with
 * what the move sent as its base (finishedMove); when SharePoint changed the old item meanwhile, or deleted it
 * before the crashed run could have (the move had not sent its delete), the new item is deleted instead and the
 * ledger stays on the old item, for the pull to decide. Not found: the create never landed, and the move is
 * forgotten. Either way the row is pushed again (its keys are returned).
 */
export async function settlePendingMoves(scope: RunScope): Promise<{ keys: unknown[][]; deferred: number }> {
  const { ctx, def, ledger, target, siteId } = scope;
  const pending = await pendingMoves(ctx.meta, scope.definitionId);
  if (pending.length === 0) return { keys: [], deferred: 0 };
  const entries = await ledger.byIdentities(
    ctx.meta,
    pending.map((m) => m.identityHash),
  );
  const keys: unknown[][] = [];
  const settled: string[] = [];
  const unsettled = unsettledMoves.get(scope) ?? new Set<string>();
  unsettledMoves.set(scope, unsettled);
  const save: LedgerEntry[] = [];
  // Rows pushed again once their move is cleared: parked with the clearing, so a stopped run leaves the retry.
  const retried = new Map<string, Record<string, unknown>>();
  const firstMissed: string[] = [];
  // Moves finished onto a new item edited while they waited: its pull reads it again (see finishedMove).
  const edited: { m: PendingMove; entry: LedgerEntry; itemId: string }[] = [];
  // Moves held because their row was deleted while its new item holds an edit (no row carries their park), and
  // moves of deleted rows settled now (their park, if any, goes).
  const heldGone: { hash: string; itemId: string; reason: string }[] = [];
  const settledGone: string[] = [];
  const settleSeconds = ctx.pendingCreateSettleSeconds ?? PENDING_CREATE_SETTLE_SECONDS;

  let finished = 0;
  let undone = 0;
  let asked = 0;
  let deferred = 0;
  for (const m of pending) {
    const entry = entries.get(m.identityHash);
    const onOld = entry?.listId === m.fromListId && entry.itemId === m.fromItemId;
    // The move's create may still land (a stopped run sent it): as for a pending create, a first miss starts a
    // wait, inside which SharePoint is not asked again and the row is not moved again (push/pendingCreates.ts).
    // Once the old item's delete may have been sent, the create had landed: there is nothing to wait for. A row
    // deleted meanwhile (its entry gone with the old item) waits too: an item landing late would be left behind.
    const createInFlight = !m.deleteSent && (onOld || !entry);
    const next = afterMiss(m, settleSeconds);
    if (createInFlight && next.kind === 'wait') {
      unsettled.add(m.identityHash);
      continue;
    }
    // I16: out of time after a look-up, the rest stay in flight (not moved again this run) for the next run.
    if (asked > 0 && scope.timeLeft() <= 0) {
      unsettled.add(m.identityHash);
      deferred++;
      continue;
    }
    asked++;
    const found = (
      await target
        .findItemsByField(siteId, m.toListId, def.target.keyColumn, m.identityHash)
        .catch((err: unknown) => noItemsIfRetiredGone(scope, m.toListId, err))
    ).sort((a, b) => Number(a.id) - Number(b.id));
    // The ledger already names an item (the move committed, or the row was re-paired): every other copy goes,
    // unless a user edited it (then the move is held: deleting it would lose the edit).
    const keep: ListItem | null = onOld
      ? (found[0] ?? null)
      : (found.find((i) => entry?.listId === m.toListId && i.id === entry.itemId) ?? null);
    const extras = found.filter((i) => i !== keep);
    if (extras.length) {
      const editedExtras = extras.filter((i) => newItemEdited(scope, m, i));
      const gone = await deleteItems(
        scope,
        m.toListId,
        extras.filter((i) => !editedExtras.includes(i)),
      );
      if (editedExtras.length > 0) {
        // Read by key this run: its park carries the reason (push/rows.ts).
        if (entry) keys.push(def.source.key.map((k) => entry.identity[k]));
        else {
          // The row was deleted (its pair with it) while the move waited: no row is read to carry the reason, so
          // the move is parked here, a held move the user sees (status, failures) until the items are dealt with.
          const reason = rowGoneReason(scope, m, editedExtras);
          hold(scope, m, reason);
          heldGone.push({ hash: m.identityHash, itemId: editedExtras[0].id, reason });
          continue;
        }
        hold(scope, m, editedCopiesReason(scope, m, keep, editedExtras));
        continue;
      }
      if (!gone) {
        // A copy changed between the read and its delete (If-Match): the next run looks at it again.
        unsettled.add(m.identityHash);
        continue;
      }
    }
    if (onOld && !keep && entry && m.deleteSent && (await bothItemsGone(scope, m))) {
      // The crashed run deleted the old item, and someone deleted the new one since: the row's item is gone from
      // SharePoint. The pull decides that delete (I8): it re-reads the old item the ledger still names. The row
      // is not pushed again meanwhile (it would move once more and find the old item gone).
      if (!scope.dryRun) await parkGoneMove(scope, m, entry);
      settled.push(m.identityHash);
      continue;
    }
    // As for pending creates, only a run that never finished can have left the create still to land.
    if (createInFlight && !keep && next.kind === 'first') {
      firstMissed.push(m.identityHash);
      unsettled.add(m.identityHash);
      continue;
    }
    if (entry) {
      keys.push(def.source.key.map((k) => entry.identity[k]));
      retried.set(m.identityHash, entry.identity);
    }
    if (!onOld || !keep || !entry) {
      settled.push(m.identityHash);
      if (!entry) settledGone.push(m.identityHash);
      continue;
    }
    scope.assertLockHeld();
    const verdict = await settleLanded(scope, m, entry, keep);
    if (verdict.kind === 'finish') {
      const finishedEntry = finishedMove(scope, m, entry, keep);
      save.push(finishedEntry);
      if (finishedEntry.eTag === UNCONFIRMED_ETAG) edited.push({ m, entry, itemId: keep.id });
      settled.push(m.identityHash);
      finished++;
    } else if (verdict.kind === 'undo') {
      // The new item is deleted only as it was read (If-Match): an edit since holds it for the next run.
      if (await deleteItems(scope, m.toListId, [keep])) {
        settled.push(m.identityHash);
        undone++;
      }
      // Either way the row waits this run: the pull decides the old item's change first (a move now would
      // meet the same answer), or the new item still has to go.
      unsettled.add(m.identityHash);
    } else if (verdict.kind === 'hold') {
      hold(scope, m, verdict.reason);
    } else {
      unsettled.add(m.identityHash);
    }
  }
  if (!scope.dryRun) {
    await inTransaction(ctx.meta, async (client) => {
      await ledger.save(client, save);
      await clearMoves(client, scope.definitionId, settled);
      await markMovesChecked(client, scope.definitionId, firstMissed);
      for (const hash of settled) {
        const identity = retried.get(hash);
        if (!identity) continue;
        await park(client, scope.definitionId, {
          direction: 'PUSH',
          itemKey: hash,
          sourceIdentity: identity,
          error:
            "this row's move between lists was left unfinished; it is settled now and the row is pushed again",
          // Not a failed attempt: the row is pushed again by key, and its success leaves no failure on record.
          waiting: true,
        });
      }
      for (const e of edited) await parkEditedMove(client, scope, e);
      for (const g of heldGone)
        await park(client, scope.definitionId, {
          direction: 'PUSH',
          itemKey: g.hash,
          spItemId: g.itemId,
          error: g.reason,
          waiting: true,
          heldMove: true,
        });
      await resolveRowlessHeldMoves(client, scope.definitionId, settledGone);
      scope.assertLockHeld();
    });
  }
  if (unsettled.size > 0) scope.details.movesUnsettled = unsettled.size;
  scope.counts.processed += finished;
  scope.counts.moved += finished;
  scope.details.movesFinishedAfterCrash = finished;
  scope.details.movesUndoneAfterCrash = undone;
  if (deferred > 0) scope.details.movesLeftUnsettled = deferred;
  return { keys, deferred };
}

type Landed = { kind: 'finish' } | { kind: 'undo' } | { kind: 'wait' } | { kind: 'hold'; reason: string };

/**
 * What to do with a move whose new item (`keep`) landed while the ledger still names the old item. Nothing a user
 * typed into either item is lost (I7):
 * - the old item holds no edit the new one lacks: it is deleted (If-Match) and the move finishes (finishedMove
 *   weighs an edit of the new item against what the move sent);
 * - it holds one (a pull-only value a pull took since, or a change no pull has read yet): the new item is deleted
 *   and the move made again, unless the new item was edited too: then both stay, held for the user;
 * - someone deleted the old item: an edited new item is the one the user kept (the move finishes); an unedited one
 *   goes, and the pull decides that delete (I8);
 * - the old item changed only in its eTag (a save that changed no synced value): deleted with its current eTag.
 */
async function settleLanded(
  scope: RunScope,
  m: PendingMove,
  entry: LedgerEntry,
  keep: ListItem,
): Promise<Landed> {
  const { ctx, def, target, siteId } = scope;
  const edited = newItemEdited(scope, m, keep);
  const stale = staleCarry(scope, m, entry);
  if (stale.length > 0) {
    // A pull applied an edit of the old item since the create left: the new item lacks it, and no push writes
    // those fields (a delete of the old item would lose it).
    if (!edited) {
      ctx.log.info(
        `${def.name}: item ${m.fromItemId} was edited in SharePoint (${stale.join(', ')}) while its move waited; ` +
          'the move is made again with that edit',
      );
      return { kind: 'undo' };
    }
    if ((await readOld(scope, m)) === null) return { kind: 'finish' };
    // Held: the user is asked to delete the item whose edits they do not want. A delete of the old item is then the
    // move's (the pull leaves its tombstone to the push, as for a delete the move sent), not the row's.
    if (!m.deleteSent && !scope.dryRun)
      await markDeleteSent(ctx.meta, scope.definitionId, [m.identityHash], true);
    return { kind: 'hold', reason: bothEditedReason(scope, m, keep) };
  }
  if (!m.deleteSent && !scope.dryRun)
    await markDeleteSent(ctx.meta, scope.definitionId, [m.identityHash], true);
  const [d] = await target.writeItems(siteId, m.fromListId, [
    { kind: 'delete', ref: m.identityHash, itemId: m.fromItemId, eTag: entry.eTag ?? undefined },
  ]);
  // A missing old item is the crashed run's own delete only when that run may have sent it; before, someone
  // else deleted it.
  if (d.status === 'deleted' || (d.status === 'not_found' && m.deleteSent)) return { kind: 'finish' };
  if (d.status === 'not_found') {
    // Gone with a retired list: the delete the move wanted.
    if ((await confirmListStands(scope, m.fromListId)) === 'retired-gone') return { kind: 'finish' };
    return edited ? { kind: 'finish' } : { kind: 'undo' };
  }
  if (d.status === 'precondition_failed') {
    const old = await readOld(scope, m);
    if (old === null) return edited ? { kind: 'finish' } : { kind: 'undo' };
    if (!oldItemChanged(scope, entry, old)) {
      const [again] = await target.writeItems(siteId, m.fromListId, [
        { kind: 'delete', ref: m.identityHash, itemId: m.fromItemId, eTag: old.eTag },
      ]);
      if (again.status === 'deleted' || again.status === 'not_found') return { kind: 'finish' };
      ctx.log.warn(
        `${def.name}: finishing the move of item ${m.fromItemId} failed (${describeFailure(again)}); the next run tries again`,
      );
      return { kind: 'wait' };
    }
    // The pull decides the old item's change first, then the row moves; an edited new item stays meanwhile.
    return edited ? { kind: 'hold', reason: bothEditedReason(scope, m, keep) } : { kind: 'undo' };
  }
  if (d.status === 'rejected' && !m.deleteSent && !scope.dryRun)
    await markDeleteSent(ctx.meta, scope.definitionId, [m.identityHash], false);
  ctx.log.warn(
    `${def.name}: finishing the move of item ${m.fromItemId} failed (${describeFailure(d)}); the next run tries again`,
  );
  return { kind: 'wait' };
}

/** Whether a user edited an item a move created: a value differs from what the move sent (unknown before 026). */
function newItemEdited(scope: RunScope, m: PendingMove, item: ListItem): boolean {
  const sent = m.sentValues;
  if (sent === null) return false;
  const current = fromGraphFields(item.fields, scope.plan.columns);
  return scope.plan.fields.some(
    (f) =>
      Object.prototype.hasOwnProperty.call(sent, f.target) &&
      !canonicalEquals(current[f.target] ?? null, sent[f.target] ?? null),
  );
}

/** Whether the old item holds a value the pull would take that differs from the pair's synced values. */
function oldItemChanged(scope: RunScope, entry: LedgerEntry, old: ListItem): boolean {
  const synced = entry.syncedValues;
  if (synced === null) return true;
  const current = fromGraphFields(old.fields, scope.plan.columns);
  return scope.plan.fields.some(
    (f) =>
      f.pullable &&
      Object.prototype.hasOwnProperty.call(synced, f.target) &&
      !canonicalEquals(current[f.target] ?? null, synced[f.target] ?? null),
  );
}

/** The old item of a move as it is now, or null when it is gone (its list confirmed to stand, I15). */
async function readOld(scope: RunScope, m: PendingMove): Promise<ListItem | null> {
  const old = await scope.target.getItem(scope.siteId, m.fromListId, m.fromItemId, scope.plan.select);
  if (old === null) await confirmListStands(scope, m.fromListId);
  return old;
}

function bothEditedReason(scope: RunScope, m: PendingMove, keep: ListItem): string {
  return (
    `item ${m.fromItemId} in list "${listName(scope, m.fromListId)}" and item ${keep.id} in list ` +
    `"${listName(scope, m.toListId)}", to which this row was moving, were both edited in SharePoint while the move ` +
    'waited; neither is deleted. Delete the item whose edits you do not want (copy any you keep into the other ' +
    'first): the next push settles the move'
  );
}

/** Why a move whose row was deleted meanwhile is held: its new item holds an edit that deleting it would lose. */
function rowGoneReason(scope: RunScope, m: PendingMove, copies: ListItem[]): string {
  const ids = copies.map((i) => i.id).join(', ');
  return (
    `this row was deleted in Postgres while its item moved to list "${listName(scope, m.toListId)}", and the ` +
    `item there (${ids}) was edited in SharePoint since; it is not deleted and not taken for a new row. Copy any ` +
    'edit you keep into a row of your own, then delete the item in SharePoint: the next push settles the move'
  );
}

function editedCopiesReason(
  scope: RunScope,
  m: PendingMove,
  keep: ListItem | null,
  copies: ListItem[],
): string {
  const ids = copies.map((i) => i.id).join(', ');
  return (
    `list "${listName(scope, m.toListId)}" holds extra copies of this row's item (${ids}: a move's create that ` +
    'landed twice) edited in SharePoint since; they are not deleted. Copy any edit you keep into ' +
    (keep ? `item ${keep.id}` : 'the row') +
    ', then delete them: the next push settles the move'
  );
}

/**
 * The pair of a move a rerun finishes, as a pending create's adoption (push/pendingCreates.ts, adoptedEntry): its
 * synced values are what the move sent, and the item's own for the fields the move did not write (SharePoint
 * computes those). An edit made to the new item while the move waited is then a change since the sync: its eTag
 * is left unconfirmed, so the push's If-Match write meets a 412 and the policy decides, and the pull weighs the
 * item against the values sent. Fields the ledger never synced stay out unless the move wrote them: the pull
 * still aligns them (I14). A move recorded before migration 026 (nothing recorded as sent) takes the item's
 * values and eTag.
 */
function finishedMove(scope: RunScope, m: PendingMove, entry: LedgerEntry, keep: ListItem): LedgerEntry {
  const { plan } = scope;
  const current = fromGraphFields(keep.fields, plan.columns);
  const sent = m.sentValues;
  const before = entry.syncedValues;
  const wrote = (t: string) => sent !== null && Object.prototype.hasOwnProperty.call(sent, t);
  const targets = plan.fields
    .map((f) => f.target)
    .filter((t) => wrote(t) || before === null || Object.prototype.hasOwnProperty.call(before, t));
  const values: CanonicalRecord = Object.fromEntries(
    targets.map((t) => [t, wrote(t) ? (sent as CanonicalRecord)[t] : (current[t] ?? null)]),
  );
  const unchanged = !newItemEdited(scope, m, keep);
  return {
    ...entry,
    listId: m.toListId,
    itemId: keep.id,
    eTag: unchanged ? keep.eTag : UNCONFIRMED_ETAG,
    syncedValues: values,
    contentHash: contentHash(values),
    provenance: 'PUSH',
    state: 'SYNCED',
    spModifiedAt: keep.lastModifiedDateTime,
  };
}

/**
 * Targets the push never writes (pull-only) whose synced value changed since the move's create left: a pull applied
 * an edit of the old item meanwhile ("an edit of the old item is applied as usual", pull/applyPage.ts). Finishing the
 * move would delete the only item holding it, and record the new item's older value as synced (lost edit). Fields
 * the push writes need nothing: Postgres holds the pulled value, and the push after the move writes it. A move
 * recorded before migration 026 (nothing recorded as sent) has nothing to compare.
 */
function staleCarry(scope: RunScope, m: PendingMove, entry: LedgerEntry): string[] {
  const sent = m.sentValues;
  if (sent === null) return [];
  const pushed = new Set(scope.plan.toSharePoint);
  const synced = entry.syncedValues ?? {};
  return scope.plan.fields
    .map((f) => f.target)
    .filter(
      (t) =>
        !pushed.has(t) &&
        Object.prototype.hasOwnProperty.call(sent, t) &&
        !canonicalEquals(sent[t] ?? null, synced[t] ?? null),
    );
}

/**
 * A new item edited while its move waited is parked for its list's pull: a pull during the wait left it to the
 * push (pull/claims.ts) and its delta has read past that edit, which would otherwise reach Postgres only with the
 * item's next change.
 */
async function parkEditedMove(
  db: PoolClient,
  scope: RunScope,
  e: { m: PendingMove; entry: LedgerEntry; itemId: string },
): Promise<void> {
  await park(db, scope.definitionId, {
    direction: 'PULL',
    itemKey: `${e.m.toListId}/${e.itemId}`,
    sourceIdentity: e.entry.identity,
    spItemId: e.itemId,
    error:
      `item ${e.itemId}, into which a stopped run moved this row, was edited in SharePoint while the move waited; ` +
      'the pull reads it again to weigh that edit against the values the move sent',
  });
}

/**
 * Deletes items a move left behind (duplicates by the hidden key, or the new item of a move undone), each only as
 * it was read (If-Match): one edited since stays. True when all are gone.
 */
async function deleteItems(scope: RunScope, listId: string, items: ListItem[]): Promise<boolean> {
  if (items.length === 0) return true;
  scope.assertLockHeld();
  const outcomes = await scope.target.writeItems(
    scope.siteId,
    listId,
    items.map((i) => ({ kind: 'delete' as const, ref: i.id, itemId: i.id, eTag: i.eTag })),
  );
  await confirmListsOfNotFound(scope, listId, outcomes);
  return outcomes.every((o) => o.status === 'deleted' || o.status === 'not_found');
}

/** Whether the old item of a move whose new item is gone is gone too (one read). */
async function bothItemsGone(scope: RunScope, m: PendingMove): Promise<boolean> {
  const old = await scope.target.getItem(scope.siteId, m.fromListId, m.fromItemId, [
    scope.def.target.keyColumn,
  ]);
  if (old === null) await confirmListStands(scope, m.fromListId);
  return old === null;
}

/** Hands a row whose items are both gone to the pull, as an item to read again (its parked retry queue). */
async function parkGoneMove(scope: RunScope, m: PendingMove, entry: LedgerEntry): Promise<void> {
  await park(scope.ctx.meta, scope.definitionId, {
    direction: 'PULL',
    itemKey: `${m.fromListId}/${m.fromItemId}`,
    sourceIdentity: entry.identity,
    spItemId: m.fromItemId,
    error:
      `the row's item was moving to list ${m.toListId} when a run stopped; its new item was deleted in SharePoint ` +
      'since, so the next pull decides that delete',
  });
}
