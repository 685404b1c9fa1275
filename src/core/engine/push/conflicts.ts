/** Rows whose write met a concurrent SharePoint change (412) or a deleted row met an edited item (I7, I8). */
import { CanonicalValueError, contentHash, fromGraphFields, identityOf } from '../../canonical';
import { KeyMatchError } from '../../source/postgres/keys';
import { StepValueError } from '../../transform/steps';
import { recordConflict, supersedeConflict, type ConflictRecord } from '../../store/conflicts';
import type { LedgerEntry } from '../../store/ledger';
import { appliedNothing, type ListItem, type WriteOp } from '../../target/sharepoint';
import { decideAligned } from '../alignment';
import { rowToCanonical } from '../plan';
import { agreedEntry } from '../transform';
import { type PairDecision } from '../reconcile';
import { type RunScope } from '../runner';
import {
  adoptStandIn,
  type PushRow,
  type PageCommit,
  syncedEntry,
  inSourceTx,
  parkEntry,
  writtenETag,
} from './page';
import { graphFields, applyToPostgres, revivedFields, RecreatedKeyError } from './writes';
import { knownRefusal, pushFailureMessage } from './refusals';
import { awaitSettle } from './pendingCreates';
import { confirmListStands, confirmListsOfNotFound } from '../listGone';
import { assertUnchangedLocked, RowChangedError } from '../pull/pageRows';
import { standingCopies } from '../standIns';

/**
 * One outcome per row (processed = created + updated + deleted + skipped + conflicts + failed): a row whose
 * write met a conflict counts as a conflict however the policy settled it; its resolving write is not
 * counted again. A write that failed counts as failed.
 */
export function countSettled(
  scope: RunScope,
  decision: Pick<PairDecision, 'conflict'>,
  outcome: 'created' | 'updated' | 'deleted' | 'skipped' | 'conflicts',
): void {
  scope.counts[decision.conflict ? 'conflicts' : outcome]++;
}

/**
 * A refusal of one row's values (I12): a key matching other than one row (I13), a re-created row given another key, a value outside an enum, a
 * SharePoint value a transform step cannot undo, or Postgres's own refusal of the value (SQLSTATE classes 22 and
 * 23: too long, out of range, a CHECK, NOT NULL, a foreign key, a unique key). The row is parked; the run goes on.
 */
export function isRowRefusal(err: unknown): boolean {
  if (
    err instanceof KeyMatchError ||
    err instanceof CanonicalValueError ||
    err instanceof StepValueError ||
    err instanceof RecreatedKeyError
  )
    return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code);
}

/** A row to settle; `recorded`: the conflict record of a first decision whose write met the item deleted since. */
interface Unsettled {
  r: PushRow;
  entry: LedgerEntry;
  recorded?: string;
}

/**
 * Settles rows whose write met a concurrent SharePoint change (412) or a missing item: read the item,
 * decide under the policy (I7), record the conflict, then write both sides as decided. `again`: the second pass
 * for items deleted between that read and that write, with the rows read again (settleDeletedMeanwhile).
 */
