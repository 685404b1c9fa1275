/**
 * Rows gone from the table while their items remain: the push delete policy (I8). Two ways to find them:
 * tombstones written by the delete-capture trigger `install-cursor` adds (cost independent of table size), or,
 * for tables without it (views, no privilege), a sweep comparing the ledger with the table in bounded chunks,
 * continued across pushes.
 */
import { identityOf } from '../../canonical';
import { openConflictIdentities } from '../../store/conflicts';
import type { LedgerEntry } from '../../store/ledger';
import {
  DELETE_CHUNK_ROWS,
  SWEEP_SLICE_MS,
  clearTombstones,
  deleteDetectionOf,
  deleteTombstones,
  presentKeys,
  readTombstones,
  type Tombstone,
} from '../../source/postgres/tombstones';
import type { WriteOp } from '../../target/sharepoint';
import { type RunScope } from '../runner';
import { newCommit, commitPage, parkEntry } from './page';
import { settleDeleteConflict } from './conflicts';
import { writeByList } from './moves';
import { forListId } from '../routing';

const CHUNK = DELETE_CHUNK_ROWS;

/**
 * Finds and applies push deletes. `force` (change data capture after a load or a keyless delete) compares the
 * whole ledger with the table now, whatever the detection and the check interval.
 */
export async function reconcileDeletes(scope: RunScope, opts: { force?: boolean } = {}): Promise<void> {
  const { def } = scope;
  let detection = await deleteDetectionOf(scope.sourcePool, def.source.schema, def.source.table);
  if (detection === 'tombstones' && (await tableShared(scope))) {
    // Tombstones are consumed once, by one reader: with two definitions on the table, one would take the
    // other's deletes. Both sweep instead; the tombstones, read by no one now, are dropped.
    detection = 'sweep';
    scope.details.deleteDetectionShared = true;
    if (!scope.dryRun) await clearTombstones(scope.source);
  }
  scope.details.deleteDetection = detection;
  if (opts.force) await sweepAll(scope);
  else if (detection === 'tombstones') await consumeTombstones(scope);
  else if (await sweepDue(scope)) await sweepSlice(scope);
}

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
 * ledger entries are already gone: they are dropped without a write.
 */
async function consumeTombstones(scope: RunScope): Promise<void> {
  const { ledger, ctx, source } = scope;
  let after = '0';
  for (;;) {
    const tombstones = await readTombstones(source, after, CHUNK);
    if (tombstones.length === 0) return;
    after = tombstones[tombstones.length - 1].id;
    let kept = new Set<string>();
    let sweepDone = true;
    const keyed = tombstones.filter((t): t is Tombstone & { key: unknown[] } => t.key !== null);
    if (keyed.length < tombstones.length) sweepDone = await sweepAll(scope);
    const hashes = new Map<string, string>();
    for (const t of keyed) {
      // A key with NULL in it was never synced (I13): nothing to delete, the tombstone is simply consumed.
      if (t.key.some((v) => v === null || v === undefined)) continue;
      hashes.set(t.id, keyHash(scope, t.key));
    }
    const entries = await ledger.byIdentities(ctx.meta, [...new Set(hashes.values())]);
    if (entries.size > 0) {
      const candidates = [...entries.values()];
      const pending = candidates.filter((e) => e.state === 'PENDING_CREATE').map((e) => e.identityHash);
      const gone = await absentFromTable(scope, candidates.filter(isLive));
      kept = await applyGone(scope, gone);
      // A create in flight is settled by the next push's first step; its tombstone waits for it.
      for (const h of pending) kept.add(h);
    }
    const consumed = tombstones
      .filter((t) => {
        if (t.key === null) return sweepDone;
        const hash = hashes.get(t.id);
        return hash === undefined || !kept.has(hash);
      })
      .map((t) => t.id);
    if (!scope.dryRun) await deleteTombstones(source, consumed);
    if (tombstones.length < CHUNK) return;
  }
}

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

/** Whether the fallback sweep runs on this push (`deletes.checkIntervalSeconds`). */
async function sweepDue(scope: RunScope): Promise<boolean> {
  const { ctx, def } = scope;
  if (def.deletes.checkIntervalSeconds === 0) return true;
  const { rows } = await ctx.meta.query<{ due: boolean }>(
    `SELECT coalesce(max(deletes_checked_at) < now() - make_interval(secs => $2), true) AS due
       FROM arcore.sync_cursors WHERE definition_id = $1 AND scope = 'SOURCE'`,
    [scope.definitionId, def.deletes.checkIntervalSeconds],
  );
  return rows[0].due;
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

/** One full comparison of ledger and table (a tombstone without key asked for it). True once complete. */
async function sweepAll(scope: RunScope): Promise<boolean> {
  let position: string | null = '';
  while (position !== null) position = await sweepChunk(scope, position);
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
/** A paired entry, or a routed row never synced (UNROUTED: gone, it only leaves the ledger). */
export const isLive = (e: LedgerEntry): boolean =>
  (e.state === 'SYNCED' && !!e.itemId) || e.state === 'UNROUTED';

/**
 * Items whose rows are gone from Postgres (found here, or by change data capture): the push delete policy (I8),
 * one commit.
 */
export async function applyPushDeletes(scope: RunScope, gone: LedgerEntry[]): Promise<void> {
  await applyGone(scope, gone);
}

async function applyGone(scope: RunScope, gone: LedgerEntry[]): Promise<Set<string>> {
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
  for (const e of gone) {
    if (e.state === 'UNROUTED') {
      commit.remove.push(e.identityHash); // never synced: nothing to delete in SharePoint
      continue;
    }
    scope.counts.processed++;
    if (parked.has(e.identityHash)) {
      scope.counts.skipped++; // MANUAL: neither side changes until the conflict is resolved
      kept.add(e.identityHash);
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
    }
  }
  const outcomes = await writeByList(scope, ops);
  for (const o of outcomes.values()) {
    const e = byRef.get(o.ref) as LedgerEntry;
    if (o.status === 'deleted' || o.status === 'not_found') {
      scope.counts.deleted++;
      commit.remove.push(o.ref);
    } else if (o.status === 'updated') {
      scope.counts.deleted++;
      commit.save.push({ ...e, eTag: o.eTag, state: 'ORPHANED' });
    } else if (o.status === 'precondition_failed') {
      await settleDeleteConflict(forListId(scope, e.listId), e, commit);
    } else {
      parkEntry(scope, commit, e, o);
      kept.add(e.identityHash);
    }
  }
  await commitPage(scope, commit, null);
  return kept;
}
