/** Pushing a set of source rows: decide against the ledger, batch the writes, commit with the cursor (I5, I6, I10). */
import { identityOf, type CanonicalRecord } from '../../canonical';
import { type KeysetPosition } from '../../cursor/timestampCursor';
import type { SourceRow } from '../../source/postgres/PostgresSource';
import { openConflictIdentities, refreshOpenConflicts } from '../../store/conflicts';
import { readCursor, readListCursor } from '../../store/cursors';
import type { LedgerEntry } from '../../store/ledger';
import { appliedNothing, type WriteOp, type WriteOutcome } from '../../target/sharepoint';
import { forListId } from '../routing';
import {
  finishMoves,
  heldMoveReason,
  holdMove,
  moveFields,
  moveUnsettled,
  planMove,
  recordMoveIntents,
  retryDecidedMoves,
  writeByListUntilStopped,
  type Move,
} from './moves';
import { pushPlanFor, unalignedFields } from '../alignment';
import {
  firstSharedPark,
  NULL_KEY_ITEM,
  nullKeyMessage,
  splitDuplicateIdentities,
  splitSharedKeys,
} from '../identity';
import { keyOf, rowToCanonical, type FieldPlan } from '../plan';
import { agreedEntry } from '../transform';
import { decidePair, type PairDecision } from '../reconcile';
import { type RunScope } from '../runner';
import {
  type PageCommit,
  type PushRow,
  newCommit,
  identityRecord,
  syncedEntry,
  commitPage,
  createdSynced,
  createdAsSent,
  writtenETag,
  responseFields,
} from './page';
import { createFields, graphFields, revivedFields } from './writes';
import { knownRefusal, pushFailureMessage } from './refusals';
import { settleConflicts } from './conflicts';
import { isBefore } from './cursorValues';
import { Slices } from '../slices';
import { groupBy } from '../../groupBy';
import { markMovesChecked } from '../../store/moves';
import { awaitSettle, awaitsSettle, pendingCreateEntry } from './pendingCreates';

/**
 * The plan to push a pair with: fields mapped since the pair last synced are left to the pull's alignment
 * unless the push is their only writer (I14). Whether the list was already read with every mapped field is
 * asked once per run, and only when some pair needs it.
 */
async function pushPlan(
  scope: RunScope,
  base: CanonicalRecord | null,
  values: CanonicalRecord,
): Promise<FieldPlan> {
  if (unalignedFields(scope.plan, base).length === 0) return scope.plan;
  if (scope.listReadWithAllFields === undefined) {
    // Routed: every list must have been read with every mapped field.
    let all = true;
    for (const list of scope.lists) {
      const cursor = scope.route
        ? await readListCursor(scope.ctx.meta, scope.definitionId, list.listId)
        : await readCursor(scope.ctx.meta, scope.definitionId, 'TARGET');
      const carried = new Set(cursor?.value ? (cursor.fingerprint?.select ?? []) : []);
      all &&= cursor?.fingerprint?.listId === list.listId && scope.plan.select.every((f) => carried.has(f));
    }
    scope.listReadWithAllFields = all;
  }
  return pushPlanFor(scope.plan, base, values, {
    pullEnabled: scope.def.pull.enabled,
    listReadWithAllFields: scope.listReadWithAllFields,
  });
}

/**
 * Per run: the row versions (identity hash and cursor value) its retry step considered. Only those: the page loop
 * reads in keyset order and never meets one version twice, so remembering its rows too would hold an entry per
 * row of the table until the run ends (~150 bytes each: 150 MB in a first push of 1,000,000 rows). Every version
 * is kept, not the last per hash: two rows with one key (a view, I13) are two versions of one hash, and both were
 * parked by the retry step.
 */
const retriedVersions = new WeakMap<RunScope, Set<string>>();

const versionOf = (hash: string, cursor: string | null): string => `${hash}\u0000${cursor ?? ''}`;