export async function settleConflicts(
  scope: RunScope,
  items: Unsettled[],
  commit: PageCommit,
  again = false,
): Promise<void> {
  const { plan, def, target, siteId, listId } = scope;
  const ops: WriteOp[] = [];
  const pending = new Map<
    string,
    { r: PushRow; entry: LedgerEntry; decision: PairDecision; item: ListItem | null; recorded?: string }
  >();
  for (const { r: read, entry: stored, recorded: before } of items) {
    const item = stored.itemId ? await target.getItem(siteId, listId, stored.itemId) : null;
    // I15: an item not found decides a delete below only once its list is known to stand.
    if (stored.itemId && !item) await confirmListStands(scope, listId);
    // A copy of the item stands (a user moved it by hand): it takes the pair's place instead of the row meeting a
    // delete, as the pull lets it (standIns.ts standingCopies); the next push reads the row again and writes it to
    // the copy, whose eTag it does not know: the policy then weighs both sides.
    const [standIn] = stored.itemId && !item && !again ? await standingCopies(scope, [stored]) : [];
    if (standIn) {
      if (before) await supersedeConflict(scope.ctx.meta, scope.definitionId, before, null);
      adoptStandIn(scope, commit, read, standIn, 'the next push writes the row to it');
      continue;
    }
    const sp = item ? fromGraphFields(item.fields, plan.columns) : null;
    // Sides a stopped backfill left agreeing under the current pipelines are in sync (I6, I14): that is the base,
    // and the row is read through it, as the pull does; otherwise SharePoint's value would look like an edit.
    const entry = sp ? agreedEntry(plan.fields, stored, read.row.values, sp) : stored;
    // The row is read again through that entry even when nothing agreed: the page read it with SharePoint unknown,
    // which let a Postgres edit pass for the current pipeline's output of an unchanged value (I7). A second pass's
    // row was read from the table just now.
    const reread = again || entry !== stored || !!stored.sourceValues;
    let r: PushRow = read;
    if (reread) {
      try {
        r = {
          ...read,
          values: rowToCanonical(plan, read.row.values, entry),
          pairs: entry.sourceValues ?? null,
        };
      } catch (err) {
        // A value of the row read again with no canonical form (I12): the row is parked, as the page would park it.
        if (!isRowRefusal(err)) throw err;
        if (before) await supersedeConflict(scope.ctx.meta, scope.definitionId, before, null);
        scope.counts.failed++;
        commit.park.push({
          hash: read.hash,
          identity: read.identity,
          itemId: stored.itemId,
          error: (err as Error).message,
        });
        continue;
      }
    }
    const decision = decideAligned(plan, def, {
      base: entry.syncedValues,
      postgres: r.values,
      sharepoint: sp,
      postgresModifiedAt: r.row.cursor,
      sharepointModifiedAt: item?.lastModifiedDateTime ?? null,
    });
    // A write SharePoint's columns say it will refuse (a text longer than its column holds, I12) is not sent, and
    // nothing of the decision is applied: the row is parked as the push parks it, naming the field, the column, the
    // limit and the next step. The item's write may carry fields the page's write did not (a re-created item carries
    // every field): a column narrowed under a synced value is met here.
    const refusal = knownRefusal(plan, r.identity, settleWrite(scope, decision, item));
    if (refusal !== null) {
      if (before) await supersedeConflict(scope.ctx.meta, scope.definitionId, before, null);
      scope.counts.failed++;
      commit.park.push({ hash: r.hash, identity: r.identity, itemId: entry.itemId, error: refusal });
      continue;
    }
    let recorded: string | undefined;
    const conflict: ConflictRecord | null = decision.conflict
      ? {
          runId: scope.runId,
          identityHash: r.hash,
          identity: r.identity,
          itemId: entry.itemId,
          detectedBy: 'PUSH',
          policy: def.conflictPolicy,
          base: entry.syncedValues,
          postgres: r.values,
          sharepoint: sp,
          outcome: decision.outcome,
          resolvedValues: decision.outcome === 'PARKED' ? null : decision.synced,
          status: decision.outcome === 'PARKED' ? 'OPEN' : 'RESOLVED',
          reason: decision.reason,
          fields: decision.conflictFields,
        }
      : null;
    // The first decision's record gives way to this one (or goes, when this is no conflict): its write never landed.
    if (before)
      recorded = (await supersedeConflict(scope.ctx.meta, scope.definitionId, before, conflict)) ?? undefined;
    else if (conflict) recorded = await recordConflict(scope.ctx.meta, scope.definitionId, conflict);
    if (decision.outcome === 'PARKED') {
      countSettled(scope, decision, 'conflicts');
      commit.resolved.push(r.hash);
      continue;
    }
    if (decision.postgres.kind !== 'none') {
      try {
        await inSourceTx(scope, async (client) => {
          // Decided on the row the page read: an edit committed since (an application's, during this push's write
          // and read of the item) would be overwritten, or its row deleted, with the ledger saying both sides agree.
          await assertUnchangedLocked(scope, client, r.key, r.row);
          return applyToPostgres(scope, client, r.key, r.identity, decision);
        });
      } catch (err) {
        if (err instanceof RowChangedError) {
          // Nothing written on either side, and no conflict on record for a decision that did not hold: the row's
          // next read (its cursor moved with the edit; the park retries it whatever the cursor) decides it again.
          if (recorded) await supersedeConflict(scope.ctx.meta, scope.definitionId, recorded, null);
          scope.counts.skipped++;
          commit.park.push({
            hash: r.hash,
            identity: r.identity,
            itemId: entry.itemId,
            error: err.message,
            waiting: true,
          });
          continue;
        }
        // A row-level refusal (I13 key matching other than one row, a value outside an enum, a SharePoint value a
        // transform step cannot undo) parks this row.
        if (!isRowRefusal(err)) throw err;
        scope.counts.failed++;
        commit.park.push({
          hash: r.hash,
          identity: r.identity,
          itemId: entry.itemId,
          // Postgres's refusal, or one toPgParam makes for it naming the column (too long, out of range, not a label).
          error:
            typeof (err as { code?: unknown }).code === 'string' ||
            (err instanceof CanonicalValueError && err.pgColumn !== undefined)
              ? `Postgres refuses the values decided for this row (${decision.reason}): ${(err as Error).message}`
              : (err as Error).message,
        });
        continue;
      }
    }
    const sa = decision.sharepoint;
    // The item of an ORPHANED entry whose row is back loses its soft-delete flag, whatever else is written (I8).
    const revived = revivedFields(scope, entry);
    const reviving = Object.keys(revived).length > 0 && !!item && !!decision.synced;
    if ((sa.kind === 'write' || (sa.kind === 'none' && reviving)) && item) {
      ops.push({
        kind: 'update',
        ref: r.hash,
        itemId: item.id,
        eTag: item.eTag,
        fields: { ...(sa.kind === 'write' ? graphFields(scope, sa.values) : {}), ...revived },
      });
    } else if (sa.kind === 'recreate') {
      ops.push({
        kind: 'create',
        ref: r.hash,
        fields: { ...graphFields(scope, sa.values), [def.target.keyColumn]: r.hash },
        adoptBy: { field: def.target.keyColumn, value: r.hash },
      });
    } else if (sa.kind === 'delete' && item) {
      ops.push({ kind: 'delete', ref: r.hash, itemId: item.id, eTag: item.eTag });
    }
    pending.set(r.hash, { r, entry, decision, item, recorded });
    if (!ops.some((op) => op.ref === r.hash)) countSettled(scope, decision, 'skipped');
    if (sa.kind === 'none' && !reviving) {
      if (decision.synced && item)
        commit.save.push(syncedEntry(scope, r, item.id, item.eTag, decision.synced, r.row.cursor, 'PULL'));
      else if (!decision.synced && decision.postgres.kind === 'delete' && def.deletes.pull === 'IGNORE')
        // SharePoint's delete won and deletes.pull IGNORE keeps the row: its entry holds it (ITEM_DELETED), as the
        // pull's does, or the row looked new and its next edit created the item again (I8).
        commit.save.push({ ...entry, state: 'ITEM_DELETED' });
      else if (!decision.synced) commit.remove.push(r.hash);
      commit.resolved.push(r.hash);
    }
  }
  scope.assertLockHeld();
  // I6: a re-create is recorded as pending before it leaves, as every create is: a stop after it is sent leaves
  // the next run an entry to settle, instead of a pair naming the gone item (whose update would re-create again).
  const recreates = ops.flatMap((op) => {
    const p = op.kind === 'create' ? pending.get(op.ref) : undefined;
    return p
      ? [
          {
            ...p.entry,
            itemId: null,
            eTag: null,
            syncedValues: p.decision.synced,
            contentHash: null,
            state: 'PENDING_CREATE' as const,
            listId,
          },
        ]
      : [];
  });
  await scope.ledger.save(scope.ctx.meta, recreates);
  const outcomes = ops.length ? await target.writeItems(siteId, listId, ops) : [];
  await confirmListsOfNotFound(scope, listId, outcomes);
  const updates = new Set(ops.filter((op) => op.kind === 'update').map((op) => op.ref));
  // Items deleted in SharePoint between the read above and the write: no delete of ours applied, the row is still
  // there (and may carry an edit): a delete against it, decided again under the policy (I8), once.
  const deletedMeanwhile: Unsettled[] = [];
  for (const o of outcomes) {
    const p = pending.get(o.ref);
    if (!p) continue;
    if (o.status === 'not_found' && updates.has(o.ref) && !again) {
      deletedMeanwhile.push({ r: p.r, entry: p.entry, recorded: p.recorded });
    } else if ((o.status === 'created' || o.status === 'updated') && p.decision.synced) {
      const itemId = o.status === 'created' ? o.itemId : (p.item?.id as string);
      countSettled(scope, p.decision, o.status);
      commit.save.push(
        syncedEntry(
          scope,
          p.r,
          itemId,
          writtenETag(scope.plan, o, p.decision.synced),
          p.decision.synced,
          p.r.row.cursor,
          'PUSH',
        ),
      );
      commit.resolved.push(o.ref);
    } else if (o.status === 'deleted' || (o.status === 'not_found' && !updates.has(o.ref))) {
      countSettled(scope, p.decision, 'deleted');
      commit.remove.push(o.ref);
      commit.resolved.push(o.ref);
    } else {
      scope.counts.failed++;
      // A refused re-create left nothing: its pending entry goes. Any other failure may have made the item: the
      // entry stays PENDING_CREATE for the next run's settle.
      if (p.decision.sharepoint.kind === 'recreate') {
        if (appliedNothing(o)) commit.remove.push(o.ref);
        else {
          // It may still land: the rest of the run leaves the row alone, and its wait starts now (rows.ts).
          awaitSettle(scope, o.ref);
          commit.unknown.push(o.ref);
        }
      }
      commit.park.push({
        hash: o.ref,
        identity: p.r.identity,
        itemId: p.entry.itemId,
        error:
          o.status === 'precondition_failed'
            ? 'SharePoint item kept changing while resolving a conflict'
            : pushFailureMessage(scope, p.r.identity, o),
      });
    }
  }
  if (deletedMeanwhile.length) await settleDeletedMeanwhile(scope, deletedMeanwhile, commit);
}

