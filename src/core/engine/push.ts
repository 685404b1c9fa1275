import type { PoolClient } from 'pg';
import {
  CanonicalValueError,
  contentHash,
  fromGraphFields,
  identityOf,
  toCanonical,
  toGraphFields,
  type CanonicalRecord,
  type CanonicalValue,
  type FieldKind,
} from '../canonical';
import { PageSizer } from '../budget/pageSizer';
import { keysetCursor, type KeysetPosition } from '../cursor/timestampCursor';
import { KeyMatchError } from '../source/postgres/keys';
import type { SourceRow } from '../source/postgres/PostgresSource';
import { openConflictIdentities, recordConflict } from '../store/conflicts';
import { readCursor, writeCursor } from '../store/cursors';
import { dueFailures, park, resolveParked } from '../store/failures';
import type { LedgerEntry } from '../store/ledger';
import type { ListItem, WriteOp, WriteOutcome } from '../target/sharepoint';
import { decideAligned, pushPlanFor, unalignedFields } from './alignment';
import { NULL_KEY_ITEM, nullKeyMessage, settleNullKeys, splitDuplicateIdentities } from './identity';
import { keyOf, pick, rowToCanonical, type FieldPlan } from './plan';
import { decidePair, type PairDecision } from './reconcile';
import { withRun, type RunOptions, type RunScope } from './runner';
import type { EngineContext, RunSummary } from './types';

/** A source row ready to push: its identity and canonical values. */
interface PushRow {
  row: SourceRow;
  key: unknown[];
  identity: Record<string, unknown>;
  hash: string;
  values: CanonicalRecord;
}

/** Pending metadata changes of a page, committed together with the cursor (I5c). */
interface PageCommit {
  save: LedgerEntry[];
  remove: string[];
  park: { hash: string; identity: Record<string, unknown> | null; itemId: string | null; error: string }[];
  resolved: string[];
}

const newCommit = (): PageCommit => ({ save: [], remove: [], park: [], resolved: [] });

function identityRecord(scope: RunScope, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of scope.def.source.key) out[k] = values[k];
  return out;
}

function syncedEntry(
  scope: RunScope,
  r: { hash: string; identity: Record<string, unknown> },
  itemId: string,
  eTag: string,
  synced: CanonicalRecord,
  lastSourceTs: string | null,
  provenance: 'PUSH' | 'PULL',
  spModifiedAt: string | null = null,
): LedgerEntry {
  return {
    identityHash: r.hash,
    identity: r.identity,
    listId: scope.listId,
    itemId,
    eTag,
    syncedValues: synced,
    contentHash: contentHash(synced),
    provenance,
    state: 'SYNCED',
    lastSourceTs,
    spModifiedAt,
  };
}

/** The Graph `fields` body for canonical values, keeping only the fields push may write (I9). */
export function graphFields(scope: RunScope, values: CanonicalRecord): Record<string, unknown> {
  return toGraphFields(
    pick(
      values,
      Object.keys(values).filter((f) => scope.plan.byTarget.get(f)?.pushable),
    ),
    scope.plan.columns,
  );
}

/** Writes Postgres-side actions of a decision (conflict outcomes taken from SharePoint). */
export async function applyToPostgres(
  scope: RunScope,
  client: PoolClient,
  key: unknown[],
  identity: Record<string, unknown>,
  decision: PairDecision,
): Promise<void> {
  const action = decision.postgres;
  if (action.kind === 'none') return;
  if (action.kind === 'delete') {
    const policy = scope.def.deletes.pull;
    if (policy === 'PROPAGATE') await scope.source.deleteRow(client, key);
    else if (policy === 'SOFT' && scope.def.deletes.pullSoftColumn)
      await scope.source.setFlag(client, key, scope.def.deletes.pullSoftColumn);
    return;
  }
  const values: Record<string, { kind: FieldKind; value: CanonicalValue }> = {};
  for (const [target, value] of Object.entries(action.values)) {
    const f = scope.plan.byTarget.get(target);
    if (f && f.pullable && !scope.def.source.key.includes(f.source))
      values[f.source] = { kind: f.kind, value };
  }
  if (action.kind === 'write') {
    await scope.source.updateRow(client, key, values);
    return;
  }
  for (const k of scope.def.source.key) {
    if (!(k in values))
      values[k] = {
        kind: scope.plan.keyKinds[k] ?? 'text',
        value: toCanonical(scope.plan.keyKinds[k] ?? 'text', identity[k]),
      };
  }
  await scope.source.insertRow(client, values);
}

