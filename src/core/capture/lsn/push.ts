/** The push of an LSN definition: the table's changes from its replication slot (docs/design.md, I17). */
import { IdentityKeyError, identityOf } from '../../canonical';
import type { LedgerEntry } from '../../store/ledger';
import { readInstallationId } from '../../store/installation';
import { applyPushDeletes, isLive, reconcileDeletes } from '../../engine/push/deletes';
import { pushPrepared, writePrepared } from '../../engine/push/rows';
import { commitPage, newCommit } from '../../engine/push/page';
import { NULL_KEY_ITEM, nullKeyMessage } from '../../engine/identity';
import { PageWindow } from '../../engine/push/pageWindow';
import { preparePushPage, type PushPage } from '../../engine/push/prefetch';
import { prefetchOne, serially } from '../../engine/pipeline';
import { keyOf } from '../../engine/plan';
import type { RunScope } from '../../engine/runner';
import { describeRetirement, retireDeleteCapture } from '../../ops/deleteCapture';
import { ChangeFolder } from './changes';
import { readLsnCursor, writeCaptureShape, writeLsnCursor, type LsnCursor } from './cursor';
import { lsnNames, type LsnNames } from './names';
import { parseLsn } from './pgoutput';
import {
  advanceSlot,
  assertReplicaIdentity,
  createSlot,
  dropSlot,
  ensurePublication,
  SlotLostError,
} from './slot';
import { openRunPeek, type PeekHead, type SlotPeek } from './peek';
import { PageProgress } from './progress';
import { applyTruncate, compareUnlessTruncateHeld, openTruncates, recordTruncate } from './truncates';
import { recordPendingTruncates } from './pendingTruncates';
import { olderShapeForm, readShape, readStorage, shapeChange } from './storage';
import { awaitVisible, VISIBILITY_WAIT_MS } from './visibility';
import { leavePreviousSource, recordCaptureSource, recordUnknownCaptureSource } from './source';
import { inTransaction } from '../../db/transaction';

/**
 * The position of a dry run's cursor when there is no slot to read (no capture yet, or the slot was lost), and of a
 * stored cursor while startCapture creates the slot.
 */
const NO_SLOT = '0/0';

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
  // A slot left on the server or database the definition read before is dropped there (or named): source.ts.
  const source = await leavePreviousSource(scope, names);
  // Until the new slot is recorded, the cursor says capture is starting: a run stopped in between starts it again
  // (runLsnCapture). The cursor of the slot before would be read against the new slot: on another server its position
  // is of other WAL (a new server's slot may lie behind it, so no check took it for a move), and the place recorded
  // would stay the old one, whose re-point then left the new slot behind.
  await writeLsnCursor(scope.ctx.meta, scope.definitionId, { lsn: NO_SLOT, load: { after: null, reason } });
  await ensurePublication(sourcePool, def.name, names, def.source.schema, def.source.table);
  await dropSlot(sourcePool, names.slot);
  const lsn = await createSlot(sourcePool, def.name, names.slot);
  // Read once the slot exists: a partition attached or truncated after this is seen by the next run (storage.ts).
  const shape = await readShape(sourcePool, names.publication, def.source.schema, def.source.table);
  const cursor: LsnCursor = { lsn, load: { after: null, reason }, shape };
  // The slot's position, the shape it is read against and where it lives, together or not at all.
  await inTransaction(scope.ctx.meta, async (client) => {
    await writeLsnCursor(client, scope.definitionId, cursor);
    await writeCaptureShape(client, scope.definitionId, shape);
    await recordCaptureSource(client, scope, source);
  });
  scope.ctx.log.info(
    `${def.name}: replication slot "${names.slot}" created at ${lsn}; loading the table (${reason})`,
  );
  return cursor;
}