/** How many row versions the run remembers having considered (its retried rows). */
export function rememberedVersions(scope: RunScope): number {
  return retriedVersions.get(scope)?.size ?? 0;
}

/**
 * A retried parked row is read again by the page loop when it lies in the overlap window: the same version
 * is considered (and counted) once per run. A version changed since (a new cursor value) is pushed again.
 */
function consideredBefore(scope: RunScope, hash: string, cursor: string | null): boolean {
  return retriedVersions.get(scope)?.has(versionOf(hash, cursor)) ?? false;
}

function rememberRetried(scope: RunScope, page: PreparedPage): void {
  let seen = retriedVersions.get(scope);
  if (!seen) retriedVersions.set(scope, (seen = new Set()));
  for (const p of page.rows) if ('hash' in p) seen.add(versionOf(p.hash, p.row.cursor));
}

/** Per run: rows parked before it, not yet due, and the stored cursor the run started from. */
const heldBack = new WeakMap<RunScope, { hashes: Set<string>; before: string }>();

export function holdBackParked(scope: RunScope, hashes: Set<string>, before: string): void {
  if (hashes.size > 0) heldBack.set(scope, { hashes, before });
}

/**
 * A parked row whose retry is not due, read again at a version not after the stored cursor (the overlap
 * window): an earlier run already tried that version, so this run leaves it to its retry instead of failing it
 * again (a run is PARTIAL only for what it parked). A row changed since has a newer cursor and is pushed.
 */
async function waitsForRetry(scope: RunScope, hash: string, cursor: string | null): Promise<boolean> {
  const held = heldBack.get(scope);
  if (!held?.hashes.has(hash) || cursor === null) return false;
  return isBefore(scope, cursor, held.before, true);
}

/** A row of a page read ahead of its push: identity and canonical values, or why it has none (I12, I13). */
export type PreparedRow =
  | { row: SourceRow; identity: Record<string, unknown>; keyError: string }
  | { row: SourceRow; identity: Record<string, unknown>; hash: string; ready: PushRow | string };

/**
 * A page's rows canonicalised, with nothing of the run touched: no count, no ledger read. This is the part of a
 * page that can run while the page before is still being written (issue 23.1).
 */
export interface PreparedPage {
  rows: PreparedRow[];
  /** Identities of the rows whose key is usable: what the ledger is asked about. */
  hashes: string[];
}

export async function preparePage(scope: RunScope, rows: SourceRow[]): Promise<PreparedPage> {
  const { def, plan } = scope;
  const out: PreparedRow[] = [];
  const hashes: string[] = [];
  // Read ahead while the page before is written: in slices, so that page's answers are not kept waiting.
  const slices = new Slices();
  for (const row of rows) {
    await slices.next();
    const identity = identityRecord(scope, row.values);
    let hash: string;
    try {
      hash = identityOf(def.source.key, row.values, plan.keyKinds).hash;
    } catch (err) {
      out.push({ row, identity, keyError: (err as Error).message });
      continue;
    }
    hashes.push(hash);
    try {
      const values = rowToCanonical(plan, row.values);
      out.push({ row, identity, hash, ready: { row, key: keyOf(def, row.values), identity, hash, values } });
    } catch (err) {
      // A value with no canonical form (I12): this row is parked when its page is pushed.
      out.push({ row, identity, hash, ready: `row ${JSON.stringify(identity)}: ${(err as Error).message}` });
    }
  }
  return { rows: out, hashes };
}

/** What the metadata store knows of a page's rows: ledger entries, and rows held by an open MANUAL conflict. */
export interface PageLookup {
  entries: Map<string, LedgerEntry>;
  parked: Set<string>;
}

export async function lookupPage(scope: RunScope, hashes: string[]): Promise<PageLookup> {
  const [entries, parked] = await Promise.all([
    scope.ledger.byIdentities(scope.ctx.meta, hashes),
    openConflictIdentities(scope.ctx.meta, scope.definitionId, hashes),
  ]);
  return { entries, parked };
}

