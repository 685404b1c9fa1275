import { identityOf } from '../canonical';
import { dueFailures, resolveParked } from '../store/failures';
import { settleNullKeys } from './identity';
import { withRun, type RunOptions } from './runner';
import type { EngineContext, RunSummary } from './types';
import { pushRetried } from './push/rows';
import { settlePendingCreates } from './push/pendingCreates';
import { runLsnCapture } from '../capture/lsn';
import { pushSinceCursor } from './push/timestamp';
import { settlePendingMoves } from './push/moves';
import { applyPushDeletes, isLive } from './push/deletes';
import { settleInsertIntents } from './pull/intents';
import { IDLE_PROBE_TRIGGERS, idleSummary, probeIdle } from './idle';

/**
 * Push: Postgres → SharePoint for one definition. Order: settle creates and moves a crashed run left in flight (I6),
 * retry parked rows (I5c), read pages after the cursor minus the overlap window (I5a, I5b), then reconcile
 * deletes (I8).
 */
export async function runPush(
  ctx: EngineContext,
  definitionName: string,
  opts: RunOptions,
): Promise<RunSummary> {
  // A scheduled push of a quiet table costs one query and no Graph request (I18).
  if (!opts.dryRun && !opts.full && IDLE_PROBE_TRIGGERS.has(opts.trigger)) {
    const started = Date.now();
    const verdict = await probeIdle(ctx, definitionName);
    if (verdict?.idle) return idleSummary(definitionName, started, verdict);
  }
  return withRun(ctx, definitionName, 'PUSH', opts, async (scope) => {
    const { def, source, definitionId } = scope;
    // Rows a stopped pull inserted without recording them are paired first, or they would be pushed as new (I6).
    const settled = await settleInsertIntents(scope);
    if (settled) scope.details.settledInserts = settled;
    const creates = await settlePendingCreates(scope);
    const moves = await settlePendingMoves(scope);
    // I16: out of time among the look-ups, the run stops before its retries and pages (the rows of the creates
    // and moves settled are parked, still due).
    if (creates.deferred + moves.deferred > 0) {
      scope.stopIncomplete('time budget spent settling creates and moves left in flight');
      return;
    }
    const retryKeys = [...creates.keys, ...moves.keys];
    const due = await dueFailures(ctx.meta, definitionId, 'PUSH');
    await settleNullKeys(scope, due);
    retryKeys.push(
      ...due
        .filter((f) => f.sourceIdentity)
        .map((f) => def.source.key.map((k) => (f.sourceIdentity as Record<string, unknown>)[k])),
    );
    if (retryKeys.length) {
      // A row settled above is also parked (its retry kept): each key is read once.
      const keys = [...new Map(retryKeys.map((k) => [JSON.stringify(k), k])).values()];
      const rows = await source.readByKeys(keys);
      const found = new Set(rows.map((r) => identityOf(def.source.key, r.values, scope.plan.keyKinds).hash));
      const vanished = due.filter((f) => f.sourceIdentity && !found.has(f.itemKey)).map((f) => f.itemKey);
      // A retried row found gone whose pair is live has its item deleted here (the push delete policy, I8); a
      // delete that fails parks it again, and its park stays until then: a stop before the delete leaves it for the
      // next run. LSN reads a row's delete from the slot once, and a tombstone or the sweep need not find the row
      // again, so a delete that failed (its row parked) or one read while the row's create waited (the item adopted
      // since, push/pendingCreates.ts) would otherwise never be sent again.
      const adoptedGone = creates.adopted
        .filter((e) => !found.has(e.identityHash))
        .map((e) => e.identityHash);
      const gone = await scope.ledger.byIdentities(ctx.meta, [...new Set([...vanished, ...adoptedGone])]);
      const pairs = [...gone.values()].filter(isLive);
      const live = new Set(pairs.map((e) => e.identityHash));
      await applyPushDeletes(scope, pairs);
      if (!scope.dryRun)
        await resolveParked(
          ctx.meta,
          definitionId,
          'PUSH',
          vanished.filter((h) => !live.has(h)),
        );
      for (let i = 0; i < rows.length; i += def.source.pageSize) {
        // I16: retries spend the run's budget as pages do. Out of time, the run stops before its pages; the rows
        // not retried keep their parks, still due, for the continuation.
        if (i > 0 && scope.timeLeft() <= 0) {
          scope.details.retried = i;
          scope.stopIncomplete('time budget spent retrying parked rows');
          return;
        }
        await pushRetried(scope, rows.slice(i, i + def.source.pageSize), null);
      }
      scope.details.retried = rows.length;
    }

    if (def.source.cursor.type === 'LSN') return runLsnCapture(scope);
    return pushSinceCursor(scope);
  });
}
