/**
 * Rows gone from the table while their items remain: the push delete policy (I8). Two ways to find them:
 * tombstones written by the delete-capture trigger `install-cursor` adds (cost independent of table size), or,
 * for tables without it (views, no privilege), a sweep comparing the ledger with the table in bounded chunks,
 * continued across pushes.
 */
import { identityOf } from '../../canonical';
import { openConflictIdentities, refreshOpenConflicts } from '../../store/conflicts';
import type { LedgerEntry } from '../../store/ledger';
import {
  DELETE_CHUNK_ROWS,
  SWEEP_SLICE_MS,
  clearTombstones,
  tombstonesLeft,
  deleteDetectionOf,
  deleteTombstones,
  sourceTriggersOf,
  presentKeys,
  readTombstones,
  type DeleteDetection,
  type Tombstone,
} from '../../source/postgres/tombstones';
import type { WriteOp } from '../../target/sharepoint';
import { type RunScope } from '../runner';
import { newCommit, commitPage, parkEntry, writtenETag } from './page';
import { settleDeleteConflict } from './conflicts';
import { writeByListUntilStopped } from './moves';
import { forListId } from '../routing';
import { cursorTriggerLostMessage } from '../../source/postgres/cursorTrigger';

const CHUNK = DELETE_CHUNK_ROWS;

/**
 * The share of a TIMESTAMP push's time its deletes may take before its pages (push/timestamp.ts): a backlog longer
 * than one run (a first load, a catch-up) would otherwise keep every delete waiting until it is all read (I8, I16).
 */
export const DELETE_SHARE = 0.2;

/**
 * The time a delete step may take: the run's (no share: the push's last step, whose stop with work left
 * marks the run incomplete), or a share of it in milliseconds, taken before the pages, whose stop leaves the rest
 * to the push's last step or to the next push.
 */
interface DeleteTime {
  timeLeft(): number;
  last: boolean;
}

function deleteTime(scope: RunScope, shareMs: number | undefined): DeleteTime {
  if (shareMs === undefined) return { timeLeft: () => scope.timeLeft(), last: true };
  const end = Date.now() + shareMs;
  return { timeLeft: () => Math.min(scope.timeLeft(), end - Date.now()), last: false };
}

/**
 * Finds and applies push deletes. `force` (a switch from LSN, a load, a delete without key) owes a comparison of
 * the whole ledger with the table, whatever the detection and the check interval. An owed comparison is stored
 * before it starts and continues across runs within each run's time budget (I16) until it reaches the ledger's
 * end. `shareMs`: the step before a TIMESTAMP push's pages, bounded to that much of the run's time (at least one
 * chunk); its stop leaves the rest to the push's last step. Returns false when its time stopped it with deletes
 * left (the last step marks the run incomplete). What it applied and what waits is in the run's details
 * (`deletesApplied`, `deletesWaiting`: tombstones left when time stopped it).
 */
export async function reconcileDeletes(
  scope: RunScope,
  opts: { force?: boolean; shareMs?: number } = {},
): Promise<boolean> {
  const deletedBefore = scope.counts.deleted;
  const done = await reconcileWithin(scope, opts, deleteTime(scope, opts.shareMs));
  const applied = scope.counts.deleted - deletedBefore;
  if (applied > 0)
    scope.details.deletesApplied = ((scope.details.deletesApplied as number | undefined) ?? 0) + applied;
  return done;
}

