import { identityOf } from '../canonical';
import { PageSizer } from '../budget/pageSizer';
import { keysetCursor, type KeysetPosition } from '../cursor/timestampCursor';
import { readCursor } from '../store/cursors';
import { dueFailures, notDueItemKeys, resolveParked } from '../store/failures';
import { settleNullKeys } from './identity';
import { keyOf } from './plan';
import { withRun, type RunOptions, type RunScope } from './runner';
import type { EngineContext, RunSummary } from './types';
import { holdBackParked, pushRows, settlePendingCreates } from './push/rows';
import { reconcileDeletes } from './push/deletes';
import { leaveCapture, parseLsnCursor, runLsnCapture } from '../capture/lsn';
import { settlePendingMoves } from './push/moves';
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
    const retryKeys = [...(await settlePendingCreates(scope)), ...(await settlePendingMoves(scope))];
    const due = await dueFailures(ctx.meta, definitionId, 'PUSH');
    await settleNullKeys(scope, due);
    retryKeys.push(
      ...due
        .filter((f) => f.sourceIdentity)
        .map((f) => def.source.key.map((k) => (f.sourceIdentity as Record<string, unknown>)[k])),
    );
    if (retryKeys.length) {
      const rows = await source.readByKeys(retryKeys);
      const found = new Set(rows.map((r) => identityOf(def.source.key, r.values, scope.plan.keyKinds).hash));
      const vanished = due.filter((f) => f.sourceIdentity && !found.has(f.itemKey)).map((f) => f.itemKey);
      if (!scope.dryRun) await resolveParked(ctx.meta, definitionId, 'PUSH', vanished);
      for (let i = 0; i < rows.length; i += def.source.pageSize)
        await pushRows(scope, rows.slice(i, i + def.source.pageSize), null);
      scope.details.retried = rows.length;
    }

    if (def.source.cursor.type === 'LSN') return runLsnCapture(scope);
    const stored = await readCursor(ctx.meta, definitionId, 'SOURCE');
    // Switched from LSN: the slot is dropped and the whole table compared with the ledger (nothing rewritten).
    const switched = stored?.value && parseLsnCursor(stored.value) ? await leaveCapture(scope) : false;
    const position = stored?.value && !switched ? keysetCursor.parse(def.name, stored.value) : null;
    // Start the overlap window behind the cursor: late commits with older timestamps are read again (I5b).
    let since: string | null = null;
    if (position) {
      const { rows } = await scope.sourcePool.query<{ since: string }>(
        `SELECT ($1::timestamptz - make_interval(secs => $2))::text AS since`,
        [position.ts, def.source.overlapSeconds],
      );
      since = rows[0].since;
      // A parked row the overlap window reads again at a version already pushed waits for its retry (I5c).
      holdBackParked(scope, await notDueItemKeys(ctx.meta, definitionId, 'PUSH'), position.ts);
    }
    const total = ctx.onProgress ? await source.countSince(since) : null;
    let from: { after: KeysetPosition } | { since: string } | null = since ? { since } : null;
    let done = 0;
    const pages = new PageSizer(def.source.pageSize, scope.timeLeft());
    for (;;) {
      const pageStarted = Date.now();
      const pageRows = pages.rows;
      const rows = await source.readPage(from, pageRows);
      if (rows.length === 0) break;
      const read = { kind: 'page' as const, rows: rows.length, ms: Date.now() - pageStarted };
      ctx.onProgress?.({
        runType: 'PUSH',
        definition: def.name,
        done,
        total,
        throttleWaitMs: 0,
        trace: read,
      });
      const last = rows[rows.length - 1];
      const next: KeysetPosition = { ts: last.cursor as string, key: keyOf(def, last.values) };
      // Never move the stored cursor backwards when re-reading the overlap window.
      const keep = position && (await isBefore(scope, next, position));
      await pushRows(scope, rows, keep ? null : next);
      done += rows.length;
      ctx.onProgress?.({
        runType: 'PUSH',
        definition: def.name,
        done,
        total,
        throttleWaitMs: scope.target.stats().throttleWaitMs,
      });
      if (rows.length < pageRows) break;
      pages.record(rows.length, Date.now() - pageStarted);
      from = { after: next };
      // The page and its cursor are committed: a run out of time stops here and the next one resumes (I16).
      if (scope.timeLeft() <= 0) {
        scope.stopIncomplete('time budget spent');
        // For `status`: rows at or after the cursor (the overlap re-reads a few; an estimate).
        scope.details.rowsLeft = await source.countSince(next.ts);
        return;
      }
    }
    // Switched from LSN: deletes made since the slot's last read are found by one full comparison now.
    await reconcileDeletes(scope, { force: switched });
  });
}

async function isBefore(scope: RunScope, a: KeysetPosition, b: KeysetPosition): Promise<boolean> {
  const { rows } = await scope.sourcePool.query<{ before: boolean }>(
    'SELECT $1::timestamptz < $2::timestamptz AS before',
    [a.ts, b.ts],
  );
  return rows[0].before;
}