/**
 * Pushes rows the run retries (parked rows due, creates and moves a crashed run left in flight): one ledger query,
 * batched writes, one commit with the cursor (I5, I10). Their versions are remembered for the rest of the run,
 * so that the overlap window does not consider them again.
 */
export async function pushRetried(
  scope: RunScope,
  rows: SourceRow[],
  cursor: KeysetPosition | null,
): Promise<void> {
  const page = await preparePage(scope, rows);
  await pushPrepared(scope, page, cursor);
  rememberRetried(scope, page);
}

/**
 * Pushes a prepared page: counts its rows, decides each against the ledger, batches the writes and commits the
 * page with its cursor (I5c). `lookup`, when the page was looked up ahead, must cover its rows as the ledger
 * holds them now: the caller looks up again any row the page before it (still in flight then) also carried.
 */
export async function pushPrepared(
  scope: RunScope,
  page: PreparedPage,
  cursor: KeysetPosition | null,
  lookup?: PageLookup,
): Promise<void> {
  await commitPage(scope, await writePrepared(scope, page, lookup), cursor);
}

/**
 * The writes of a prepared page (creates recorded as pending first, I6), and what its commit must record: the
 * caller commits it (commitPage) with the page's cursor, in page order (I5c).
 */
export async function writePrepared(
  scope: RunScope,
  page: PreparedPage,
  lookup?: PageLookup,
): Promise<PageCommit> {
  const { def, plan, ledger, listId, ctx } = scope;
  const commit = newCommit();
  const prepared: PushRow[] = [];
  // Versions met on this page: a row read twice within one set of retried rows counts once.
  const onThisPage = new Map<string, string | null>();
  for (const p of page.rows) {
    const { row } = p;
    if ('keyError' in p) {
      scope.counts.processed++;
      scope.counts.failed++;
      const nullKey = def.source.key.some((k) => row.values[k] === null || row.values[k] === undefined);
      commit.park.push({
        hash: nullKey ? NULL_KEY_ITEM : `unusable-key:${p.keyError}`,
        identity: null,
        itemId: null,
        error: nullKey ? nullKeyMessage(def.source.key, row.values) : p.keyError,
      });
      continue;
    }
    const { hash } = p;
    // An LSN run reads a row again when it changed again: a change that left the cursor alone must not be
    // taken for the version already considered.
    if (def.source.cursor.type === 'TIMESTAMP') {
      const seen = onThisPage.has(hash) && onThisPage.get(hash) === row.cursor;
      if (seen || consideredBefore(scope, hash, row.cursor)) continue;
      onThisPage.set(hash, row.cursor);
    }
    scope.counts.processed++;
    if (await waitsForRetry(scope, hash, row.cursor)) {
      scope.counts.skipped++;
      continue;
    }
    if (typeof p.ready === 'string') {
      scope.counts.failed++;
      commit.park.push({ hash, identity: p.identity, itemId: null, error: p.ready });
    } else prepared.push(p.ready);
  }
  // I13: two different rows with one key are parked, neither written; the same row read twice counts once.
  // A view's rows are checked against the whole view too: the other row may be on another page.
  const split = splitDuplicateIdentities(prepared);
  const { unique, shared } = await splitSharedKeys(scope, split.unique, split.duplicates);
  for (const d of [...split.duplicates, ...shared]) {
    scope.counts.failed += d.rows.length;
    if (firstSharedPark(scope, d.hash))
      commit.park.push({ hash: d.hash, identity: d.identity, itemId: null, error: d.message });
  }
  const { entries, parked } =
    lookup ??
    (await lookupPage(
      scope,
      unique.map((p) => p.hash),
    ));
  const ops: { listId: string; op: WriteOp }[] = [];
  const byRef = new Map<
    string,
    {
      r: PushRow;
      entry: LedgerEntry | undefined;
      decision: PairDecision | null;
      listId: string;
      /** A create's values as its pending entry recorded them (I6). */
      sent?: CanonicalRecord | null;
    }
  >();
  const pendingCreates: LedgerEntry[] = [];
  const moves = new Map<string, Move>();
  const slices = new Slices();
  const heldNow: { identityHash: string; values: CanonicalRecord }[] = [];
  for (const r of unique) {
    await slices.next();
    const entry = entries.get(r.hash);
    // With its ledger entry, a transformed field Postgres has not changed keeps its synced value (I3); so does one
    // whose transform was removed since (its pair stays, transform.ts pipelinesOf).
    if (entry?.sourceValues) {
      try {
        // A Postgres value a stopped pull backfill wrote, as the current pull pipeline gives it, is in sync (I6).
        const through = agreedEntry(plan.fields, entry, r.row.values, null);
        r.values = rowToCanonical(plan, r.row.values, through);
        r.pairs = through.sourceValues;
      } catch {
        // Unreachable in practice (the same values mapped above); the values read through the pipelines stand.
      }
    }
    if (parked.has(r.hash)) {
      scope.counts.skipped++; // MANUAL: neither side changes until the conflict is resolved
      heldNow.push({ identityHash: r.hash, values: r.values }); // what the conflict shows (refreshOpenConflicts)
      continue;
    }
    // Routed: the row's list is its first matching route; no route and no default: not synced.
    const routed = scope.route ? scope.route(r.values, r.row.values) : null;
    if (scope.route && !routed) {
      // A row synced before keeps its item (nothing is deleted for a rule); a new one is recorded as UNROUTED.
      scope.counts.unrouted++;
      commit.resolved.push(r.hash);
      if (!entry) commit.save.push(unroutedEntry(r));
      continue;
    }
    const rowList = routed?.listId ?? listId;
    if (moveUnsettled(scope, r.hash)) {
      // Its earlier move is not finished: a later run settles it first. The cursor may pass the row meanwhile, so
      // it is parked: pushed again by key once the move is settled (its entry may be gone: a row deleted and
      // inserted again while the move waited). Each run of the wait parks it again, not as a failed attempt.
      scope.counts.skipped++;
      const held = heldMoveReason(scope, r.hash);
      commit.park.push({
        hash: r.hash,
        identity: r.identity,
        itemId: entry?.itemId ?? null,
        error:
          held ??
          'its move to another list is not settled yet (a create a stopped run sent may still land); pushed again once it is',
        waiting: true,
        heldMove: held !== undefined,
      });
      continue;
    }
    // A pair revived (ORPHANED: its row deleted under SOFT or IGNORE, then inserted again) that routes elsewhere now
    // moves too: written in its old list, it stayed there, and the cursor passed the row.
    if (
      (entry?.state === 'SYNCED' || entry?.state === 'ORPHANED') &&
      entry.itemId &&
      entry.listId !== rowList &&
      scope.route
    ) {
      const move = await planMove(scope, r, entry, rowList);
      const fields = moveFields(scope, move);
      if (refusedUnsent(scope, commit, r, entry, rowList, fields)) continue; // no move recorded: the old item stays
      moves.set(r.hash, move);
      ops.push({
        listId: rowList,
        op: { kind: 'create', ref: r.hash, fields, adoptBy: { field: def.target.keyColumn, value: r.hash } },
      });
      continue;
    }
    if (entry?.state === 'PENDING_CREATE' && awaitsSettle(scope, r.hash)) {
      scope.counts.skipped++; // an earlier run's create may still land: a later run settles it (pendingCreates.ts)
      continue;
    }
    if (entry?.state === 'ITEM_DELETED') {
      // Its item was deleted in SharePoint and the pull kept the row (deletes.pull IGNORE, I8): creating it again
      // would undo that delete. The item restored from the recycle bin, a full resync pushing, or the row deleted
      // and inserted again brings it back.
      scope.counts.skipped++;
      commit.resolved.push(r.hash);
      // Routed to another list now: there is no item to move, so the entry follows the route with no item id (as
      // relink keeps such an entry): a full resync re-creates the item where the row routes, also when its old list
      // is routed to no more; an old item restored in a list the pull still reads is adopted by its hidden key.
      if (scope.route && entry.listId !== rowList)
        commit.save.push({ ...entry, listId: rowList, itemId: null, eTag: null });
      continue;
    }
    if ((!entry || !entry.itemId) && pullSoftDeleted(scope, r)) {
      // Its item was deleted in SharePoint and the pull kept the row, flagged (deletes.pull SOFT, I8): creating
      // it again would undo that delete. Cleared, the flag brings the row back as a new item.
      scope.counts.skipped++;
      commit.resolved.push(r.hash);
      continue;
    }
    if (!entry || entry.state === 'PENDING_CREATE' || !entry.itemId) {
      const fields = createFields(scope, r.values, r.hash);
      if (refusedUnsent(scope, commit, r, entry, rowList, fields)) continue;
      ops.push({
        listId: rowList,
        op: { kind: 'create', ref: r.hash, fields, adoptBy: { field: def.target.keyColumn, value: r.hash } },
      });
      const pending = pendingCreateEntry({
        identityHash: r.hash,
        identity: r.identity,
        listId: rowList,
        sent: createdSynced(plan, r.values, null),
        lastSourceTs: r.row.cursor,
      });
      byRef.set(r.hash, { r, entry, decision: null, listId: rowList, sent: pending.syncedValues });
      pendingCreates.push(pending);
      continue;
    }
    // Without reading SharePoint (I10), assume it still holds the synced values; If-Match proves it.
    const decision = decidePair(await pushPlan(scope, entry.syncedValues, r.values), def, {
      base: entry.syncedValues,
      postgres: r.values,
      sharepoint: entry.syncedValues,
    });
    // A row back for an ORPHANED entry (deleted under SOFT or IGNORE, inserted again) revives its pair: the pull
    // skipped the item's changes meanwhile, and under SOFT it still says it is deleted (I8). Its values are written
    // even if unchanged, with If-Match: an item edited while orphaned meets a 412 and is settled as any pair.
    const orphaned = entry.state === 'ORPHANED';
    const fields = {
      ...(decision.sharepoint.kind === 'write'
        ? graphFields(scope, decision.sharepoint.values)
        : orphaned
          ? graphFields(scope, r.values)
          : {}),
      ...revivedFields(scope, entry),
    };
    if (Object.keys(fields).length === 0) {
      scope.counts.skipped++; // unchanged, or an echo of a pull (I3)
      if (orphaned) commit.save.push({ ...entry, state: 'SYNCED', lastSourceTs: r.row.cursor });
      commit.resolved.push(r.hash);
      continue;
    }
    if (refusedUnsent(scope, commit, r, entry, entry.listId, fields)) continue;
    ops.push({
      listId: entry.listId,
      op: { kind: 'update', ref: r.hash, itemId: entry.itemId, eTag: entry.eTag ?? undefined, fields },
    });
    byRef.set(r.hash, { r, entry, decision, listId: entry.listId });
  }
  // A dry run writes nothing to the metadata store (dryRun.ts).
  if (!scope.dryRun) await refreshOpenConflicts(ctx.meta, scope.definitionId, 'postgres', heldNow);

  // I6: the intent to create (or move) is durable before the request leaves.
  scope.assertLockHeld();
  await ledger.save(ctx.meta, pendingCreates);
  await recordMoveIntents(scope, [...moves.values()]);
  // I16: stopped by the time budget mid-page, the page keeps what its batches did (commitPage, without its cursor).
  const { outcomes, stop } = await writeByListUntilStopped(scope, ops);
  if (stop) commit.stopped = stop;
  const conflicts: { r: PushRow; entry: LedgerEntry }[] = [];
  const movedIn: { m: Move; o: WriteOutcome & { status: 'created' } }[] = [];
  for (const o of outcomes.values()) {
    await slices.next();
    if (o.status === 'failed' && o.stopped) {
      // Stopped by the time budget: not a failure of the row, which the next run reads again (the cursor stays
      // before this page; a retried row keeps its park). Never sent: its pending create or move is forgotten (no
      // look-up next run). Sent with its outcome unknown: its entry or move stays as recorded, for the next run's
      // settle, as after a crash (I6).
      if (appliedNothing(o)) {
        const entry = byRef.get(o.ref)?.entry;
        if (moves.has(o.ref)) commit.moved.push(o.ref);
        else if (byRef.has(o.ref) && (!entry || entry.state === 'PENDING_CREATE')) commit.remove.push(o.ref);
      }
      continue;
    }
    const m = moves.get(o.ref);
    if (m) {
      if (o.status === 'created') movedIn.push({ m, o });
      else {
        // Refused, nothing was created: the move is forgotten and the row retried (the old item is untouched).
        // Any other failure may have created the new item: the move stays recorded for the next run's settle,
        // and the rest of this run leaves the row alone.
        scope.counts.failed++;
        if (appliedNothing(o)) commit.moved.push(o.ref);
        else {
          holdMove(scope, o.ref);
          commit.movesUnknown.push(o.ref);
        }
        commit.park.push({
          hash: o.ref,
          identity: m.r.identity,
          itemId: m.entry.itemId,
          error: `moving the item to list ${m.toListId}: ${pushFailureMessage(scope, m.r.identity, o)}`,
        });
      }
      continue;
    }
    const x = byRef.get(o.ref);
    if (!x) continue;
    const { r, entry, decision } = x;
    switch (o.status) {
      case 'created': {
        scope.counts.created++;
        const returned = responseFields(o);
        // As sent: the values the pending entry recorded (createdSynced of the same values), not built again.
        const asSent = createdAsSent(plan, returned);
        const synced = asSent && x.sent ? x.sent : createdSynced(plan, r.values, returned);
        const saved = syncedEntry(
          scope,
          r,
          o.itemId,
          writtenETag(plan, o, synced),
          synced,
          r.row.cursor,
          'PUSH',
          o.lastModifiedDateTime ?? null,
        );
        saved.listId = x.listId;
        commit.save.push(saved);
        if (asSent) commit.confirms.add(saved);
        commit.resolved.push(r.hash);
        break;
      }
      case 'updated': {
        scope.counts.updated++;
        const synced = decision?.synced ?? r.values;
        commit.save.push({
          ...syncedEntry(
            scope,
            r,
            entry?.itemId as string,
            writtenETag(plan, o, synced),
            synced,
            r.row.cursor,
            'PUSH',
          ),
          listId: x.listId,
        });
        commit.resolved.push(r.hash);
        break;
      }
      case 'not_found':
        if (entry?.state === 'ORPHANED') {
          // The orphaned item was deleted in SharePoint while its row was gone: the row that came back is a new
          // row, not one whose item SharePoint deleted (which would delete it from Postgres, I8). Its entry goes
          // and it is parked: the next push creates its item (the list stands: writeByList confirmed it, I15). Not a
          // failure: nothing went wrong, the create is only left to the next run.
          scope.counts.skipped++;
          commit.remove.push(r.hash);
          commit.park.push({
            hash: r.hash,
            identity: r.identity,
            itemId: null,
            error:
              `its row came back, but item ${entry.itemId} (kept when the row was deleted) was deleted in ` +
              'SharePoint meanwhile: the next push creates a new item',
            waiting: true,
          });
          break;
        }
        if (entry) conflicts.push({ r, entry });
        break;
      case 'precondition_failed':
        if (entry) conflicts.push({ r, entry });
        break;
      default:
        scope.counts.failed++;
        // A refused create left nothing. Any other failed create (its outcome unknown after the retries, an
        // answer that could not be read) may have made the item: its entry stays PENDING_CREATE, and the next
        // run's settle adopts the item or, after its wait, creates it (I6, pendingCreates.ts).
        if (!entry || entry.state === 'PENDING_CREATE') {
          if (appliedNothing(o)) commit.remove.push(r.hash);
          else {
            awaitSettle(scope, r.hash);
            commit.unknown.push(r.hash);
          }
        }
        commit.park.push({
          hash: r.hash,
          identity: r.identity,
          itemId: entry?.itemId ?? null,
          error: pushFailureMessage(scope, r.identity, o),
        });
    }
  }
  // Their waits start now, not at the page's commit: a page that fails before its commit would lose them, and its
  // run, finishing, would let the next one create those items again at once.
  await markUnknownOutcomes(scope, commit);
  // Stopped: moves whose new item was created and rows that met a changed item are left to the next run (its
  // settle finishes the moves; the page is read again), which has the time for their Graph requests.
  if (commit.stopped) return commit;
  // A move whose old item SharePoint changed meanwhile is undone, and that change decided as any 412 is.
  const movesMet = movedIn.length ? await finishMoves(scope, movedIn, commit) : [];
  conflicts.push(...movesMet);
  for (const [entryList, group] of groupBy(conflicts, (c) => c.entry.listId)) {
    await settleConflicts(forListId(scope, entryList), group, commit);
    await markUnknownOutcomes(scope, commit); // before another list's settling can fail
  }
  retryDecidedMoves(scope, movesMet, commit);
  return commit;
}

