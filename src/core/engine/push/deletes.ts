/** Rows gone from the table while their items remain: the push delete policy (I8). */
import { identityOf } from '../../canonical';
import { openConflictIdentities } from '../../store/conflicts';
import type { LedgerEntry } from '../../store/ledger';
import type { WriteOp } from '../../target/sharepoint';
import { type RunScope } from '../runner';
import { newCommit, commitPage, parkEntry } from './page';
import { settleDeleteConflict } from './conflicts';

/** Rows found in the ledger but no longer in the table: the push delete policy (I8). */
export async function reconcileDeletes(scope: RunScope, opts: { force?: boolean } = {}): Promise<void> {
  const { ctx, def, ledger, source, plan } = scope;
  const { rows: due } = await ctx.meta.query<{ due: boolean }>(
    `SELECT coalesce(max(deletes_checked_at) < now() - make_interval(secs => $2), true) AS due
       FROM arcore.sync_cursors WHERE definition_id = $1 AND scope = 'SOURCE'`,
    [scope.definitionId, def.deletes.checkIntervalSeconds],
  );
  if (!opts.force && def.deletes.checkIntervalSeconds > 0 && !due[0].due) return;
  if (!scope.dryRun)
    await ctx.meta.query(
      `INSERT INTO arcore.sync_cursors (definition_id, scope, cursor_type, deletes_checked_at) VALUES ($1, 'SOURCE', 'TIMESTAMP', now())
     ON CONFLICT (definition_id, scope) DO UPDATE SET deletes_checked_at = now()`,
      [scope.definitionId],
    );
  const [rowCount, ledgerCount] = await Promise.all([source.count(), ledger.count(ctx.meta)]);
  scope.details.reconciled = rowCount !== ledgerCount;
  if (rowCount === ledgerCount) return;
  let after = '';
  for (;;) {
    const batch = await ledger.batchAfter(ctx.meta, after, 1000);
    if (batch.length === 0) break;
    after = batch[batch.length - 1].identityHash;
    const live = batch.filter((e) => e.state === 'SYNCED' && e.itemId);
    const rows = await source.readByKeys(live.map((e) => def.source.key.map((k) => e.identity[k])));
    const present = new Set(rows.map((r) => identityOf(def.source.key, r.values, plan.keyKinds).hash));
    const gone = live.filter((e) => !present.has(e.identityHash));
    if (gone.length === 0) continue;
    await applyPushDeletes(scope, gone);
  }
}

/**
 * Items whose rows are gone from Postgres (found by the reconcile pass, or by change data capture): the push
 * delete policy (I8), one commit.
 */
export async function applyPushDeletes(scope: RunScope, gone: LedgerEntry[]): Promise<void> {
  if (gone.length === 0) return;
  const { ctx, def, target, siteId, listId } = scope;
  const parked = await openConflictIdentities(
    ctx.meta,
    scope.definitionId,
    gone.map((e) => e.identityHash),
  );
  const commit = newCommit();
  const ops: WriteOp[] = [];
  const byRef = new Map<string, LedgerEntry>();
  for (const e of gone) {
    scope.counts.processed++;
    if (parked.has(e.identityHash)) {
      scope.counts.skipped++; // MANUAL: neither side changes until the conflict is resolved
      continue;
    }
    byRef.set(e.identityHash, e);
    if (def.deletes.push === 'PROPAGATE') {
      ops.push({
        kind: 'delete',
        ref: e.identityHash,
        itemId: e.itemId as string,
        eTag: e.eTag ?? undefined,
      });
    } else if (def.deletes.push === 'SOFT' && def.deletes.pushSoftColumn) {
      ops.push({
        kind: 'update',
        ref: e.identityHash,
        itemId: e.itemId as string,
        eTag: e.eTag ?? undefined,
        fields: { [def.deletes.pushSoftColumn]: true },
      });
    } else {
      scope.counts.skipped++; // IGNORE: the item stays
      commit.save.push({ ...e, state: 'ORPHANED' });
    }
  }
  scope.assertLockHeld();
  const outcomes = ops.length ? await target.writeItems(siteId, listId, ops) : [];
  for (const o of outcomes) {
    const e = byRef.get(o.ref) as LedgerEntry;
    if (o.status === 'deleted' || o.status === 'not_found') {
      scope.counts.deleted++;
      commit.remove.push(o.ref);
    } else if (o.status === 'updated') {
      scope.counts.deleted++;
      commit.save.push({ ...e, eTag: o.eTag, state: 'ORPHANED' });
    } else if (o.status === 'precondition_failed') {
      await settleDeleteConflict(scope, e, commit);
    } else {
      parkEntry(scope, commit, e, o);
    }
  }
  await commitPage(scope, commit, null);
}