async function reconcileWithin(
  scope: RunScope,
  opts: { force?: boolean },
  time: DeleteTime,
): Promise<boolean> {
  const { def } = scope;
  let detection: DeleteDetection;
  if (def.source.cursor.type === 'TIMESTAMP') {
    // The same query checks install-cursor's trigger: no statement of its own on a push (I18).
    const triggers = await sourceTriggersOf(
      scope.sourcePool,
      def.source.schema,
      def.source.table,
      def.source.cursor.column,
    );
    detection = triggers.detection;
    if (triggers.cursorTriggerLost) warnCursorTriggerLost(scope);
  } else detection = await deleteDetectionOf(scope.sourcePool, def.source.schema, def.source.table);
  if (detection === 'tombstones' && (await tableShared(scope))) {
    // Tombstones are consumed once, by one reader: with two definitions on the table, one would take the
    // other's deletes. Both sweep instead; the tombstones, read by no one now, are dropped.
    detection = 'sweep';
    scope.details.deleteDetectionShared = true;
    if (!scope.dryRun) await clearTombstones(scope.source);
  }
  scope.details.deleteDetection = detection;
  // What an earlier step of this push left waiting is this step's to say again: a step that continues an owed
  // full comparison instead applies every delete, and would otherwise leave the earlier count standing.
  delete scope.details.deletesWaiting;
  delete scope.details.deletesTombstones;
  if (opts.force) {
    await oweFullComparison(scope);
    return continueFullComparison(scope, '', time);
  }
  const state = await deleteState(scope);
  if (state.owedFrom !== null) return continueFullComparison(scope, state.owedFrom, time);
  if (detection === 'tombstones') {
    const consumed = await consumeTombstones(scope, time);
    if (consumed.stopped) return false;
    if (consumed.owed) return continueFullComparison(scope, '', time);
  } else if (state.sweepDue && !swept.has(scope)) await sweepSlice(scope);
  return true;
}

/**
 * install-cursor's trigger is gone or disabled: updates no longer move the cursor column, so this push (and every
 * one after) misses them. Said once per run, in its details (`sourceWarnings`, which `status` shows) and summary.
 */
function warnCursorTriggerLost(scope: RunScope): void {
  const { def } = scope;
  const message = cursorTriggerLostMessage(
    def.name,
    `${def.source.schema}.${def.source.table}`,
    def.source.cursor.column as string,
  );
  const warnings = (scope.details.sourceWarnings as string[] | undefined) ?? [];
  if (warnings.includes(message)) return;
  scope.details.sourceWarnings = [...warnings, message];
  scope.ctx.log.warn(`${def.name}: ${message}`, { runId: scope.runId, definition: def.name });
}

/**
 * Runs whose fallback sweep already took its slice: the push's last step does not sweep again (with
 * `checkIntervalSeconds` 0 it would be due again).
 */
const swept = new WeakSet<RunScope>();

