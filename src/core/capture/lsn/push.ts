/** The push of an LSN definition: the table's changes from its replication slot (docs/design.md, I17). */
import { identityOf } from '../../canonical';
import type { LedgerEntry } from '../../store/ledger';
import { readInstallationId } from '../../store/installation';
import { applyPushDeletes, isLive, reconcileDeletes } from '../../engine/push/deletes';
import { pushRows } from '../../engine/push/rows';
import { keyOf } from '../../engine/plan';
import type { RunScope } from '../../engine/runner';
import { foldTransactions, type CapturedTransaction } from './changes';
import { readLsnCursor, writeLsnCursor, type LsnCursor } from './cursor';
import { lsnNames, type LsnNames } from './names';
import { parseLsn } from './pgoutput';
import {
  advanceSlot,
  assertReplicaIdentity,
  createSlot,
  dropSlot,
  ensurePublication,
  peekChanges,
  SlotLostError,
} from './slot';
import { applyTruncate } from './truncates';

/** The names of the definition's slot, publication and origin. */
export async function namesFor(scope: Pick<RunScope, 'ctx' | 'definitionId' | 'def'>): Promise<LsnNames> {
  return lsnNames(await readInstallationId(scope.ctx.meta), scope.definitionId, scope.def.name);
}

/**
 * A new slot, then the table's current rows (the load), then the slot's changes: a change made during the
 * load is in both and is applied once, because the second look finds the ledger already holding it.
 */
async function startCapture(scope: RunScope, names: LsnNames, reason: string): Promise<LsnCursor> {
  const { def, sourcePool } = scope;
  await assertReplicaIdentity(sourcePool, def.name, def.source.schema, def.source.table, def.source.key);
  await ensurePublication(sourcePool, def.name, names, def.source.schema, def.source.table);
  await dropSlot(sourcePool, names.slot);
  const lsn = await createSlot(sourcePool, def.name, names.slot);
  const cursor: LsnCursor = { lsn, load: { after: null, reason } };
  await writeLsnCursor(scope.ctx.meta, scope.definitionId, cursor);
  scope.ctx.log.info(
    `${def.name}: replication slot "${names.slot}" created at ${lsn}; loading the table (${reason})`,
  );
  return cursor;
}

/** Loads the table's rows in key order through the normal push path; false when the time budget ran out. */
async function load(scope: RunScope, cursor: LsnCursor): Promise<boolean> {
  const { def, source } = scope;
  const state = cursor.load;
  if (!state) return true;
  scope.details.captureLoad = state.reason;
  let after = state.after;
  let loaded = 0;
  for (;;) {
    const rows = await source.readKeyPage(after, def.source.pageSize);
    if (rows.length > 0) {
      await pushRows(scope, rows, null);
      loaded += rows.length;
      after = keyOf(def, rows[rows.length - 1].values);
      if (!scope.dryRun)
        await writeLsnCursor(scope.ctx.meta, scope.definitionId, { ...cursor, load: { ...state, after } });
    }
    scope.details.loadedRows = loaded;
    if (rows.length < def.source.pageSize) break;
    if (scope.timeLeft() <= 0) {
      scope.stopIncomplete('time budget spent while loading the table');
      return false;
    }
  }
  // Rows deleted before the load (while the slot was lost, or before a switch from TIMESTAMP).
  await reconcileDeletes(scope, { force: true });
  if (!scope.dryRun) await writeLsnCursor(scope.ctx.meta, scope.definitionId, { ...cursor, load: null });
  return true;
}