/**
 * A write SharePoint's columns (those of `listId`, where it goes) say it will refuse (refusals.ts knownRefusal) is not
 * sent (I12): the row is parked as
 * a refused write is, with no Graph write spent, and the rest of its page goes. A create's pending entry left by an
 * earlier run, whose create did not land (its settle is done), goes, as after a refused create. True when refused.
 */
function refusedUnsent(
  scope: RunScope,
  commit: PageCommit,
  r: PushRow,
  entry: LedgerEntry | undefined,
  listId: string,
  fields: Record<string, unknown>,
): boolean {
  const plan =
    listId === scope.listId ? scope.plan : (scope.lists.find((l) => l.listId === listId)?.plan ?? scope.plan);
  const refusal = knownRefusal(plan, r.identity, fields);
  if (refusal === null) return false;
  scope.counts.failed++;
  if (entry?.state === 'PENDING_CREATE') commit.remove.push(r.hash);
  commit.park.push({ hash: r.hash, identity: r.identity, itemId: entry?.itemId ?? null, error: refusal });
  return true;
}

/** Creates and moves' creates of unknown outcome: their waits start (only the first mark counts). */
async function markUnknownOutcomes(scope: RunScope, commit: PageCommit): Promise<void> {
  if (scope.dryRun) return;
  // A run that lost its lock leaves the marks to the run that holds it (I11): it settles these entries itself.
  scope.assertLockHeld();
  await scope.ledger.markPendingChecked(scope.ctx.meta, commit.unknown);
  await markMovesChecked(scope.ctx.meta, scope.definitionId, commit.movesUnknown);
}

/** The ledger entry of a row no route matches: it counts as a row of the table, with no list and no item. */
function unroutedEntry(r: PushRow): LedgerEntry {
  return {
    identityHash: r.hash,
    identity: r.identity,
    listId: '',
    itemId: null,
    eTag: null,
    syncedValues: null,
    contentHash: null,
    provenance: null,
    state: 'UNROUTED',
    lastSourceTs: r.row.cursor,
    spModifiedAt: null,
  };
}

/** The row carries the pull's soft-delete flag (deletes.pull SOFT): its item was deleted in SharePoint. */
function pullSoftDeleted(scope: RunScope, r: PushRow): boolean {
  const { deletes } = scope.def;
  return deletes.pull === 'SOFT' && !!deletes.pullSoftColumn && r.row.values[deletes.pullSoftColumn] === true;
}