/** Whether another definition of this metadata store reads the same source table (same connection). */
async function tableShared(scope: RunScope): Promise<boolean> {
  const { def } = scope;
  const { rows } = await scope.ctx.meta.query<{ shared: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM arcore.sync_definitions
        WHERE id <> $1 AND document->'source'->>'table' = $2
          AND coalesce(document->'source'->>'schema', 'public') = $3
          AND coalesce(document->'source'->>'connection', 'default') = $4) AS shared`,
    [scope.definitionId, def.source.table, def.source.schema, def.source.connection],
  );
  return rows[0].shared;
}

/**
 * Tombstones in id order, a chunk at a time. A chunk's deletes are written and committed to the ledger first;
 * only then are its tombstones dropped, except those whose delete did not apply (parked, or held by an open
 * MANUAL conflict), which stay for the next push. A crash between the two steps re-reads tombstones whose
 * ledger entries are already gone: they are dropped without a write. A tombstone without key (TRUNCATE, or
 * install-cursor's request) owes a full comparison, which `reconcileDeletes` then runs: returns whether one is
 * owed, and whether its time (the run's budget, I16, or the share before the pages) stopped it between chunks.
 */
async function consumeTombstones(
  scope: RunScope,
  time: DeleteTime,
): Promise<{ owed: boolean; stopped: boolean }> {
  const { ledger, ctx, source } = scope;
  let after = tombstonesRead.get(scope) ?? '0';
  let owed = false;
  const finished = () => {
    delete scope.details.deletesWaiting;
    delete scope.details.deletesTombstones;
    return { owed, stopped: false };
  };
  for (;;) {
    // I16: a mass delete goes out a chunk at a time within each run's budget (or the share of it before the
    // pages); the tombstones left wait for the push's last step or the next push.
    if (tombstoneChunkRan.has(scope) && time.timeLeft() <= 0) {
      const left = await tombstonesLeft(source, after);
      if (left.tombstones === 0) return finished();
      // Rows deleted in Postgres whose delete is not yet checked, not tombstones: a reloaded table leaves
      // tombstones of keys that are back, which owe nothing.
      const waiting = left.deletedKeys;
      scope.details.deletesWaiting = waiting;
      const what = `${left.tombstones} tombstone(s) left to read (${waiting} row(s) deleted in Postgres, not yet checked against SharePoint)`;
      if (time.last) {
        scope.details.deletesTombstones = `time budget spent: ${what}; the next push reads them first`;
        scope.stopIncomplete('time budget spent applying deletes found by their tombstones');
      } else
        scope.details.deletesTombstones =
          `the share of time for deletes before the pages spent: ${what}; ` +
          'the push goes on with them after its pages, or the next push does';
      return { owed, stopped: true };
    }
    tombstoneChunkRan.add(scope);
    const tombstones = await readTombstones(source, after, CHUNK);
    if (tombstones.length === 0) return finished();
    after = tombstones[tombstones.length - 1].id;
    tombstonesRead.set(scope, after);
    let kept = new Set<string>();
    const keyed = tombstones.filter((t): t is Tombstone & { key: unknown[] } => t.key !== null);
    // Stored before the tombstone is dropped: the comparison it asks for is owed until it completes.
    if (keyed.length < tombstones.length && !owed) {
      await oweFullComparison(scope);
      owed = true;
    }
    const hashes = new Map<string, string>();
    // When each row was deleted (its latest tombstone's time): a delete meeting an edit is decided by it (I7).
    const deletedAt = new Map<string, string>();
    for (const t of keyed) {
      // A key with NULL in it was never synced (I13): nothing to delete, the tombstone is simply consumed.
      if (t.key.some((v) => v === null || v === undefined)) continue;
      const hash = keyHash(scope, t.key);
      hashes.set(t.id, hash);
      deletedAt.set(hash, t.deletedAt);
    }
    const entries = await ledger.byIdentities(ctx.meta, [...new Set(hashes.values())]);
    if (entries.size > 0) {
      const candidates = [...entries.values()];
      const pending = candidates.filter((e) => e.state === 'PENDING_CREATE').map((e) => e.identityHash);
      const gone = await absentFromTable(scope, candidates.filter(isLive));
      kept = await applyGone(scope, gone, deletedAt);
      // A create in flight is settled by the next push's first step; its tombstone waits for it.
      for (const h of pending) kept.add(h);
    }
    const consumed = tombstones
      .filter((t) => {
        if (t.key === null) return true;
        const hash = hashes.get(t.id);
        return hash === undefined || !kept.has(hash);
      })
      .map((t) => t.id);
    if (!scope.dryRun) await deleteTombstones(source, consumed);
    if (tombstones.length < CHUNK) return finished();
  }
}

/**
 * Where a run's reading of tombstones got to: its last step goes on from there. Those before were applied, or
 * kept for what the run does not change (an open MANUAL conflict, a create in flight), or, in a dry run, not
 * dropped; read again they would be counted twice. One committed late with a lower id waits for the next push,
 * which reads from the first.
 */
const tombstonesRead = new WeakMap<RunScope, string>();

/**
 * Runs that read a chunk of tombstones, and runs that compared a chunk of the ledger: each run does at least one of
 * each it needs, so deletes always move on, and further chunks only while its time (or its share) lasts, also
 * across its steps before and after the pages.
 */
const tombstoneChunkRan = new WeakSet<RunScope>();
const comparisonChunkRan = new WeakSet<RunScope>();

function keyHash(scope: RunScope, key: unknown[]): string {
  const values: Record<string, unknown> = {};
  scope.def.source.key.forEach((k, i) => (values[k] = key[i]));
  return identityOf(scope.def.source.key, values, scope.plan.keyKinds).hash;
}

/** Of these live entries, those whose rows are not in the table (one key-only read for the lot). */
async function absentFromTable<T extends { identityHash: string; identity: Record<string, unknown> }>(
  scope: RunScope,
  live: T[],
): Promise<T[]> {
  if (live.length === 0) return [];
  const { def, source } = scope;
  const found = await presentKeys(
    source,
    live.map((e) => def.source.key.map((k) => e.identity[k])),
  );
  const present = new Set(found.map((key) => keyHash(scope, key)));
  return live.filter((e) => !present.has(e.identityHash));
}

/**
 * Where an owed full comparison continues from (null: none owed), and whether the fallback sweep runs on this
 * push (`deletes.checkIntervalSeconds`): one read of the SOURCE cursor row.
 */
async function deleteState(scope: RunScope): Promise<{ owedFrom: string | null; sweepDue: boolean }> {
  const { ctx, def } = scope;
  const { rows } = await ctx.meta.query<{ owed: string | null; due: boolean }>(
    `SELECT max(deletes_full_position) AS owed,
            coalesce(max(deletes_checked_at) < now() - make_interval(secs => $2), true) AS due
       FROM arcore.sync_cursors WHERE definition_id = $1 AND scope = 'SOURCE'`,
    [scope.definitionId, def.deletes.checkIntervalSeconds],
  );
  const owedFrom = dryRunOwed.has(scope) ? (dryRunOwed.get(scope) ?? null) : rows[0].owed;
  return { owedFrom, sweepDue: def.deletes.checkIntervalSeconds === 0 || rows[0].due };
}

/**
 * The fallback: continues the ledger/table comparison where the last push left it, a chunk at a time, for at
 * least one chunk and at most SWEEP_SLICE_MS; the position (an identity hash) is stored with the SOURCE cursor
 * and wraps to the start once the ledger's end is reached.
 */
async function sweepSlice(scope: RunScope): Promise<void> {
  const { ctx, definitionId } = scope;
  const { rows } = await ctx.meta.query<{ position: string | null }>(
    `SELECT deletes_position AS position FROM arcore.sync_cursors WHERE definition_id = $1 AND scope = 'SOURCE'`,
    [definitionId],
  );
  swept.add(scope);
  const started = Date.now();
  let position = rows[0]?.position ?? '';
  for (;;) {
    const next = await sweepChunk(scope, position);
    position = next ?? '';
    if (next === null || Date.now() - started >= SWEEP_SLICE_MS) break;
  }
  if (scope.dryRun) return;
  await ctx.meta.query(
    `INSERT INTO arcore.sync_cursors (definition_id, scope, cursor_type, deletes_checked_at, deletes_position)
     VALUES ($1, 'SOURCE', 'TIMESTAMP', now(), $2)
     ON CONFLICT (definition_id, scope) DO UPDATE SET deletes_checked_at = now(), deletes_position = $2`,
    [definitionId, position],
  );
}

/** A dry run owes its comparison in memory only (it writes nothing, the next real run decides for itself). */
const dryRunOwed = new WeakMap<RunScope, string | null>();

/**
 * Owes a full comparison from the ledger's start: a comparison already under way restarts, because rows it
 * has passed may be among those now deleted.
 */
export async function oweFullComparison(scope: RunScope): Promise<void> {
  await storeOwedPosition(scope, '');
}

/** Forgets an owed comparison (an ignored TRUNCATE: what it would find gone is kept on purpose). */
export async function forgetOwedComparison(scope: RunScope): Promise<void> {
  await storeOwedPosition(scope, null);
}

/** Null: the comparison reached the ledger's end and is no longer owed. */
async function storeOwedPosition(scope: RunScope, position: string | null): Promise<void> {
  if (scope.dryRun) {
    dryRunOwed.set(scope, position);
    return;
  }
  await scope.ctx.meta.query(
    `INSERT INTO arcore.sync_cursors (definition_id, scope, cursor_type, deletes_full_position)
     VALUES ($1, 'SOURCE', 'TIMESTAMP', $2)
     ON CONFLICT (definition_id, scope) DO UPDATE SET deletes_full_position = $2`,
    [scope.definitionId, position],
  );
}

/**
 * Continues the full comparison an earlier run left owed, if any (change data capture, whose deletes otherwise
 * come from the slot). False when the time budget stopped it again.
 */
export async function continueOwedComparison(scope: RunScope): Promise<boolean> {
  const { owedFrom } = await deleteState(scope);
  return owedFrom === null ? true : continueFullComparison(scope, owedFrom, deleteTime(scope, undefined));
}

/**
 * Continues an owed full comparison of ledger and table, a chunk at a time: each chunk's deletes are committed,
 * then its position, so a crash or a spent time budget (I16) resumes after the last chunk committed. At least
 * one chunk per run, so a comparison always moves on. True once none is owed.
 */
async function continueFullComparison(scope: RunScope, from: string, time: DeleteTime): Promise<boolean> {
  let position: string | null = from;
  while (position !== null) {
    if (comparisonChunkRan.has(scope) && time.timeLeft() <= 0) {
      if (time.last) {
        scope.details.deletesComparison =
          'time budget spent: the next push continues the full delete comparison';
        scope.stopIncomplete('time budget spent comparing the ledger with the table for deletes');
      } else
        scope.details.deletesComparison =
          'the share of time for deletes before the pages spent: the push continues the full delete ' +
          'comparison after its pages, or the next push does';
      return false;
    }
    comparisonChunkRan.add(scope);
    position = await sweepChunk(scope, position);
    await storeOwedPosition(scope, position);
  }
  delete scope.details.deletesComparison;
  return true;
}

/** Compares the CHUNK ledger entries after `after` with the table; returns where to continue, null at the end. */
async function sweepChunk(scope: RunScope, after: string): Promise<string | null> {
  const batch = await scope.ledger.identitiesAfter(scope.ctx.meta, after, CHUNK);
  if (batch.length === 0) return null;
  const gone = await absentFromTable(
    scope,
    batch.filter((e) => e.live),
  );
  if (gone.length > 0) {
    // Change data capture: rows gone because of a TRUNCATE committed since the slot was looked at are not deletes.
    await scope.comparisonGuard?.();
    // Full entries (synced values, eTag) only for the few rows found gone; re-checked live as they load.
    const entries = await scope.ledger.byIdentities(
      scope.ctx.meta,
      gone.map((e) => e.identityHash),
    );
    await applyGone(scope, [...entries.values()].filter(isLive));
  }
  scope.details.reconciled = true;
  return batch.length < CHUNK ? null : batch[batch.length - 1].identityHash;
}

/**
 * Applies the delete policy to entries whose rows are gone, commits the ledger, and returns the identity hashes
 * whose delete did not apply (parked for a retry, or held by an open MANUAL conflict).
 */
/**
 * A paired entry, a routed row never synced (UNROUTED), or a row kept when its item was deleted in SharePoint
 * (ITEM_DELETED, deletes.pull IGNORE): gone, the last two only leave the ledger.
 */
export const isLive = (e: LedgerEntry): boolean =>
  (e.state === 'SYNCED' && !!e.itemId) || e.state === 'UNROUTED' || e.state === 'ITEM_DELETED';

/**
 * Items whose rows are gone from Postgres (found here, or by change data capture): the push delete policy (I8),
 * one commit.
 */
export async function applyPushDeletes(scope: RunScope, gone: LedgerEntry[]): Promise<void> {
  await applyGone(scope, gone);
}

/** `deletedAt`: when rows were deleted, by identity hash, where a tombstone says (a sweep cannot know). */
async function applyGone(
  scope: RunScope,
  gone: LedgerEntry[],
  deletedAt: ReadonlyMap<string, string> = new Map(),
): Promise<Set<string>> {
  const kept = new Set<string>();
  if (gone.length === 0) return kept;
  const { ctx, def } = scope;
  const parked = await openConflictIdentities(
    ctx.meta,
    scope.definitionId,
    gone.map((e) => e.identityHash),
  );
  const commit = newCommit();
  const ops: { listId: string; op: WriteOp }[] = [];
  const byRef = new Map<string, LedgerEntry>();
  const heldNow: { identityHash: string; values: null }[] = [];
  for (const e of gone) {
    // An ITEM_DELETED pair with an open conflict is a revived one (its item back) waiting for `resolve`: held below.
    if (e.state === 'UNROUTED' || (e.state === 'ITEM_DELETED' && !parked.has(e.identityHash))) {
      commit.remove.push(e.identityHash); // no item to delete in SharePoint (never synced, or deleted there)
      commit.resolved.push(e.identityHash);
      continue;
    }
    scope.counts.processed++;
    if (parked.has(e.identityHash)) {
      scope.counts.skipped++; // MANUAL: neither side changes until the conflict is resolved
      kept.add(e.identityHash);
      heldNow.push({ identityHash: e.identityHash, values: null }); // the conflict shows the row gone
      // A retry parked for this delete is settled by the conflict's resolution, not retried meanwhile.
      commit.resolved.push(e.identityHash);
      continue;
    }
    byRef.set(e.identityHash, e);
    if (def.deletes.push === 'PROPAGATE') {
      ops.push({
        listId: e.listId,
        op: { kind: 'delete', ref: e.identityHash, itemId: e.itemId as string, eTag: e.eTag ?? undefined },
      });
    } else if (def.deletes.push === 'SOFT' && def.deletes.pushSoftColumn) {
      ops.push({
        listId: e.listId,
        op: {
          kind: 'update',
          ref: e.identityHash,
          itemId: e.itemId as string,
          eTag: e.eTag ?? undefined,
          fields: { [def.deletes.pushSoftColumn]: true },
        },
      });
    } else {
      scope.counts.skipped++; // IGNORE: the item stays
      commit.save.push({ ...e, state: 'ORPHANED' });
      commit.resolved.push(e.identityHash);
    }
  }
  // A dry run writes nothing to the metadata store (dryRun.ts).
  if (!scope.dryRun) await refreshOpenConflicts(ctx.meta, scope.definitionId, 'postgres', heldNow);
  // I16: the run's time may stop some batches before they leave. What the others did is recorded before the run
  // stops: an item deleted and left in the ledger would be taken for one still there once its row is inserted again,
  // and that row would get no item.
  const { outcomes, stop } = await writeByListUntilStopped(scope, ops);
  for (const o of outcomes.values()) {
    const e = byRef.get(o.ref) as LedgerEntry;
    if (o.status === 'failed' && o.stopped) {
      // Not sent, or its outcome unknown: neither parked nor removed. The entry stays as it is, the run stops below
      // (its tombstones unconsumed), and the next run deletes again (a 404 is done).
      continue;
    }
    // A delete that applied settles any retry parked for it (push.ts retries a parked row found gone).
    if (o.status === 'deleted' || o.status === 'not_found') {
      scope.counts.deleted++;
      commit.remove.push(o.ref);
      commit.resolved.push(o.ref);
    } else if (o.status === 'updated') {
      scope.counts.deleted++;
      commit.save.push({ ...e, eTag: writtenETag(scope.plan, o, e.syncedValues ?? {}), state: 'ORPHANED' });
      commit.resolved.push(o.ref);
    } else if (o.status === 'precondition_failed') {
      const settled = await settleDeleteConflict(
        forListId(scope, e.listId),
        e,
        commit,
        deletedAt.get(e.identityHash) ?? null,
      );
      if (settled === 'held') kept.add(e.identityHash);
      // Parked (its delete failed), the park carries the retry: it is not resolved here.
      else if (settled === 'settled') commit.resolved.push(o.ref);
    } else {
      // Parked, the delete is retried by the park's own schedule (push.ts deletes the item of a retried row found
      // gone), with its back-off: keeping the tombstone too would send it again on every push and twice in one.
      parkEntry(scope, commit, e, o);
    }
  }
  await commitPage(scope, commit, null);
  if (stop) throw stop;
  return kept;
}