/**
 * The load's bound: the highest key in the table, read once the slot exists (startCapture creates the slot before
 * the load; a load set by `apply` for changed routes, or stored by an older version, has a slot already), and
 * stored with the load before its first page, so every continuation and a run after a crash reads up to the same
 * key. Every row above it was inserted (or moved there by a key change) after the slot was created, so the slot
 * holds it and applies it after the load: the load ends even while new keys keep coming faster than it writes.
 * A stored bound of another shape than the key (the key's columns changed since) is read again.
 */
async function loadBound(
  scope: RunScope,
  cursor: LsnCursor,
  state: NonNullable<LsnCursor['load']>,
): Promise<NonNullable<LsnCursor['load']>> {
  const arity = scope.def.source.key.length;
  const fits = (k: unknown[] | null | undefined) => k === null || (Array.isArray(k) && k.length === arity);
  if (state.upto !== undefined && fits(state.upto) && fits(state.after)) return state;
  const bounded = {
    ...state,
    after: fits(state.after) ? state.after : null,
    upto: await scope.source.lastKey(),
  };
  if (!scope.dryRun) {
    scope.assertLockHeld();
    await writeLsnCursor(scope.ctx.meta, scope.definitionId, { ...cursor, load: bounded });
  }
  return bounded;
}

/** A page of the load, with the key after its last row (where the next page starts). */
interface LoadPage extends PushPage {
  after: unknown[];
  last: boolean;
}