/** The fields a settle's decision writes to SharePoint (an update of the item read, or a re-create), or none. */
function settleWrite(
  scope: RunScope,
  decision: PairDecision,
  item: ListItem | null,
): Record<string, unknown> {
  const sa = decision.sharepoint;
  if ((sa.kind === 'write' && item) || sa.kind === 'recreate') return graphFields(scope, sa.values);
  return {};
}

/**
 * The second pass for items deleted between the settle's read and its write: decided again with the item gone
 * (sharepoint null: a delete against an edit, I8) and with each row as it is now, not as the page read it: the
 * first decision may have written SharePoint's values into it, and it may have been edited since. A row deleted
 * meanwhile too is gone on both sides. The first decision's conflict record gives way to the second's.
 */
async function settleDeletedMeanwhile(scope: RunScope, rows: Unsettled[], commit: PageCommit): Promise<void> {
  const { def, plan } = scope;
  const now = new Map(
    (await scope.source.readByKeys(rows.map((u) => u.r.key))).map((row) => [
      identityOf(def.source.key, row.values, plan.keyKinds).hash,
      row,
    ]),
  );
  const present: Unsettled[] = [];
  for (const u of rows) {
    const row = now.get(u.r.hash);
    if (row) {
      present.push({ ...u, r: { ...u.r, row } });
      continue;
    }
    if (u.recorded) await supersedeConflict(scope.ctx.meta, scope.definitionId, u.recorded, null);
    scope.counts.deleted++;
    commit.remove.push(u.r.hash);
    commit.resolved.push(u.r.hash);
  }
  if (present.length) await settleConflicts(scope, present, commit, true);
}