/** Rows of the touched keys are pushed as they are now; keys no longer in the table are deletes. */
async function applyKeys(scope: RunScope, textKeys: (string | null)[][]): Promise<void> {
  const { def, source, ledger, plan, ctx } = scope;
  const seen = new Set<string>();
  const unique = textKeys.filter((k) => {
    const id = JSON.stringify(k);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  for (let i = 0; i < unique.length; i += def.source.pageSize) {
    const keys = await source.normalizeKeys(unique.slice(i, i + def.source.pageSize));
    const rows = await source.readByKeys(keys);
    if (rows.length > 0) await pushRows(scope, rows, null);
    const present = new Set(rows.map((r) => identityOf(def.source.key, r.values, plan.keyKinds).hash));
    const missing: string[] = [];
    for (const k of keys) {
      const values: Record<string, unknown> = {};
      def.source.key.forEach((name, j) => (values[name] = k[j]));
      const hash = identityOf(def.source.key, values, plan.keyKinds).hash;
      if (!present.has(hash)) missing.push(hash);
    }
    const entries = await ledger.byIdentities(ctx.meta, missing);
    const gone: LedgerEntry[] = [...entries.values()].filter(isLive);
    await applyPushDeletes(scope, gone);
  }
}

/**
 * Moves the slot past applied transactions. The stored copy is written first: a copy ahead of the slot only
 * means the next run re-reads changes it will find already applied.
 */
async function confirm(scope: RunScope, names: LsnNames, lsn: string): Promise<void> {
  if (scope.dryRun) return;
  scope.assertLockHeld();
  await writeLsnCursor(scope.ctx.meta, scope.definitionId, { lsn, load: null });
  await advanceSlot(scope.sourcePool, names.slot, lsn);
}

/**
 * Applies transactions in commit order, confirming the slot after each group is committed (I5c): first the
 * keys' rows and deletes, then the slot. A TRUNCATE ends a group; under PARK it stops the run. Returns false
 * when the run must stop.
 */
async function applyTransactions(
  scope: RunScope,
  names: LsnNames,
  txns: CapturedTransaction[],
): Promise<boolean> {
  let keys: (string | null)[][] = [];
  let keyless = false;
  let lastEnd: string | null = null;
  const flush = async () => {
    if (keys.length > 0) await applyKeys(scope, keys);
    if (keyless) await reconcileDeletes(scope, { force: true });
    if (lastEnd) await confirm(scope, names, lastEnd);
    keys = [];
    keyless = false;
    lastEnd = null;
  };
  for (const txn of txns) {
    if (txn.origin === names.origin) {
      // Our own pull's write (I3): nothing to push.
      scope.details.ownWritesSkipped = ((scope.details.ownWritesSkipped as number) ?? 0) + txn.keys.length;
      lastEnd = txn.endLsn;
      continue;
    }
    if (txn.truncated) {
      await flush();
      if (!(await applyTruncate(scope, txn))) return false;
    }
    keys.push(...txn.keys);
    keyless ||= txn.keylessDelete;
    lastEnd = txn.endLsn;
  }
  await flush();
  return true;
}

/** How long a second look waits for the server to flush WAL it had only written (the WAL writer's default cycle). */
const WAL_FLUSH_WAIT_MS = 250;

/**
 * A peek; when it finds nothing but the server had not flushed up to the position it stopped at (asynchronous
 * commits), a second look at the same WAL once it has, so that an idle run can still confirm the position.
 */
async function peekSettled(scope: RunScope, names: LsnNames): ReturnType<typeof peekChanges> {
  const { def, sourcePool } = scope;
  const peek = (upto: string | null) =>
    peekChanges(sourcePool, names, def.source.schema, def.source.table, def.source.pageSize, upto);
  const first = await peek(null);
  if (first.changes.length > 0 || first.flushed) return first;
  await new Promise((resolve) => setTimeout(resolve, WAL_FLUSH_WAIT_MS));
  return peek(first.walLsn);
}

/**
 * The push of an LSN definition. An idle run is one query: the peek that finds no change. The slot is
 * advanced only past changes committed to SharePoint and the ledger, so a crash at any point reads them again
 * and the ledger's comparison writes nothing twice.
 */
export async function runLsnCapture(scope: RunScope): Promise<void> {
  const { ctx, def } = scope;
  const names = await namesFor(scope);
  scope.details.slot = names.slot;
  let cursor = await readLsnCursor(ctx.meta, scope.definitionId);
  if (!cursor && scope.dryRun) {
    // No slot yet and a dry run creates none: preview the load the first run makes.
    await load(scope, { lsn: '0/0', load: { after: null, reason: 'no capture yet: loading the table' } });
    return;
  }
  if (!cursor) cursor = await startCapture(scope, names, 'no capture yet: loading the table');
  const mapped = scope.source.shape.columns.map((c) => c.name);
  let confirmed = cursor.lsn;
  for (let restarted = false; ;) {
    try {
      if (!(await load(scope, cursor))) return;
      for (;;) {
        const { changes, walLsn, flushed } = await peekSettled(scope, names);
        if (changes.length === 0) {
          // Nothing of the table committed before walLsn (the peek stopped there): confirm it, or the slot would
          // keep other tables' WAL and every peek would decode it again. A transaction committing after walLsn
          // has its commit past it, so the next peek still returns it (test/core/engine/idle.test.ts).
          if (flushed && parseLsn(walLsn) > parseLsn(confirmed)) await confirm(scope, names, walLsn);
          return;
        }
        const txns = foldTransactions(changes, {
          definition: def.name,
          schema: def.source.schema,
          table: def.source.table,
          key: def.source.key,
          mapped,
        });
        if (!(await applyTransactions(scope, names, txns))) return;
        confirmed = txns.length > 0 ? txns[txns.length - 1].endLsn : confirmed;
        if (scope.dryRun) return; // nothing is confirmed, so the next peek would return the same changes
        if (scope.timeLeft() <= 0) {
          scope.stopIncomplete('time budget spent');
          return;
        }
      }
    } catch (err) {
      if (!(err instanceof SlotLostError) || restarted) throw err;
      if (scope.dryRun) {
        // A dry run creates no slot: it previews the full re-read the next run makes.
        scope.details.captureRestarted = `replication slot ${err.reason}: the next run re-reads the table`;
        await load(scope, { lsn: '0/0', load: { after: null, reason: err.message } });
        return;
      }
      // The slot cannot give the changes since the last confirmed position: compare the whole table instead.
      restarted = true;
      const reason = `replication slot ${err.reason}: full re-read and compare`;
      ctx.log.warn(
        `${def.name}: ${err.message}; the table is read again in full and compared with the ledger`,
      );
      scope.details.captureRestarted = reason;
      cursor = await startCapture(scope, names, reason);
      confirmed = cursor.lsn;
    }
  }
}
