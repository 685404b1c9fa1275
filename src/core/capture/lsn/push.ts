/** The push of an LSN definition: the table's changes from its replication slot (docs/design.md, I17). */
import { identityOf } from '../../canonical';
import type { LedgerEntry } from '../../store/ledger';
import { readInstallationId } from '../../store/installation';
import { applyPushDeletes, isLive, reconcileDeletes } from '../../engine/push/deletes';
import { pushPrepared } from '../../engine/push/rows';
import { preparePushPage, type PushPage } from '../../engine/push/prefetch';
import { prefetchOne, serially } from '../../engine/pipeline';
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

/** WAL of other tables an idle run lets pass before it confirms it (one default WAL segment). */
const IDLE_ADVANCE_BYTES = 16n * 1024n * 1024n;

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

/** A page of the load, with the key after its last row (where the next page starts). */
interface LoadPage extends PushPage {
  after: unknown[];
  last: boolean;
}

/** The table's rows in key order, each page canonicalised and looked up (ahead of its push when pipelined). */
async function* keyPages(scope: RunScope, start: unknown[] | null): AsyncGenerator<LoadPage> {
  const { def, source } = scope;
  let after = start;
  let previous: PushPage | null = null;
  for (;;) {
    const started = Date.now();
    const rows = await source.readKeyPage(after, def.source.pageSize);
    if (rows.length === 0) return;
    after = keyOf(def, rows[rows.length - 1].values);
    const page: LoadPage = {
      ...(await preparePushPage(scope, rows, Date.now() - started, previous)),
      after,
      last: rows.length < def.source.pageSize,
    };
    yield page;
    if (page.last) return;
    previous = page;
  }
}

/**
 * Loads the table's rows in key order through the normal push path; false when the time budget ran out. Pipelined
 * like the TIMESTAMP loop (issue 23.1): page N+1 is read and looked up while page N is written; page N's ledger
 * rows and load position are committed before page N+1 is written.
 */
async function load(scope: RunScope, cursor: LsnCursor): Promise<boolean> {
  const state = cursor.load;
  if (!state) return true;
  scope.details.captureLoad = state.reason;
  scope.details.loadedRows = 0;
  let loaded = 0;
  const pages = keyPages(scope, state.after);
  for await (const page of scope.ctx.pipelinedPush === false ? serially(pages) : prefetchOne(pages)) {
    try {
      await pushPrepared(scope, page.prepared, null, page.lookup);
    } finally {
      page.settled.set();
    }
    loaded += page.rows.length;
    if (!scope.dryRun)
      await writeLsnCursor(scope.ctx.meta, scope.definitionId, {
        ...cursor,
        load: { ...state, after: page.after },
      });
    scope.details.loadedRows = loaded;
    if (page.last) break;
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

/** A chunk of touched keys with their rows as they are now, canonicalised and looked up. */
interface KeyChunk extends PushPage {
  keys: unknown[][];
}

async function* keyChunks(scope: RunScope, unique: (string | null)[][]): AsyncGenerator<KeyChunk> {
  const { def, source } = scope;
  let previous: PushPage | null = null;
  for (let i = 0; i < unique.length; i += def.source.pageSize) {
    const started = Date.now();
    const keys = await source.normalizeKeys(unique.slice(i, i + def.source.pageSize));
    const rows = await source.readByKeys(keys);
    const chunk: KeyChunk = { ...(await preparePushPage(scope, rows, Date.now() - started, previous)), keys };
    yield chunk;
    previous = chunk;
  }
}

/**
 * Rows of the touched keys are pushed as they are now; keys no longer in the table are deletes. Pipelined like
 * the TIMESTAMP loop (issue 23.1): the next chunk's rows are read and looked up while this chunk is written (the
 * chunks hold distinct keys; reading a row a little earlier is safe, because any later change is in WAL after
 * the group this run confirms).
 */
async function applyKeys(scope: RunScope, textKeys: (string | null)[][]): Promise<void> {
  const { def, ledger, plan, ctx } = scope;
  const seen = new Set<string>();
  const unique = textKeys.filter((k) => {
    const id = JSON.stringify(k);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  const chunks = keyChunks(scope, unique);
  for await (const chunk of ctx.pipelinedPush === false ? serially(chunks) : prefetchOne(chunks)) {
    try {
      if (chunk.rows.length > 0) await pushPrepared(scope, chunk.prepared, null, chunk.lookup);
    } finally {
      chunk.settled.set();
    }
    const present = new Set(chunk.prepared.hashes);
    const missing: string[] = [];
    for (const k of chunk.keys) {
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
        const { changes, walLsn } = await peekChanges(
          scope.sourcePool,
          names,
          def.source.schema,
          def.source.table,
          def.source.pageSize,
        );
        if (changes.length === 0) {
          // Other tables' and databases' WAL moved on: confirm it, or the slot would keep it and every idle
          // peek would decode it again. Only past a segment, so a quiet server's idle run stays one query.
          if (parseLsn(walLsn) - parseLsn(confirmed) >= IDLE_ADVANCE_BYTES)
            await confirm(scope, names, walLsn);
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