/** What became of a delete that met a 412 (settleDeleteConflict). */
export type DeleteSettled = 'held' | 'parked' | 'settled';

/**
 * The row was deleted in Postgres while its item's eTag moved in SharePoint (a 412): a conflict when the item's
 * mapped values changed too (I8, I7). A decision to follow the delete applies the definition's push delete policy
 * (SOFT flags the item, IGNORE keeps it: neither deletes it); a decision to bring the row back that Postgres refuses
 * (I12) is held as an open conflict naming the refusal, recorded once. Returns what became of the delete: `held` by
 * an open conflict (its tombstone stays), `parked` for a retry (the park carries it), or `settled`.
 */
export async function settleDeleteConflict(
  scope: RunScope,
  e: LedgerEntry,
  commit: PageCommit,
  deletedAt: string | null = null,
): Promise<DeleteSettled> {
  const { target, siteId, listId, plan, def } = scope;
  const item = await target.getItem(siteId, listId, e.itemId as string);
  if (!item) {
    await confirmListStands(scope, listId);
    scope.counts.deleted++; // gone on both sides
    commit.remove.push(e.identityHash);
    return 'settled';
  }
  const sp = fromGraphFields(item.fields, plan.columns);
  const decision = decideAligned(plan, def, {
    base: e.syncedValues,
    postgres: null,
    sharepoint: sp,
    // The delete's time when its tombstone says (LAST_WRITER_WINS, I7); a sweep-found delete has none and loses.
    postgresModifiedAt: deletedAt,
    sharepointModifiedAt: item.lastModifiedDateTime,
  });
  const record = (status: 'OPEN' | 'RESOLVED', outcome: string, reason: string): Promise<string> =>
    recordConflict(scope.ctx.meta, scope.definitionId, {
      runId: scope.runId,
      identityHash: e.identityHash,
      identity: e.identity,
      itemId: e.itemId,
      detectedBy: 'PUSH',
      policy: def.conflictPolicy,
      base: e.syncedValues,
      postgres: null,
      sharepoint: sp,
      outcome,
      resolvedValues: status === 'OPEN' ? null : decision.synced,
      status,
      // The policy's reason names the delete already (conflict/resolve.ts), except for a refusal's.
      reason: reason.startsWith('deleted in Postgres')
        ? reason
        : `deleted in Postgres, edited in SharePoint: ${reason}`,
      fields: decision.conflictFields,
    });
  // An eTag moved by a change of no mapped field is no conflict: the delete policy applies as it would have.
  if (decision.outcome === 'PARKED') {
    await record('OPEN', decision.outcome, decision.reason);
    scope.counts.conflicts++;
    return 'held';
  }
  if (decision.sharepoint.kind === 'delete') {
    if (decision.conflict) await record('RESOLVED', decision.outcome, decision.reason);
    return applyDeletePolicy(scope, e, item, decision, commit);
  }
  if (decision.postgres.kind === 'recreate' && decision.synced) {
    const key = def.source.key.map((k) => e.identity[k]);
    try {
      await inSourceTx(scope, (client) => applyToPostgres(scope, client, key, e.identity, decision));
    } catch (err) {
      if (!isRowRefusal(err)) throw err;
      // The policy's decision cannot be applied: the pair is held as an open conflict (one record, updated if seen
      // again), so neither side changes and the delete is not tried again until someone resolves it.
      const refusal = `Postgres refuses to bring the row back (${decision.reason}): ${(err as Error).message}`;
      await record('OPEN', 'PARKED', refusal);
      scope.counts.failed++;
      commit.park.push({ hash: e.identityHash, identity: e.identity, itemId: e.itemId, error: refusal });
      return 'held';
    }
    if (decision.conflict) await record('RESOLVED', decision.outcome, decision.reason);
    countSettled(scope, decision, 'created');
    commit.save.push({
      ...e,
      eTag: item.eTag,
      syncedValues: decision.synced,
      contentHash: contentHash(decision.synced),
      provenance: 'PULL',
    });
    return 'settled';
  }
  if (decision.conflict) await record('RESOLVED', decision.outcome, decision.reason);
  countSettled(scope, decision, 'skipped');
  return 'settled';
}