/** The table's rows in key order, each page canonicalised and looked up (ahead of its push when pipelined). */
async function* keyPages(
  scope: RunScope,
  start: unknown[] | null,
  upto: unknown[] | null,
): AsyncGenerator<LoadPage> {
  const { def, source } = scope;
  if (upto === null) return; // the table was empty when the load began: every row since is in the slot
  let after = start;
  let previous: PushPage | null = null;
  for (;;) {
    const started = Date.now();
    const rows = await source.readKeyPage(after, def.source.pageSize, upto);
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
 * The full comparison of the ledger with the table (`force`: newly owed as a load ends; else one owed continues),
 * after the TRUNCATEs of the table still only in the slot are recorded, so deletes.truncate decides them and not
 * the comparison, which reads the table as it is now (pendingTruncates.ts). Also on each run that continues an owed
 * comparison: a TRUNCATE made after a load whose comparison the time budget stopped is decided by its rule too. A
 * dry run without a slot (the first run's preview, a lost slot's) has none to read; one that finds a TRUNCATE that
 * PARK or IGNORE decides previews no deletes.
 */
async function compareAfterPendingTruncates(
  scope: RunScope,
  cursor: LsnCursor,
  force: boolean,
): Promise<boolean> {
  const { def, sourcePool } = scope;
  for (let look = 1; ; look++) {
    // The table's storage before the slot is looked at: a TRUNCATE committed after the look (which the look cannot
    // see) changes it, and the comparison stops before deleting what it took for deletes (storage.ts).
    const storage = await readStorage(sourcePool, def.source.schema, def.source.table);
    // A TRUNCATE already parked holds the comparison anyway: no look at the slot (which grows behind it) for more.
    const parked = (await openTruncates(scope.ctx.meta, scope.definitionId)).some((t) => t.decision === null);
    const pending =
      cursor.lsn === NO_SLOT || parked ? [] : await recordPendingTruncates(scope, await namesFor(scope));
    if (scope.dryRun && pending.length > 0 && def.deletes.truncate !== 'PROPAGATE') {
      scope.details.truncate = { lsn: pending[0], policy: def.deletes.truncate, preview: true };
      return true;
    }
    scope.comparisonGuard = async () => {
      const now = await readStorage(sourcePool, def.source.schema, def.source.table);
      if (now !== storage) throw new TableRewrittenError(def.source.schema, def.source.table, look);
    };
    try {
      return await compareUnlessTruncateHeld(scope, force);
    } catch (err) {
      // Truncated (or rewritten: VACUUM FULL, CLUSTER) while compared: the slot is looked at again, so that its
      // TRUNCATE is recorded and decided by its rule, and the comparison starts again: rows the chunks before passed
      // were there then and may be gone now (a TRUNCATE decided PROPAGATE must delete their items too).
      if (!(err instanceof TableRewrittenError) || look >= MAX_COMPARISON_LOOKS) throw err;
      scope.ctx.log.info(
        `${def.name}: ${err.message}; the replication slot is looked at again for a TRUNCATE`,
      );
      force = true;
    } finally {
      delete scope.comparisonGuard;
    }
  }
}

/** How many times one run looks at the slot again for a table rewritten under its comparison before it fails. */
const MAX_COMPARISON_LOOKS = 3;

/** The table got new storage (TRUNCATE, VACUUM FULL, CLUSTER, a partition attached or detached) during a comparison. */
class TableRewrittenError extends Error {
  constructor(schema: string, table: string, looks: number) {
    super(
      `${schema}.${table} was truncated or rewritten while the ledger was compared with it (${looks} time(s) in ` +
        'this run): no item was deleted for rows it no longer shows',
    );
    this.name = 'TableRewrittenError';
  }
}

/**
 * Loads the table's rows in key order through the normal push path, then compares the ledger with the table
 * for deletes (continued by later runs when the time budget stops it); false when the time budget ran out. Pipelined
 * like the TIMESTAMP loop (issue 23.1): page N+1 is read and looked up while page N is written, and its writes
 * start while page N's last batches are out; load positions are stored in page order, each after its page's ledger
 * rows, with at most two pages written and not committed.
 */
async function load(scope: RunScope, cursor: LsnCursor, progress: PageProgress): Promise<boolean> {
  if (!cursor.load) return cursor.deletesOwed ? compareAfterPendingTruncates(scope, cursor, false) : true;
  const state = await loadBound(scope, cursor, cursor.load);
  const upto = state.upto ?? null;
  scope.details.captureLoad = state.reason;
  scope.details.loadBound = upto;
  scope.details.loadAfter = state.after;
  scope.details.loadedRows = 0;
  let loaded = 0;
  const pages = keyPages(scope, state.after, upto);
  const pipelined = scope.ctx.pipelinedPush !== false;
  // The same write window as the TIMESTAMP loop (push/pageWindow.ts): a page's load position is stored only after
  // its ledger rows and those of every page before it.
  const window = new PageWindow(pipelined ? 2 : 1);
  try {
    for await (const page of pipelined ? prefetchOne(pages) : serially(pages)) {
      // As in the TIMESTAMP loop: a page taken and not written is settled, for the page read ahead after it.
      let started = false;
      try {
        await window.room();
        if (window.pages > 0 && scope.timeLeft() <= 0) {
          await window.drain();
          scope.stopIncomplete('time budget spent while loading the table');
          return false;
        }
        // Reported when the page's turn comes, not when it was read ahead: traces stay in page order.
        progress.read(page.rows.length, page.readMs);
        window.start({
          write: () => writePrepared(scope, page.prepared, page.lookup),
          commit: async (commit, withCursor) => {
            await commitPage(scope, commit, null);
            progress.pushed(page.rows.length);
            loaded += page.rows.length;
            scope.details.loadedRows = loaded;
            scope.details.loadAfter = page.after;
            if (withCursor && !scope.dryRun)
              await writeLsnCursor(scope.ctx.meta, scope.definitionId, {
                ...cursor,
                load: { ...state, after: page.after },
              });
          },
          settled: () => page.settled.set(),
        });
        started = true;
      } finally {
        if (!started) page.settled.set();
      }
      if (page.last) break;
    }
    await window.drain();
  } catch (err) {
    // As in the TIMESTAMP loop: pages started finish first, and the first failure in page order is the run's.
    await window.drain();
    throw err;
  }
  // Rows deleted before the load (while the slot was lost, or before a switch from TIMESTAMP). Owed before the
  // load is marked done, so a comparison the time budget stops is continued by the next run.
  const compared = await compareAfterPendingTruncates(scope, cursor, true);
  if (!scope.dryRun) await writeLsnCursor(scope.ctx.meta, scope.definitionId, { ...cursor, load: null });
  return compared;
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
async function applyKeys(
  scope: RunScope,
  textKeys: (string | null)[][],
  progress: PageProgress,
): Promise<void> {
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
    progress.read(chunk.keys.length, chunk.readMs);
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
      let hash: string;
      try {
        hash = identityOf(def.source.key, values, plan.keyKinds).hash;
      } catch (err) {
        // A key the engine cannot use (an infinite date, say): never synced, so no item to delete; a row still
        // there was parked with its reason by the page (preparePushPage), as the load parks it.
        if (err instanceof IdentityKeyError) continue;
        throw err;
      }
      if (!present.has(hash)) missing.push(hash);
    }
    const entries = await ledger.byIdentities(ctx.meta, missing);
    const gone: LedgerEntry[] = [...entries.values()].filter(isLive);
    await applyPushDeletes(scope, gone);
    progress.pushed(chunk.keys.length);
  }
}

/**
 * Moves the slot past applied transactions. The stored copy is written first: a copy ahead of the slot only
 * means the next run re-reads changes it will find already applied.
 */
async function confirm(
  scope: RunScope,
  names: LsnNames,
  lsn: string,
  within: LsnCursor['within'] = null,
): Promise<void> {
  if (scope.dryRun) return;
  scope.assertLockHeld();
  await writeLsnCursor(scope.ctx.meta, scope.definitionId, { lsn, load: null, within });
  await advanceSlot(scope.sourcePool, names.slot, lsn);
}

/** Where the ledger stands in the slot: past `confirmed`, and `within` the transaction after it. */
interface Position {
  confirmed: string;
  within: LsnCursor['within'];
}

/** Unique keys waiting to be applied, in the order first met. */
class KeyPage {
  private readonly keys = new Map<string, (string | null)[]>();
  add(keys: (string | null)[][]): void {
    for (const k of keys) this.keys.set(JSON.stringify(k), k);
  }
  get size(): number {
    return this.keys.size;
  }
  take(): (string | null)[][] {
    const out = [...this.keys.values()];
    this.keys.clear();
    return out;
  }
  /** The first `n` keys met (the rest stay). */
  takeFirst(n: number): (string | null)[][] {
    const out: (string | null)[][] = [];
    for (const [id, k] of this.keys) {
      if (out.length >= n) break;
      out.push(k);
      this.keys.delete(id);
    }
    return out;
  }
}

type PeekOutcome =
  | { kind: 'idle' }
  | { kind: 'applied'; position: Position }
  /**
   * `budget`: the time budget ran out (an incomplete run); `invisible`: a decoded transaction was still not
   * visible (its reason); otherwise a parked TRUNCATE stopped it.
   */
  | { kind: 'stopped'; position: Position; budget: boolean; invisible?: string };

/**
 * Applies a peek's messages in slot order, a page of keys at a time (I5c): the keys' rows and deletes are
 * committed to SharePoint and the ledger, then the position is saved. The slot moves only to the end of a
 * transaction all of whose changes are applied; inside a transaction (one of any size is read a chunk at a
 * time) the saved position counts the transaction's changes already applied, so a run stopped by its time
 * budget (or a crash) reads the transaction again from its start, skips them, and loses nothing. A TRUNCATE
 * first applies what came before it; under PARK it stops the run.
 */
async function applyPeek(
  scope: RunScope,
  names: LsnNames,
  peek: SlotPeek,
  start: Position,
  progress: PageProgress,
): Promise<PeekOutcome> {
  const { def } = scope;
  const folder = new ChangeFolder({
    definition: def.name,
    schema: def.source.schema,
    table: def.source.table,
    key: def.source.key,
  });
  const page = new KeyPage();
  let keyless = false;
  /** A row with NULL in a key column met since the last flush: parked once as `null-key` (I13), as the load does. */
  let nullKey: Record<string, string | null> | null = null;
  let position = start;
  /** The end of the last transaction read up to its commit: every change before it is in `page` or applied. */
  let lastEnd: string | null = null;
  let txn: { commitLsn: string; xid: number; own: boolean; changes: number; skip: number } | null = null;
  /** Transactions with changes in `page` (or a keyless delete): their rows are read only once they are visible. */
  const pending = new Map<number, string>();
  /**
   * Where each transaction of `pending` starts, in commit order: keys in `page` before it, the end of the
   * transaction before it, and whether a keyless delete or a NULL key came before it.
   */
  const starts: {
    xid: number;
    keys: number;
    endBefore: string | null;
    keylessBefore: boolean;
    nullKeyBefore: boolean;
  }[] = [];
  /** Records where a transaction's first change of this page stands, once per transaction. */
  const noteStart = (t: { xid: number; commitLsn: string; skip: number }): void => {
    if (pending.has(t.xid)) return;
    pending.set(t.xid, t.commitLsn);
    starts.push({
      xid: t.xid,
      keys: page.size,
      endBefore: t.skip > 0 ? null : lastEnd,
      keylessBefore: keyless,
      nullKeyBefore: nullKey !== null,
    });
  };
  let ownKeys = 0;
  let messages = 0;
  let skipped = 0;
  /** Applies the page and saves the position; a reason instead when a transaction in it is not visible yet. */
  const flush = async (): Promise<string | null> => {
    if (pending.size > 0) {
      const waitMs = scope.ctx.lsnVisibilityWaitMs ?? VISIBILITY_WAIT_MS;
      const invisible = await awaitVisible(scope.sourcePool, pending.keys(), waitMs);
      if (invisible.length > 0) {
        const cut = starts.find((t) => invisible.includes(t.xid)) ?? starts[0];
        const reason =
          `transaction ${cut.xid} (commit ${pending.get(cut.xid)}) is in the replication slot but not visible ` +
          `yet after ${waitMs} ms (its commit waits, e.g. for a synchronous standby): the slot stays before it ` +
          'and the next run reads it again';
        // The transactions before it are applied and the slot moves to its start; it and what follows it are not
        // applied (the next run reads them again). Only at a transaction's start with nothing but keys before it:
        // otherwise nothing of the page is applied and the position stays where it was.
        if (cut.endBefore === null || cut.keylessBefore || cut.nullKeyBefore || scope.dryRun) return reason;
        await applyKeys(scope, page.takeFirst(cut.keys), progress);
        if (cut.endBefore !== position.confirmed) await confirm(scope, names, cut.endBefore, null);
        position = { confirmed: cut.endBefore, within: null };
        return reason;
      }
      pending.clear();
      starts.length = 0;
    }
    if (page.size > 0) await applyKeys(scope, page.take(), progress);
    if (nullKey) {
      scope.counts.processed++;
      scope.counts.failed++;
      const commit = newCommit();
      commit.park.push({
        hash: NULL_KEY_ITEM,
        identity: null,
        itemId: null,
        error: nullKeyMessage(def.source.key, nullKey),
      });
      await commitPage(scope, commit, null);
      nullKey = null;
    }
    if (keyless) await reconcileDeletes(scope, { force: true });
    keyless = false;
    if (scope.dryRun) return null;
    const lsn = lastEnd ?? position.confirmed;
    const within = txn ? { txn: txn.commitLsn, changes: txn.changes } : null;
    if (lsn === position.confirmed && JSON.stringify(within) === JSON.stringify(position.within)) return null;
    if (lsn === position.confirmed) {
      scope.assertLockHeld();
      await writeLsnCursor(scope.ctx.meta, scope.definitionId, { lsn, load: null, within });
    } else {
      await confirm(scope, names, lsn, within);
    }
    position = { confirmed: lsn, within };
    return null;
  };
  for (;;) {
    const chunk = await peek.next();
    if (chunk.length === 0) break;
    messages += chunk.length;
    for (const change of chunk) {
      const e = folder.fold(change);
      if (!e) continue;
      if (e.kind === 'begin') {
        const resumed = position.within?.txn === e.commitLsn ? position.within.changes : 0;
        txn = { commitLsn: e.commitLsn, xid: e.xid, own: false, changes: 0, skip: resumed };
      } else if (!txn) {
        continue;
      } else if (e.kind === 'origin') {
        // Our own write (a pull page, a push's conflict writes, a resolve): still read back and compared with the
        // ledger like any change (I3), because Postgres changes more in those transactions than we wrote (an ON
        // DELETE CASCADE, a trigger rewriting a value); the comparison skips what only echoes the ledger.
        txn.own ||= e.name === names.origin;
      } else if (e.kind === 'change') {
        txn.changes++;
        if (txn.changes <= txn.skip) {
          skipped++; // applied by an earlier run that stopped inside this transaction
        } else {
          if (txn.own) ownKeys += e.keys.length;
          if (e.keys.length > 0 || e.keylessDelete || e.nullKey) noteStart(txn);
          page.add(e.keys);
          keyless ||= e.keylessDelete;
          nullKey = e.nullKey ?? nullKey;
          if (page.size >= def.source.pageSize) {
            const invisible = await flush();
            if (invisible) return { kind: 'stopped', position, budget: false, invisible };
            // The page is committed and the position saved: a run out of time stops here (I16).
            if (!scope.dryRun && scope.timeLeft() <= 0) return { kind: 'stopped', position, budget: true };
          }
        }
      } else if (e.kind === 'truncate') {
        noteStart(txn);
        const invisible = await flush();
        if (invisible) return { kind: 'stopped', position, budget: false, invisible };
        if (!(await applyTruncate(scope, txn))) return { kind: 'stopped', position, budget: false };
      } else {
        lastEnd = e.endLsn;
        txn = null;
      }
    }
  }
  if (skipped > 0) scope.details.changesResumed = skipped;
  if (ownKeys > 0)
    scope.details.ownWritesRead = ((scope.details.ownWritesRead as number | undefined) ?? 0) + ownKeys;
  if (messages === 0) return { kind: 'idle' };
  const invisible = await flush();
  if (invisible) return { kind: 'stopped', position, budget: false, invisible };
  return { kind: 'applied', position };
}

/**
 * The table still has the delete capture of its TIMESTAMP days (or of another definition): nothing of an LSN
 * definition reads its tombstones, so it is dropped unless a TIMESTAMP definition still reads the table.
 */
async function retireTimestampDeletes(scope: RunScope): Promise<void> {
  const { def } = scope;
  const retired = await retireDeleteCapture(
    scope.ctx.meta,
    scope.sourcePool,
    scope.definitionId,
    { schema: def.source.schema, table: def.source.table, connection: def.source.connection },
    { dryRun: Boolean(scope.dryRun) },
  );
  if (retired.status === 'absent') return;
  scope.details.deleteCapture = retired.status;
  const line = `${def.name}: ${describeRetirement(retired)}`;
  if (retired.status === 'failed') scope.ctx.log.warn(line);
  else if (retired.status !== 'kept') scope.ctx.log.info(line);
}

/** Runs that already checked for a TIMESTAMP-era delete capture to retire. */
const retireChecked = new WeakSet<RunScope>();

/** How long a second look waits for the server to flush WAL it had only written (the WAL writer's default cycle). */
const WAL_FLUSH_WAIT_MS = 250;

/**
 * Every move of the slot by the push records the new position first (confirm, startCapture records the position
 * the slot was created at before anything reads it), so the recorded position is never behind the slot's (a run
 * stopped between startCapture's create and its record left the cursor saying capture was starting, and starts it
 * again). A slot
 * ahead of it was moved by someone else (dropped and created again under the same name, or advanced): the changes
 * in between are not in it, and reading on from it would lose them without a word. It is handled as a lost slot.
 */
function assertSlotNotAhead(names: LsnNames, head: PeekHead, position: Position): void {
  if (head.slotConfirmed === null || parseLsn(head.slotConfirmed) <= parseLsn(position.confirmed)) return;
  throw new SlotLostError(
    names.slot,
    'moved ahead',
    new Error(
      `its confirmed position ${head.slotConfirmed} is past ${position.confirmed}, the position this definition ` +
        'last recorded: it was dropped and created again, or advanced, outside the push, and does not hold the ' +
        'changes in between',
    ),
  );
}

/**
 * What the slot cannot show (storage.ts): the table taken out of the publication and put back (the changes made
 * meanwhile are not in the slot), or a partition attached, detached, dropped, truncated or rewritten. Either is
 * handled as a lost slot: a new slot, the table read again in full, and the ledger compared with it. A partition
 * change is first recorded as a TRUNCATE at the peek's position, so that deletes.truncate decides what the comparison
 * would delete (PARK holds it for truncate-decide, IGNORE keeps the items), as for a TRUNCATE in the slot. A cursor
 * without a recorded shape (written before it was kept) records the current one.
 */
async function assertShapeUnchanged(
  scope: RunScope,
  names: LsnNames,
  head: PeekHead,
  recorded: ShapeRef,
): Promise<void> {
  if (recorded.shape === head.shape) return;
  const { def } = scope;
  if (recorded.shape && olderShapeForm(recorded.shape, head.shape) && !scope.dryRun) {
    // Recorded by a version that neither versioned the publication nor published generated columns: its
    // publication is set as this version makes it (ensurePublication), once, and the shape recorded after that.
    // Narrowed (what it publishes, a row filter) is what the versions would have shown: read again in full.
    const { narrowed } = await ensurePublication(
      scope.sourcePool,
      def.name,
      names,
      def.source.schema,
      def.source.table,
    );
    if (narrowed)
      throw new SlotLostError(
        names.slot,
        'publication changed',
        new Error(`publication "${names.publication}" did not publish every change of its table`),
      );
    const shape = await readShape(scope.sourcePool, names.publication, def.source.schema, def.source.table);
    await writeCaptureShape(scope.ctx.meta, scope.definitionId, shape);
    recorded.shape = shape;
    return;
  }
  if (recorded.shape === null || recorded.shape === undefined || olderShapeForm(recorded.shape, head.shape)) {
    if (!scope.dryRun) await writeCaptureShape(scope.ctx.meta, scope.definitionId, head.shape);
    recorded.shape = head.shape;
    return;
  }
  const table = `${def.source.schema}.${def.source.table}`;
  if (shapeChange(recorded.shape, head.shape) === 'publication')
    throw new SlotLostError(
      names.slot,
      'publication changed',
      new Error(
        `publication "${names.publication}" was altered since capture started (the table taken out of it and ` +
          "put back, or what it publishes narrowed: its 'publish' setting, a row filter or a column list), and " +
          'pgoutput skipped the changes it excluded meanwhile; the publication is set back to publish every change ' +
          `of ${table}`,
      ),
    );
  // Once: a run stopped after this record and before its new slot meets the same change again, and a TRUNCATE
  // waiting for a decision already holds the comparison.
  const undecided = (await openTruncates(scope.ctx.meta, scope.definitionId)).some(
    (t) => t.decision === null,
  );
  if (!scope.dryRun && !undecided) {
    scope.assertLockHeld();
    await recordTruncate(scope, head.walLsn);
  }
  throw new SlotLostError(
    names.slot,
    'partitions changed',
    new Error(
      `the partitions of ${table} changed (one attached, detached, dropped, truncated or rewritten), which the ` +
        `slot does not show; what the comparison finds gone is decided as a TRUNCATE at ${head.walLsn} under ` +
        `deletes.truncate ${def.deletes.truncate}`,
    ),
  );
}

/** The capture shape a run reads the slot against (updated when recorded for the first time). */
interface ShapeRef {
  shape?: string | null;
}

/** One peek (stopping at `upto`, or at the current insert position), applied. */
async function peekAndApply(
  scope: RunScope,
  names: LsnNames,
  position: Position,
  progress: PageProgress,
  upto: string | null,
  recorded: ShapeRef,
): Promise<{ head: PeekHead; outcome: PeekOutcome }> {
  const peek = await openRunPeek(scope, names, scope.def.source.pageSize, upto);
  try {
    assertSlotNotAhead(names, peek.head, position);
    await assertShapeUnchanged(scope, names, peek.head, recorded);
    if (peek.head.deleteCapture && !retireChecked.has(scope)) {
      retireChecked.add(scope);
      await retireTimestampDeletes(scope);
    }
    return { head: peek.head, outcome: await applyPeek(scope, names, peek, position, progress) };
  } finally {
    await peek.close();
  }
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
  // A run stopped while startCapture created the slot starts capture again (startCapture).
  const starting =
    cursor?.lsn === NO_SLOT
      ? `capture was starting when a run stopped (${cursor.load?.reason ?? 'no reason recorded'})`
      : null;
  if ((!cursor || starting) && scope.dryRun) {
    // No slot yet and a dry run creates none: preview the load the first run makes.
    await load(
      scope,
      { lsn: NO_SLOT, load: { after: null, reason: starting ?? 'no capture yet: loading the table' } },
      new PageProgress(scope),
    );
    return;
  }
  if (!cursor || starting)
    cursor = await startCapture(scope, names, starting ?? 'no capture yet: loading the table');
  else
    await assertReplicaIdentity(
      scope.sourcePool,
      def.name,
      def.source.schema,
      def.source.table,
      def.source.key,
      true,
    );
  const progress = new PageProgress(scope);
  let position: Position = { confirmed: cursor.lsn, within: cursor.within ?? null };
  let located = cursor.located !== false;
  for (let restarted = false; ;) {
    try {
      if (!(await load(scope, cursor, progress))) return;
      for (;;) {
        let { head, outcome } = await peekAndApply(scope, names, position, progress, null, cursor);
        // The slot was read here: where it lives, for a cursor that does not say (source.ts).
        if (!located && !scope.dryRun) {
          await recordUnknownCaptureSource(scope);
          located = true;
        }
        if (outcome.kind === 'idle' && !head.flushed) {
          // The server had not flushed up to where the peek stopped (asynchronous commits): a second look at
          // the same WAL once it has, so that the run can still confirm it.
          await new Promise((resolve) => setTimeout(resolve, WAL_FLUSH_WAIT_MS));
          ({ head, outcome } = await peekAndApply(scope, names, position, progress, head.walLsn, cursor));
          // On a busy server other sessions' WAL keeps the insert position ahead of the flushed one at every look:
          // a last look bounded by what was flushed, so the slot still moves past the WAL decoded (and does not
          // hold it for ever). A transaction committing after that position is returned by the next peek.
          if (outcome.kind === 'idle' && !head.flushed)
            ({ head, outcome } = await peekAndApply(scope, names, position, progress, head.flushLsn, cursor));
        }
        if (outcome.kind === 'idle') {
          // Nothing of the table committed before walLsn (the peek stopped there): confirm it, or the slot would
          // keep other tables' WAL and every peek would decode it again. A transaction committing after walLsn
          // has its commit past it, so the next peek still returns it (test/core/engine/idle.test.ts).
          if (head.flushed && parseLsn(head.walLsn) > parseLsn(position.confirmed))
            await confirm(scope, names, head.walLsn);
          return;
        }
        position = outcome.position;
        if (outcome.kind === 'stopped') {
          if (outcome.budget) scope.stopIncomplete('time budget spent inside a transaction');
          if (outcome.invisible) scope.stopIncomplete(outcome.invisible);
          return;
        }
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
        await load(scope, { lsn: NO_SLOT, load: { after: null, reason: err.message } }, progress);
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
      position = { confirmed: cursor.lsn, within: null };
      located = true;
    }
  }
}