/** Runs `fn` in a transaction on the source database (rolled back in a dry run: nothing is kept). */
async function inSourceTx<T>(scope: RunScope, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await scope.sourcePool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query(scope.dryRun ? 'ROLLBACK' : 'COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

async function commitPage(scope: RunScope, commit: PageCommit, cursor: KeysetPosition | null): Promise<void> {
  if (scope.dryRun) return; // a dry run moves no cursor and parks nothing
  const client = await scope.ctx.meta.connect();
  try {
    await client.query('BEGIN');
    await scope.ledger.save(client, commit.save);
    await scope.ledger.remove(client, commit.remove);
    for (const p of commit.park) {
      await park(client, scope.definitionId, {
        direction: 'PUSH',
        itemKey: p.hash,
        sourceIdentity: p.identity,
        spItemId: p.itemId,
        error: p.error,
      });
    }
    await resolveParked(client, scope.definitionId, 'PUSH', commit.resolved);
    if (cursor) await writeCursor(client, scope.definitionId, 'SOURCE', keysetCursor.serialize(cursor));
    scope.assertLockHeld();
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

function describeFailure(o: WriteOutcome): string {
  if (o.status === 'rejected')
    return `SharePoint rejected the write (${o.httpStatus} ${o.code}): ${o.message}`;
  if (o.status === 'failed') return o.message;
  return o.status;
}

/**
 * One outcome per row (processed = created + updated + deleted + skipped + conflicts + failed): a row whose
 * write met a conflict counts as a conflict however the policy settled it; its resolving write is not
 * counted again. A write that failed counts as failed.
 */
function countSettled(
  scope: RunScope,
  decision: Pick<PairDecision, 'conflict'>,
  outcome: 'created' | 'updated' | 'deleted' | 'skipped' | 'conflicts',
): void {
  scope.counts[decision.conflict ? 'conflicts' : outcome]++;
}

/**
 * Settles rows whose write met a concurrent SharePoint change (412) or a missing item: read the item,
 * decide under the policy (I7), record the conflict, then write both sides as decided.
 */
async function settleConflicts(
  scope: RunScope,
  items: { r: PushRow; entry: LedgerEntry }[],
  commit: PageCommit,
): Promise<void> {
  const { plan, def, target, siteId, listId } = scope;
  const ops: WriteOp[] = [];
  const pending = new Map<
    string,
    { r: PushRow; entry: LedgerEntry; decision: PairDecision; item: ListItem | null }
  >();
  for (const { r, entry } of items) {
    const item = entry.itemId ? await target.getItem(siteId, listId, entry.itemId) : null;
    const sp = item ? fromGraphFields(item.fields, plan.columns) : null;
    const decision = decideAligned(plan, def, {
      base: entry.syncedValues,
      postgres: r.values,
      sharepoint: sp,
      postgresModifiedAt: r.row.cursor,
      sharepointModifiedAt: item?.lastModifiedDateTime ?? null,
    });
    if (decision.conflict) {
      await recordConflict(scope.ctx.meta, scope.definitionId, {
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
      });
    }
    if (decision.outcome === 'PARKED') {
      countSettled(scope, decision, 'conflicts');
      commit.resolved.push(r.hash);
      continue;
    }
    if (decision.postgres.kind !== 'none') {
      try {
        await inSourceTx(scope, (client) => applyToPostgres(scope, client, r.key, r.identity, decision));
      } catch (err) {
        // A row-level refusal (I13 key matching other than one row, a value outside an enum) parks this row.
        if (!(err instanceof KeyMatchError || err instanceof CanonicalValueError)) throw err;
        scope.counts.failed++;
        commit.park.push({ hash: r.hash, identity: r.identity, itemId: entry.itemId, error: err.message });
        continue;
      }
    }
    const sa = decision.sharepoint;
    if (sa.kind === 'write' && item) {
      ops.push({
        kind: 'update',
        ref: r.hash,
        itemId: item.id,
        eTag: item.eTag,
        fields: graphFields(scope, sa.values),
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
    pending.set(r.hash, { r, entry, decision, item });
    if (!ops.some((op) => op.ref === r.hash)) countSettled(scope, decision, 'skipped');
    if (sa.kind === 'none') {
      if (decision.synced && item)
        commit.save.push(syncedEntry(scope, r, item.id, item.eTag, decision.synced, r.row.cursor, 'PULL'));
      else if (!decision.synced) commit.remove.push(r.hash);
      commit.resolved.push(r.hash);
    }
  }
  scope.assertLockHeld();
  const outcomes = ops.length ? await target.writeItems(siteId, listId, ops) : [];
  for (const o of outcomes) {
    const p = pending.get(o.ref);
    if (!p) continue;
    if ((o.status === 'created' || o.status === 'updated') && p.decision.synced) {
      const itemId = o.status === 'created' ? o.itemId : (p.item?.id as string);
      countSettled(scope, p.decision, o.status);
      commit.save.push(syncedEntry(scope, p.r, itemId, o.eTag, p.decision.synced, p.r.row.cursor, 'PUSH'));
      commit.resolved.push(o.ref);
    } else if (o.status === 'deleted' || o.status === 'not_found') {
      countSettled(scope, p.decision, 'deleted');
      commit.remove.push(o.ref);
      commit.resolved.push(o.ref);
    } else {
      scope.counts.failed++;
      commit.park.push({
        hash: o.ref,
        identity: p.r.identity,
        itemId: p.entry.itemId,
        error:
          o.status === 'precondition_failed'
            ? 'SharePoint item kept changing while resolving a conflict'
            : describeFailure(o),
      });
    }
  }
}

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
    const cursor = await readCursor(scope.ctx.meta, scope.definitionId, 'TARGET');
    const carried = new Set(cursor?.value ? (cursor.fingerprint?.select ?? []) : []);
    scope.listReadWithAllFields =
      cursor?.fingerprint?.listId === scope.listId && scope.plan.select.every((f) => carried.has(f));
  }
  return pushPlanFor(scope.plan, base, values, {
    pullEnabled: scope.def.pull.enabled,
    listReadWithAllFields: scope.listReadWithAllFields,
  });
}

/** Per run: each row's cursor value when the run first considered it. */
const consideredRows = new WeakMap<RunScope, Map<string, string | null>>();

/**
 * A retried parked row is read again by the page loop when it lies in the overlap window: the same version
 * is considered (and counted) once per run. A version changed since (a new cursor value) is pushed again.
 */
function firstLookThisRun(scope: RunScope, hash: string, cursor: string | null): boolean {
  let seen = consideredRows.get(scope);
  if (!seen) consideredRows.set(scope, (seen = new Map()));
  if (seen.has(hash) && seen.get(hash) === cursor) return false;
  seen.set(hash, cursor);
  return true;
}

/** Pushes a set of source rows: one ledger query, batched writes, one commit with the cursor (I5, I10). */
async function pushRows(scope: RunScope, rows: SourceRow[], cursor: KeysetPosition | null): Promise<void> {
  const { def, plan, ledger, target, siteId, listId, ctx } = scope;
  const commit = newCommit();
  const prepared: PushRow[] = [];
  for (const row of rows) {
    const identity = identityRecord(scope, row.values);
    let hash: string;
    try {
      hash = identityOf(def.source.key, row.values, plan.keyKinds).hash;
    } catch (err) {
      scope.counts.processed++;
      scope.counts.failed++;
      const nullKey = def.source.key.some((k) => row.values[k] === null || row.values[k] === undefined);
      commit.park.push({
        hash: nullKey ? NULL_KEY_ITEM : `unusable-key:${(err as Error).message}`,
        identity: null,
        itemId: null,
        error: nullKey ? nullKeyMessage(def.source.key, row.values) : (err as Error).message,
      });
      continue;
    }
    if (!firstLookThisRun(scope, hash, row.cursor)) continue;
    scope.counts.processed++;
    try {
      prepared.push({
        row,
        key: keyOf(def, row.values),
        identity,
        hash,
        values: rowToCanonical(plan, row.values),
      });
    } catch (err) {
      // A value with no canonical form (I12): this row is parked, the rest of the page goes on.
      scope.counts.failed++;
      const error = `row ${JSON.stringify(identity)}: ${(err as Error).message}`;
      commit.park.push({ hash, identity, itemId: null, error });
    }
  }
  // I13: two different rows with one key are parked, neither written; the same row read twice counts once.
  const { unique, duplicates } = splitDuplicateIdentities(prepared);
  for (const d of duplicates) {
    scope.counts.failed += d.rows.length;
    commit.park.push({ hash: d.hash, identity: d.identity, itemId: null, error: d.message });
  }
  const hashes = unique.map((p) => p.hash);
  const [entries, parked] = await Promise.all([
    ledger.byIdentities(ctx.meta, hashes),
    openConflictIdentities(ctx.meta, scope.definitionId, hashes),
  ]);
  const ops: WriteOp[] = [];
  const byRef = new Map<
    string,
    { r: PushRow; entry: LedgerEntry | undefined; decision: PairDecision | null }
  >();
  const pendingCreates: LedgerEntry[] = [];
  for (const r of unique) {
    if (parked.has(r.hash)) {
      scope.counts.skipped++; // MANUAL: neither side changes until the conflict is resolved
      continue;
    }
    const entry = entries.get(r.hash);
    if (!entry || entry.state === 'PENDING_CREATE' || !entry.itemId) {
      const fields = {
        ...graphFields(scope, pick(r.values, plan.toSharePoint)),
        [def.target.keyColumn]: r.hash,
      };
      ops.push({
        kind: 'create',
        ref: r.hash,
        fields,
        adoptBy: { field: def.target.keyColumn, value: r.hash },
      });
      byRef.set(r.hash, { r, entry, decision: null });
      pendingCreates.push({
        identityHash: r.hash,
        identity: r.identity,
        listId,
        itemId: null,
        eTag: null,
        syncedValues: null,
        contentHash: null,
        provenance: 'PUSH',
        state: 'PENDING_CREATE',
        lastSourceTs: r.row.cursor,
        spModifiedAt: null,
      });
      continue;
    }
    // Without reading SharePoint (I10), assume it still holds the synced values; If-Match proves it.
    const decision = decidePair(await pushPlan(scope, entry.syncedValues, r.values), def, {
      base: entry.syncedValues,
      postgres: r.values,
      sharepoint: entry.syncedValues,
    });
    if (decision.sharepoint.kind !== 'write') {
      scope.counts.skipped++; // unchanged, or an echo of a pull (I3)
      commit.resolved.push(r.hash);
      continue;
    }
    ops.push({
      kind: 'update',
      ref: r.hash,
      itemId: entry.itemId,
      eTag: entry.eTag ?? undefined,
      fields: graphFields(scope, decision.sharepoint.values),
    });
    byRef.set(r.hash, { r, entry, decision });
  }

  // I6: the intent to create is durable before the request leaves.
  scope.assertLockHeld();
  await ledger.save(ctx.meta, pendingCreates);
  const outcomes = ops.length ? await target.writeItems(siteId, listId, ops) : [];
  const conflicts: { r: PushRow; entry: LedgerEntry }[] = [];
  for (const o of outcomes) {
    const x = byRef.get(o.ref);
    if (!x) continue;
    const { r, entry, decision } = x;
    switch (o.status) {
      case 'created': {
        scope.counts.created++;
        const pushed = pick(r.values, plan.toSharePoint);
        const returned = responseFields(o);
        const pulledBack = returned ? fromGraphFields(returned, plan.columns) : null;
        const synced: CanonicalRecord = { ...pick(pulledBack ?? r.values, plan.toPostgres), ...pushed };
        commit.save.push(
          syncedEntry(
            scope,
            r,
            o.itemId,
            o.eTag,
            synced,
            r.row.cursor,
            'PUSH',
            o.lastModifiedDateTime ?? null,
          ),
        );
        commit.resolved.push(r.hash);
        break;
      }
      case 'updated':
        scope.counts.updated++;
        commit.save.push(
          syncedEntry(
            scope,
            r,
            entry?.itemId as string,
            o.eTag,
            decision?.synced ?? r.values,
            r.row.cursor,
            'PUSH',
          ),
        );
        commit.resolved.push(r.hash);
        break;
      case 'precondition_failed':
      case 'not_found':
        if (entry) conflicts.push({ r, entry });
        break;
      default:
        scope.counts.failed++;
        if (!entry || entry.state === 'PENDING_CREATE') commit.remove.push(r.hash);
        commit.park.push({
          hash: r.hash,
          identity: r.identity,
          itemId: entry?.itemId ?? null,
          error: describeFailure(o),
        });
    }
  }
  if (conflicts.length) await settleConflicts(scope, conflicts, commit);
  await commitPage(scope, commit, cursor);
}

/**
 * A rerun after a crash: entries left PENDING_CREATE may or may not have an item. Look for it by the hidden
 * key column; adopt it when found (I6), forget the intent otherwise. Their rows are then pushed again.
 */
async function settlePendingCreates(scope: RunScope): Promise<unknown[][]> {
  const pending = await scope.ledger.pendingCreates(scope.ctx.meta);
  const keys: unknown[][] = [];
  const adopted: LedgerEntry[] = [];
  const forget: string[] = [];
  for (const entry of pending) {
    const found = await scope.target.findItemsByField(
      scope.siteId,
      scope.listId,
      scope.def.target.keyColumn,
      entry.identityHash,
    );
    keys.push(scope.def.source.key.map((k) => entry.identity[k]));
    if (found.length === 0) {
      forget.push(entry.identityHash);
      continue;
    }
    const item = found[0];
    const values = fromGraphFields(item.fields, scope.plan.columns);
    adopted.push({
      ...entry,
      itemId: item.id,
      eTag: item.eTag,
      syncedValues: values,
      contentHash: contentHash(values),
      state: 'SYNCED',
    });
    for (const extra of found.slice(1)) {
      scope.ctx.log.warn(
        `${scope.def.name}: a second item ${extra.id} carries the key of item ${item.id}; left in place`,
      );
    }
  }
  await scope.ledger.save(scope.ctx.meta, adopted);
  await scope.ledger.remove(scope.ctx.meta, forget);
  scope.details.adoptedAfterCrash = adopted.length;
  return keys;
}

/** Rows found in the ledger but no longer in the table: the push delete policy (I8). */
async function reconcileDeletes(scope: RunScope): Promise<void> {
  const { ctx, def, ledger, source, target, siteId, listId, plan } = scope;
  const { rows: due } = await ctx.meta.query<{ due: boolean }>(
    `SELECT coalesce(max(deletes_checked_at) < now() - make_interval(secs => $2), true) AS due
       FROM arcore.sync_cursors WHERE definition_id = $1 AND scope = 'SOURCE'`,
    [scope.definitionId, def.deletes.checkIntervalSeconds],
  );
  if (def.deletes.checkIntervalSeconds > 0 && !due[0].due) return;
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
}

/** A ledger entry whose delete did not apply: parked for the next run (I5c). */
function parkEntry(scope: RunScope, commit: PageCommit, e: LedgerEntry, o: WriteOutcome): void {
  scope.counts.failed++;
  commit.park.push({
    hash: e.identityHash,
    identity: e.identity,
    itemId: e.itemId,
    error: describeFailure(o),
  });
}

/** The row was deleted in Postgres while its item changed in SharePoint: a conflict (I8, I7). */
async function settleDeleteConflict(scope: RunScope, e: LedgerEntry, commit: PageCommit): Promise<void> {
  const { target, siteId, listId, plan, def } = scope;
  const item = await target.getItem(siteId, listId, e.itemId as string);
  if (!item) {
    scope.counts.deleted++; // gone on both sides
    commit.remove.push(e.identityHash);
    return;
  }
  const sp = fromGraphFields(item.fields, plan.columns);
  const decision = decideAligned(plan, def, {
    base: e.syncedValues,
    postgres: null,
    sharepoint: sp,
    sharepointModifiedAt: item.lastModifiedDateTime,
  });
  await recordConflict(scope.ctx.meta, scope.definitionId, {
    runId: scope.runId,
    identityHash: e.identityHash,
    identity: e.identity,
    itemId: e.itemId,
    detectedBy: 'PUSH',
    policy: def.conflictPolicy,
    base: e.syncedValues,
    postgres: null,
    sharepoint: sp,
    outcome: decision.outcome,
    resolvedValues: decision.synced,
    status: decision.outcome === 'PARKED' ? 'OPEN' : 'RESOLVED',
    reason: `deleted in Postgres, edited in SharePoint: ${decision.reason}`,
    fields: decision.conflictFields,
  });
  // One outcome for the row: the conflict, whichever way the policy settled it, unless its write failed.
  if (decision.outcome === 'PARKED') {
    scope.counts.conflicts++;
    return;
  }
  if (decision.sharepoint.kind === 'delete') {
    scope.assertLockHeld();
    const [o] = await target.writeItems(siteId, listId, [
      { kind: 'delete', ref: e.identityHash, itemId: item.id, eTag: item.eTag },
    ]);
    if (o.status === 'deleted' || o.status === 'not_found') {
      scope.counts.conflicts++;
      commit.remove.push(e.identityHash);
    } else {
      parkEntry(scope, commit, e, o);
    }
    return;
  }
  scope.counts.conflicts++;
  if (decision.postgres.kind === 'recreate' && decision.synced) {
    const key = def.source.key.map((k) => e.identity[k]);
    await inSourceTx(scope, (client) => applyToPostgres(scope, client, key, e.identity, decision));
    commit.save.push({
      ...e,
      eTag: item.eTag,
      syncedValues: decision.synced,
      contentHash: contentHash(decision.synced),
      provenance: 'PULL',
    });
  }
}

/**
 * Push: Postgres → SharePoint for one definition. Order: settle creates a crashed run left in flight (I6),
 * retry parked rows (I5c), read pages after the cursor minus the overlap window (I5a, I5b), then reconcile
 * deletes (I8).
 */
export async function runPush(
  ctx: EngineContext,
  definitionName: string,
  opts: RunOptions,
): Promise<RunSummary> {
  return withRun(ctx, definitionName, 'PUSH', opts, async (scope) => {
    const { def, source, definitionId } = scope;
    const retryKeys = await settlePendingCreates(scope);
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

    const stored = await readCursor(ctx.meta, definitionId, 'SOURCE');
    const position = stored?.value ? keysetCursor.parse(def.name, stored.value) : null;
    // Start the overlap window behind the cursor: late commits with older timestamps are read again (I5b).
    let since: string | null = null;
    if (position) {
      const { rows } = await scope.sourcePool.query<{ since: string }>(
        `SELECT ($1::timestamptz - make_interval(secs => $2))::text AS since`,
        [position.ts, def.source.overlapSeconds],
      );
      since = rows[0].since;
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
    await reconcileDeletes(scope);
  });
}

async function isBefore(scope: RunScope, a: KeysetPosition, b: KeysetPosition): Promise<boolean> {
  const { rows } = await scope.sourcePool.query<{ before: boolean }>(
    'SELECT $1::timestamptz < $2::timestamptz AS before',
    [a.ts, b.ts],
  );
  return rows[0].before;
}

/** The item's fields when the write's response carried them (creates return the whole listItem). */
function responseFields(o: WriteOutcome): Record<string, unknown> | null {
  const fields = (o as { fields?: unknown }).fields;
  return fields && typeof fields === 'object' ? (fields as Record<string, unknown>) : null;
}