/**
 * The push delete policy (I8) for an item read just now: PROPAGATE deletes it, SOFT flags it (both If-Match on the
 * eTag read), IGNORE keeps it. The entry of a kept item becomes ORPHANED; a write that fails parks the row.
 */
async function applyDeletePolicy(
  scope: RunScope,
  e: LedgerEntry,
  item: ListItem,
  decision: PairDecision,
  commit: PageCommit,
): Promise<DeleteSettled> {
  const { target, siteId, listId, def } = scope;
  const soft = def.deletes.push === 'SOFT' ? def.deletes.pushSoftColumn : undefined;
  if (def.deletes.push !== 'PROPAGATE' && !soft) {
    countSettled(scope, decision, 'skipped'); // IGNORE: the item stays
    commit.save.push({ ...e, eTag: item.eTag, state: 'ORPHANED' });
    return 'settled';
  }
  scope.assertLockHeld();
  const op: WriteOp = soft
    ? { kind: 'update', ref: e.identityHash, itemId: item.id, eTag: item.eTag, fields: { [soft]: true } }
    : { kind: 'delete', ref: e.identityHash, itemId: item.id, eTag: item.eTag };
  const [o] = await target.writeItems(siteId, listId, [op]);
  // A 404 from a list that is gone is no delete (I15): the run stops before anything is decided from it.
  await confirmListsOfNotFound(scope, listId, [o]);
  if (o.status === 'deleted' || o.status === 'not_found') {
    countSettled(scope, decision, 'deleted');
    commit.remove.push(e.identityHash);
    return 'settled';
  }
  if (o.status === 'updated') {
    countSettled(scope, decision, 'deleted');
    commit.save.push({ ...e, eTag: writtenETag(scope.plan, o, e.syncedValues ?? {}), state: 'ORPHANED' });
    return 'settled';
  }
  // Parked, the delete is retried by the park's own schedule (push.ts); its tombstone is not kept (deletes.ts).
  parkEntry(scope, commit, e, o);
  return 'parked';
}
