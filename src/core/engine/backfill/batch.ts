/**
 * One batch of a backfill: ledger rows in identity-hash order, their Postgres rows, their items when the
 * strategy or direction needs them, a decision per pair (decide.ts), then the writes: Postgres in a transaction
 * that keeps the cursor column (KEEP_CURSOR_SETTING), SharePoint through the batch writer with If-Match. The
 * ledger rows, conflicts and the backfill's position commit together in one metadata transaction.
 */
import type { PoolClient } from 'pg';
import {
  canonicalEquals,
  contentHash,
  fromGraphFields,
  stableStringify,
  toCanonical,
  type CanonicalRecord,
  type CanonicalValue,
} from '../../canonical';
import { KEEP_CURSOR_SETTING, type SourceRow } from '../../source/postgres/PostgresSource';
import {
  advanceBackfill,
  emptyBackfillCounts,
  type BackfillCounts,
  type BackfillSpec,
} from '../../store/backfills';
import { openConflictIdentities, recordConflict } from '../../store/conflicts';
import type { LedgerEntry, SourcePairs } from '../../store/ledger';
import { appliedNothing, type ListItem, type WriteOp, type WriteOutcome } from '../../target/sharepoint';
import { unalignedFields } from '../alignment';
import { rowsByIdentity, sharedKeyMessage } from '../identity';
import { differs, pick, rowToCanonical, type FieldPlan } from '../plan';
import { createdSynced, responseFields } from '../push/page';
import { knownRefusal, pushFailureMessage } from '../push/refusals';
import { applyToPostgres, graphFields, postgresValues } from '../push/writes';
import { agreedEntry, madeUnderOldPipeline, pipelinesOf, pulledValue, sourcePairs } from '../transform';
import { forListId } from '../routing';
import type { PairDecision } from '../reconcile';
import type { RunScope } from '../runner';
import { decideBackfill, mergeSynced } from './decide';
import { confirmListStands, confirmListsOfNotFound, rethrowUnlessListGone } from '../listGone';
import { checkConstraintsPerStatement, inTransaction } from '../../db/transaction';
import { StepValueError } from '../../transform/steps';

/** What every batch of one backfill run shares. */
export interface BackfillJob {
  scope: RunScope;
  spec: BackfillSpec;
  /** The definition's plan restricted to the chosen fields. */
  plan: FieldPlan;
  /**
   * Postgres writes keep the rows' cursor column (KEEP_CURSOR_SETTING). False while another TIMESTAMP definition
   * reads the same table: its push finds a change only by that column, so the writes move it as a pull's do, and
   * this definition's own push reads those rows again and finds them in sync (I3).
   */
  keepCursor: boolean;
  /** Rows whose cursor column a trigger moved although the write asked it not to (an older trigger). */
  cursorMoved: number;
  /** The first failures, for the summary. */
  failures: { key: Record<string, unknown>; error: string }[];
  /** full_resync pulling: the first rows gone from Postgres that were not re-created, with what happens next. */
  missingRows: MissingRow[];
}

/** A row gone from Postgres while its ledger entry (and item) remain, left to the push's delete policy. */
export interface MissingRow {
  key: Record<string, unknown>;
  itemId: string;
  next: string;
}

type Outcome = 'updated' | 'equal' | 'skipped' | 'created' | 'conflicts' | 'failed';

interface Pair {
  entry: LedgerEntry;
  row: SourceRow;
  pg: CanonicalRecord;
  /** The item as read now; null when not read (a push of update_only assumes the synced values). */
  item: ListItem | null;
  sp: CanonicalRecord;
  /** Postgres-side values a pull-direction write gave transformed fields (their ledger pairs, I3). */
  written?: Record<string, CanonicalValue>;
  /** Found by the hidden key column in place of a missing item (I6). */
  adopted: boolean;
  /** Chosen fields read through the current pipeline instead of a pair made under an older one (I14). */
  rederive: string[];
  /** The entry's pairs were re-paired where the sides agree under the current pipelines: it is saved (I6). */
  healed: boolean;
}

/** A ledger row with its Postgres row, read for the backfill. */
interface Prepared {
  entry: LedgerEntry;
  row: SourceRow;
  pg: CanonicalRecord;
  rederive: string[];
  healed: boolean;
}

interface BatchCommit {
  save: LedgerEntry[];
  conflicts: { pair: Pair; decision: PairDecision }[];
  outcomes: Map<string, Outcome>;
  /** Rows left alone for an open conflict (MANUAL): the backfill waits for them (store/backfills.ts waiting). */
  waiting: string[];
  /**
   * Rows changed in Postgres between the batch's read and its write: not written now, and waiting too (stored with
   * the others, so a stop keeps them), but examined again by this run once its pass is done. Neither their push (the
   * pair still says the field is in sync) nor a later backfill (this one would be complete) would do them.
   */
  changed: string[];
}

const READ_CONCURRENCY = 8;
const MAX_FAILURES_SHOWN = 20;

function keyOfEntry(job: BackfillJob, e: LedgerEntry): unknown[] {
  return job.scope.def.source.key.map((k) => e.identity[k]);
}

/** What follows a write SharePoint refused (push/refusals.ts pushFailureMessage): the backfill parks nothing. */
const BACKFILL_AGAIN = 'then run the backfill again';

function fail(job: BackfillJob, commit: BatchCommit, e: LedgerEntry, error: string): void {
  commit.outcomes.set(e.identityHash, 'failed');
  if (job.failures.length < MAX_FAILURES_SHOWN) job.failures.push({ key: e.identity, error });
  job.scope.ctx.log.warn(`${job.scope.def.name}: backfill of row ${JSON.stringify(e.identity)}: ${error}`);
}

async function readItems(job: BackfillJob, itemIds: string[]): Promise<Map<string, ListItem | null>> {
  const { target, siteId, listId, plan } = job.scope;
  const out = new Map<string, ListItem | null>();
  for (let i = 0; i < itemIds.length; i += READ_CONCURRENCY) {
    const chunk = itemIds.slice(i, i + READ_CONCURRENCY);
    const items = await Promise.all(chunk.map((id) => target.getItem(siteId, listId, id, plan.select)));
    chunk.forEach((id, j) => out.set(id, items[j]));
  }
  // I15: an item not found is decided as gone only once its list is known to stand.
  if ([...out.values()].includes(null)) await confirmListStands(job.scope, listId);
  return out;
}

/** Whether the item's other mapped fields still hold the synced values: its new eTag may then replace ours. */
function onlyChosenFieldsMoved(job: BackfillJob, p: Pair): boolean {
  if (p.item === null || p.item.eTag === p.entry.eTag) return true;
  const others = job.scope.plan.toPostgres.filter((f) => !job.spec.fields.includes(f));
  return differs(p.entry.syncedValues, p.sp, others).length === 0;
}

/**
 * The chosen fields whose ledger pair was made under a pipeline of the backfill's direction that has changed
 * since, while Postgres still holds the input it paired (I14). The next push and pull keep reading them through
 * the pair (a changed pipeline rewrites nothing by itself, docs/cli.md), but a backfill is the operator's request
 * to sync these fields through the current pipeline: it re-derives them. A pair made under the current pipeline
 * stands (a value pull wrote that the push pipeline would not give back is not rewritten, I3).
 */
function rederivedFields(job: BackfillJob, entry: LedgerEntry, row: SourceRow): string[] {
  const { direction } = job.spec;
  // The direction the pipeline leaves a one-way field in never writes the other way: nothing to re-derive.
  const never = direction === 'push' ? 'PULL_ONLY' : 'PUSH_ONLY';
  return job.plan.fields
    .filter((f) => {
      // A field whose pipeline was removed is re-derived as it is now: its value unchanged (pipelinesOf).
      const t = pipelinesOf(f, entry.sourceValues);
      return t !== null && t.oneWay !== never && madeUnderOldPipeline(f, row.values, entry, direction);
    })
    .map((f) => f.target);
}

/** `pairs` without `fields`' pairs: read through the current pipelines, and paired anew when saved. */
function withoutPairs(pairs: SourcePairs | null | undefined, fields: string[]): SourcePairs | null {
  if (!pairs || fields.length === 0) return pairs ?? null;
  const out: SourcePairs = { ...pairs };
  for (const t of fields) delete out[t];
  return out;
}

/**
 * Pulling: the re-derived fields whose Postgres value is not what the current pull pipeline makes of SharePoint's
 * value. Postgres kept the paired input, so it is rewritten from SharePoint (decideBackfill's `rebuild`).
 */
function pullRebuild(job: BackfillJob, p: Pair): string[] {
  if (job.spec.direction !== 'pull') return [];
  return p.rederive.filter((t) => {
    const f = job.scope.plan.byTarget.get(t);
    if (!f) return false;
    const held = toCanonical(f.sourceKind, p.row.values[f.source]);
    return !canonicalEquals(pulledValue(f, p.sp[t] ?? null), held);
  });
}

/**
 * A ledger row made ready to decide: where its sides agree under the current pipelines (a backfill stopped
 * before its ledger commit wrote one side, I6) it is re-paired; with its entry, a transformed field Postgres has
 * not changed keeps its synced value (I3), and one a push re-derives is read through the current pipeline.
 * `sp` is the item as read, or null before it is.
 */
function prepare(
  job: BackfillJob,
  read: LedgerEntry,
  row: SourceRow,
  sp: CanonicalRecord | null,
  healedBefore: boolean,
): Prepared {
  const { plan } = job.scope;
  const entry = agreedEntry(plan.fields, read, row.values, sp);
  const rederive = rederivedFields(job, entry, row);
  const through =
    job.spec.direction === 'push'
      ? { syncedValues: entry.syncedValues, sourceValues: withoutPairs(entry.sourceValues, rederive) }
      : entry;
  const pg = rowToCanonical(plan, row.values, through);
  return { entry, row, pg, rederive, healed: healedBefore || entry !== read };
}

function savedEntry(job: BackfillJob, p: Pair, synced: CanonicalRecord, eTag: string | null): LedgerEntry {
  return {
    ...p.entry,
    eTag: eTag ?? p.entry.eTag,
    syncedValues: synced,
    contentHash: contentHash(synced),
    state: 'SYNCED',
    // Transformed fields keep what each side held (I3), so the next push or pull recognises the values as synced.
    sourceValues: sourcePairs(
      job.scope.plan.fields,
      synced,
      { values: p.row.values, canonical: p.pg },
      p.written ?? {},
      // A re-derived field's pair is now made by the backfill's direction under its current pipeline.
      withoutPairs(p.entry.sourceValues, p.rederive),
      job.spec.direction,
    ),
  };
}

/**
 * I6: before a batch's writes go out, each chosen transformed field they change records in its pair the pair the
 * writes make (`next`, committed on its own): a run stopped after the writes and before its ledger commit leaves
 * sides that hold it, which every later run takes as in sync with that pair's stamps (agreedUnderCurrentPipelines),
 * even once the pipeline changed again. Without it, the value a backfill wrote looked like a user's edit of that side
 * to the next pull (or push), which wrote it to the other side through the newer pipeline.
 */
async function recordNextPairs(
  job: BackfillJob,
  writes: { pair: Pair; decision: PairDecision; synced: CanonicalRecord }[],
): Promise<void> {
  const { scope, spec } = job;
  if (scope.dryRun) return;
  const save: LedgerEntry[] = [];
  for (const { pair, decision, synced } of writes) {
    const pairs = pair.entry.sourceValues;
    if (!pairs || pair.adopted) continue;
    const written: Record<string, CanonicalValue> = {};
    if (decision.postgres.kind === 'write') {
      try {
        postgresValues(scope, decision.postgres.values, written);
      } catch {
        continue; // the write fails the same way: nothing goes out for it
      }
    }
    const made = savedEntry(job, { ...pair, written }, synced, null).sourceValues ?? {};
    let out: SourcePairs | null = null;
    for (const [target, now] of Object.entries(pairs)) {
      const next = made[target];
      if (!next || !spec.fields.includes(target)) continue;
      if (canonicalEquals(next.sp, now.sp) && stableStringify(next.pg) === stableStringify(now.pg)) continue;
      out ??= { ...pairs };
      out[target] = { ...now, next: { sp: next.sp, pg: next.pg, push: next.push, pull: next.pull } };
    }
    if (out) save.push({ ...pair.entry, sourceValues: out });
  }
  if (save.length === 0) return;
  scope.assertLockHeld();
  await scope.ledger.save(scope.ctx.meta, save);
}

/**
 * Runs `fn` in a source transaction whose updates keep the cursor column (unless another definition reads the table,
 * BackfillJob.keepCursor); a dry run rolls it back.
 */
async function inKeepCursorTx(job: BackfillJob, fn: (client: PoolClient) => Promise<void>): Promise<void> {
  const client = await job.scope.sourcePool.connect();
  try {
    await client.query('BEGIN');
    await checkConstraintsPerStatement(client); // a refusal fails its row's savepoint, not the batch's COMMIT
    if (job.keepCursor) await client.query('SELECT set_config($1, $2, true)', [KEEP_CURSOR_SETTING, 'on']);
    await fn(client);
    job.scope.assertLockHeld();
    await client.query(job.scope.dryRun ? 'ROLLBACK' : 'COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * The Postgres side of decisions: one savepoint per row, so a row Postgres refuses fails alone (I12). Returns
 * the pairs not written (failed, or changed since they were read): their SharePoint side is not written either.
 */
async function writePostgres(
  job: BackfillJob,
  writes: { pair: Pair; decision: PairDecision }[],
  commit: BatchCommit,
): Promise<Set<string>> {
  const unwritten = new Set<string>();
  if (writes.length === 0) return unwritten;
  const { scope } = job;
  await inKeepCursorTx(job, async (client) => {
    for (const { pair, decision } of writes) {
      const key = keyOfEntry(job, pair.entry);
      const now = await scope.source.lockRow(client, key);
      if (now !== (pair.row.version ?? pair.row.cursor)) {
        // Changed (or deleted) in Postgres since it was read: decided again on the row as it is now (run.ts).
        unwritten.add(pair.entry.identityHash);
        commit.outcomes.set(pair.entry.identityHash, 'skipped');
        commit.waiting.push(pair.entry.identityHash);
        commit.changed.push(pair.entry.identityHash);
        continue;
      }
      await client.query('SAVEPOINT backfill_row');
      try {
        // The engine's own Postgres writer (pullable, non-key fields only, I9/I13), as a pull applies a decision.
        pair.written = await applyToPostgres(scope, client, key, pair.entry.identity, decision);
        if (
          job.keepCursor &&
          pair.row.version === undefined &&
          (await scope.source.lockRow(client, key)) !== pair.row.cursor
        )
          job.cursorMoved++;
        await client.query('RELEASE SAVEPOINT backfill_row');
      } catch (err) {
        await client.query('ROLLBACK TO SAVEPOINT backfill_row');
        unwritten.add(pair.entry.identityHash);
        // A pipeline's refusal of SharePoint's value names itself (engine/transform.ts); Postgres's does not.
        const refused = err instanceof StepValueError ? '' : 'Postgres refused the write: ';
        fail(job, commit, pair.entry, `${refused}${(err as Error).message}`);
      }
    }
  });
  return unwritten;
}

/**
 * Decides and writes `pairs`. Returns the pairs whose SharePoint write met a concurrent change (412): the
 * caller reads them again and settles them once more, when `retry` allows it.
 */
async function settlePairs(
  job: BackfillJob,
  pairs: Pair[],
  commit: BatchCommit,
  retry: boolean,
): Promise<Pair[]> {
  const { scope, spec } = job;
  const pgWrites: { pair: Pair; decision: PairDecision }[] = [];
  const ops: WriteOp[] = [];
  const decided = new Map<string, { pair: Pair; decision: PairDecision; synced: CanonicalRecord }>();
  const conflicts: BatchCommit['conflicts'] = [];
  for (const p of pairs) {
    let rebuild: string[];
    try {
      rebuild = pullRebuild(job, p);
    } catch (err) {
      fail(
        job,
        commit,
        p.entry,
        `the field's current pull pipeline cannot read SharePoint's value: ${(err as Error).message}`,
      );
      continue;
    }
    const decision = decideBackfill(
      job.plan,
      scope.def,
      spec.direction,
      {
        base: p.entry.syncedValues,
        postgres: p.pg,
        sharepoint: p.sp,
        postgresModifiedAt: p.row.cursor,
        sharepointModifiedAt: p.item?.lastModifiedDateTime ?? p.entry.spModifiedAt,
      },
      rebuild,
    );
    if (decision.conflict) conflicts.push({ pair: p, decision });
    if (decision.outcome === 'PARKED') {
      commit.outcomes.set(p.entry.identityHash, 'conflicts');
      commit.waiting.push(p.entry.identityHash);
      continue;
    }
    const fields =
      decision.sharepoint.kind === 'write' ? graphFields(scope, decision.sharepoint.values) : null;
    // A text SharePoint's column will refuse (I12): neither side is written for this row, as the push parks it.
    const refusal = fields && knownRefusal(job.plan, p.entry.identity, fields, BACKFILL_AGAIN);
    if (refusal) {
      fail(job, commit, p.entry, refusal);
      continue;
    }
    const synced = mergeSynced(p.entry.syncedValues, decision.synced ?? {}, spec.fields);
    decided.set(p.entry.identityHash, { pair: p, decision, synced });
    if (decision.postgres.kind === 'write') pgWrites.push({ pair: p, decision });
    if (fields) {
      ops.push({
        kind: 'update',
        ref: p.entry.identityHash,
        itemId: p.entry.itemId as string,
        eTag: p.item?.eTag ?? p.entry.eTag ?? undefined,
        fields,
      });
    }
  }
  await recordNextPairs(
    job,
    [...decided.values()].filter(
      (d) => d.decision.postgres.kind === 'write' || d.decision.sharepoint.kind === 'write',
    ),
  );
  const pgFailed = await writePostgres(job, pgWrites, commit);
  const sent = ops.filter((op) => !pgFailed.has(op.ref));
  for (const [hash, d] of decided) {
    if (pgFailed.has(hash) || sent.some((op) => op.ref === hash)) continue;
    const wrotePostgres = d.decision.postgres.kind === 'write';
    commit.outcomes.set(hash, d.decision.conflict ? 'conflicts' : wrotePostgres ? 'updated' : 'equal');
    // Nothing (more) to send: the ledger learns the agreed values (an aligned field, a stale synced value).
    const changed = differs(d.pair.entry.syncedValues, d.synced, spec.fields).length > 0;
    if (changed || wrotePostgres || d.pair.adopted || d.pair.healed) {
      const eTag = d.pair.adopted || onlyChosenFieldsMoved(job, d.pair) ? (d.pair.item?.eTag ?? null) : null;
      commit.save.push(savedEntry(job, d.pair, d.synced, eTag));
    }
  }
  if (sent.length === 0) {
    commit.conflicts.push(
      ...conflicts.filter((c) => commit.outcomes.get(c.pair.entry.identityHash) !== 'failed'),
    );
    return [];
  }
  scope.assertLockHeld();
  const outcomes = await scope.target.writeItems(scope.siteId, scope.listId, sent);
  await confirmListsOfNotFound(scope, scope.listId, outcomes);
  const again: Pair[] = [];
  for (const o of outcomes) {
    const d = decided.get(o.ref);
    if (!d) continue;
    if (o.status === 'updated') {
      commit.outcomes.set(o.ref, d.decision.conflict ? 'conflicts' : 'updated');
      const eTag = onlyChosenFieldsMoved(job, d.pair) ? o.eTag : null;
      commit.save.push(savedEntry(job, d.pair, d.synced, eTag));
    } else if (o.status === 'precondition_failed' && retry) {
      again.push(d.pair);
    } else if (o.status === 'not_found') {
      // Deleted in SharePoint since it was read: the pull's delete handling (I8) or a full_resync decides.
      commit.outcomes.set(o.ref, 'skipped');
    } else {
      fail(
        job,
        commit,
        d.pair.entry,
        o.status === 'precondition_failed'
          ? 'the item kept changing in SharePoint while the backfill wrote it; run the backfill again'
          : pushFailureMessage(scope, null, o, BACKFILL_AGAIN),
      );
    }
  }
  // A pair written again after a 412 is decided (and its conflict recorded) on what SharePoint holds then; a
  // pair whose write failed keeps its conflict for the next run to meet again.
  commit.conflicts.push(
    ...conflicts.filter(
      (c) => !again.includes(c.pair) && commit.outcomes.get(c.pair.entry.identityHash) !== 'failed',
    ),
  );
  return again;
}

/** Re-reads the items of `pairs` (a 412 said they changed): null items are left to the pull (I8). */
async function refreshed(job: BackfillJob, pairs: Pair[], commit: BatchCommit): Promise<Pair[]> {
  const items = await readItems(
    job,
    pairs.map((p) => p.entry.itemId as string),
  );
  const out: Pair[] = [];
  for (const p of pairs) {
    const item = items.get(p.entry.itemId as string) ?? null;
    if (!item) {
      commit.outcomes.set(p.entry.identityHash, 'skipped');
      continue;
    }
    const sp = fromGraphFields(item.fields, job.scope.plan.columns);
    try {
      out.push({ ...p, ...prepare(job, p.entry, p.row, sp, p.healed), item, sp });
    } catch (err) {
      fail(job, commit, p.entry, (err as Error).message);
    }
  }
  return out;
}

/**
 * full_resync (push): items missing from the list are adopted by the hidden key column when an item carries
 * the row's identity (I6), otherwise created again from the row; the intent to create is committed first.
 */
async function recreate(job: BackfillJob, missing: Prepared[], commit: BatchCommit): Promise<Pair[]> {
  const { scope } = job;
  const { def, target, siteId, listId, plan, ctx } = scope;
  const adopted: Pair[] = [];
  const creates: { op: WriteOp; m: (typeof missing)[number] }[] = [];
  for (const m of missing) {
    const found = await target
      .findItemsByField(siteId, listId, def.target.keyColumn, m.entry.identityHash, plan.select)
      // I15: a 404 of the list query is the list gone, never "no such item" (which would create a second one).
      .catch((err: unknown) => rethrowUnlessListGone(scope, listId, err));
    if (found.length > 0) {
      const item = found[0];
      const sp = fromGraphFields(item.fields, plan.columns);
      adopted.push({
        entry: { ...m.entry, itemId: item.id, state: 'SYNCED', syncedValues: m.entry.syncedValues ?? sp },
        row: m.row,
        pg: m.pg,
        item,
        sp,
        adopted: true,
        rederive: m.rederive,
        healed: m.healed,
      });
      continue;
    }
    const fields = graphFields(scope, pick(m.pg, plan.toSharePoint));
    // Refused before its create is recorded (I12): no pending entry for a create never sent.
    const refusal = knownRefusal(plan, m.entry.identity, fields, BACKFILL_AGAIN);
    if (refusal) {
      fail(job, commit, m.entry, refusal);
      continue;
    }
    creates.push({
      m,
      op: {
        kind: 'create',
        ref: m.entry.identityHash,
        fields: { ...fields, [def.target.keyColumn]: m.entry.identityHash },
        adoptBy: { field: def.target.keyColumn, value: m.entry.identityHash },
      },
    });
  }
  if (creates.length === 0) return adopted;
  scope.assertLockHeld();
  await scope.ledger.save(
    ctx.meta,
    // The values sent are the base an adoption of the item compares both sides with.
    creates.map(({ m }) => ({
      ...m.entry,
      itemId: null,
      eTag: null,
      syncedValues: createdSynced(plan, m.pg, null),
      contentHash: null,
      state: 'PENDING_CREATE' as const,
    })),
  );
  const outcomes: WriteOutcome[] = await target.writeItems(
    siteId,
    listId,
    creates.map((c) => c.op),
  );
  await confirmListsOfNotFound(scope, listId, outcomes);
  const byRef = new Map(creates.map((c) => [c.op.ref, c.m]));
  for (const o of outcomes) {
    const m = byRef.get(o.ref);
    if (!m) continue;
    if (o.status !== 'created') {
      // The entry stays PENDING_CREATE: the next push looks for the item by its key and adopts or re-creates it.
      // A create whose outcome stays unknown may still land: its wait starts now (push/pendingCreates.ts), since
      // this run, finishing, would otherwise let the next push create the item again at once.
      if (!appliedNothing(o)) {
        scope.assertLockHeld(); // a run that lost its lock leaves the entry to the one holding it (I11)
        await scope.ledger.markPendingChecked(ctx.meta, [o.ref]);
      }
      fail(job, commit, m.entry, pushFailureMessage(scope, null, o, BACKFILL_AGAIN));
      continue;
    }
    const synced = createdSynced(plan, m.pg, responseFields(o));
    commit.outcomes.set(o.ref, 'created');
    commit.save.push({
      ...m.entry,
      itemId: o.itemId,
      eTag: o.eTag,
      syncedValues: synced,
      contentHash: contentHash(synced),
      state: 'SYNCED',
      spModifiedAt: o.lastModifiedDateTime ?? null,
    });
  }
  return adopted;
}

/** What the push does with a row gone from Postgres, by `deletes.push` (I8), for the summary. */
function nextForGoneRow(job: BackfillJob): string {
  const { deletes } = job.scope.def;
  return deletes.push === 'PROPAGATE'
    ? 'deleted in Postgres: the next push deletes its item (deletes.push PROPAGATE)'
    : `deleted in Postgres: the next push sets ${deletes.pushSoftColumn ?? 'the soft-delete column'} on its item (deletes.push SOFT)`;
}

/**
 * full_resync pulling: rows gone from Postgres whose ledger entries remain. Under `deletes.push` IGNORE a Postgres
 * delete never reaches SharePoint, so the item is the row's surviving copy and the row is inserted again from it
 * (key from the ledger, pullable fields from the item). Under PROPAGATE or SOFT the delete is a change the push
 * carries to SharePoint: re-creating the row would undo it (a lost edit), so the row is reported, not re-created.
 */
async function restoreRows(job: BackfillJob, gone: LedgerEntry[], commit: BatchCommit): Promise<void> {
  const { scope } = job;
  const { def, plan } = scope;
  if (def.deletes.push !== 'IGNORE') {
    for (const e of gone) {
      commit.outcomes.set(e.identityHash, 'skipped');
      if (job.missingRows.length < MAX_FAILURES_SHOWN)
        job.missingRows.push({ key: e.identity, itemId: e.itemId as string, next: nextForGoneRow(job) });
    }
    return;
  }
  const items = await readItems(
    job,
    gone.map((e) => e.itemId as string),
  );
  // The fields the row is re-created with, as a row inserted for a new item takes them (pull/insert.ts): a one-way
  // field's value too, kept as it is rather than lost. A field the row is not given (declared PUSH_ONLY) is left
  // out of the synced values: aligned by the next run (I14), so that Postgres's empty value never clears the item.
  const targets = plan.fields.filter((f) => f.pulledOnInsert || f.key).map((f) => f.target);
  const inserted = plan.fields.filter((f) => f.pulledOnInsert && !f.key).map((f) => f.target);
  await inKeepCursorTx(job, async (client) => {
    for (const entry of gone) {
      const item = items.get(entry.itemId as string) ?? null;
      if (!item) {
        commit.outcomes.set(entry.identityHash, 'skipped'); // both sides gone: the pull forgets the pair (I8)
        continue;
      }
      const sp = fromGraphFields(item.fields, plan.columns);
      const synced = pick(sp, targets);
      const decision: PairDecision = {
        outcome: 'TAKE_SHAREPOINT',
        conflict: false,
        conflictFields: [],
        keyEdits: [],
        sharepoint: { kind: 'none' },
        postgres: { kind: 'recreate', values: pick(sp, inserted) },
        synced,
        reason: 'full_resync (pull): row re-created from its item',
      };
      await client.query('SAVEPOINT backfill_row');
      try {
        const written = await applyToPostgres(
          scope,
          client,
          keyOfEntry(job, entry),
          entry.identity,
          decision,
        );
        await client.query('RELEASE SAVEPOINT backfill_row');
        commit.outcomes.set(entry.identityHash, 'created');
        commit.save.push({
          ...entry,
          eTag: item.eTag,
          syncedValues: synced,
          contentHash: contentHash(synced),
          provenance: 'PULL',
          state: 'SYNCED',
          spModifiedAt: item.lastModifiedDateTime,
          sourceValues: sourcePairs(plan.fields, synced, null, written, null, 'pull'),
        });
      } catch (err) {
        await client.query('ROLLBACK TO SAVEPOINT backfill_row');
        fail(job, commit, entry, `Postgres refused to re-create the row: ${(err as Error).message}`);
      }
    }
  });
}

/**
 * What a batch adds to its backfill's stored counts, each ledger row counted once so that progress never passes the
 * ledger's size: `again` rows examined again (left waiting for an open conflict, they were counted examined and
 * skipped then) have that outcome replaced by the new one, not added to it.
 */
export function countedOnce(counts: BackfillCounts, again: number): BackfillCounts {
  return { ...counts, examined: counts.examined - again, skipped: counts.skipped - again };
}

/**
 * Backfills one batch of ledger rows and commits it with the position after it (or `position`: rows left waiting
 * re-examined behind it); returns this run's counts of it, what it `added` to the backfill's counts (countedOnce),
 * and the rows left waiting for an open conflict (not those changed in Postgres meanwhile, which wait too).
 */
export async function backfillBatch(
  job: BackfillJob,
  entries: LedgerEntry[],
  position?: string,
): Promise<BackfillCounts & { added: BackfillCounts; waiting: string[] }> {
  const commit: BatchCommit = { save: [], conflicts: [], outcomes: new Map(), waiting: [], changed: [] };
  if (job.scope.lists.length > 1) {
    // Routed: each list's rows are read and written in their own list (an entry of no routed list is skipped).
    for (const list of job.scope.lists) {
      const ofList = entries.filter((e) => e.listId === list.listId);
      if (ofList.length === 0) continue;
      // A list that does not fit the mapping this run (planLists): its rows fail with why, the others go on.
      if (list.problem) {
        for (const e of ofList) fail(job, commit, e, list.problem);
        continue;
      }
      const sub: BackfillJob = { ...job, scope: forListId(job.scope, list.listId), cursorMoved: 0 };
      await backfillList(sub, ofList, commit);
      job.cursorMoved += sub.cursorMoved;
    }
  } else await backfillList(job, entries, commit);

  const counts = emptyBackfillCounts();
  counts.examined = entries.length;
  for (const e of entries) counts[commit.outcomes.get(e.identityHash) ?? 'skipped']++;
  const added = countedOnce(counts, position === undefined ? 0 : entries.length);
  await commitBatch(job, commit, position ?? entries[entries.length - 1].identityHash, added, entries);
  // Rows changed meanwhile are not passed over by this run: it examines them again after its pass.
  const changed = new Set(commit.changed);
  return { ...counts, added, waiting: commit.waiting.filter((h) => !changed.has(h)) };
}

/** The rows of one list: decided and written; outcomes, ledger rows and conflicts go into `commit`. */
async function backfillList(job: BackfillJob, entries: LedgerEntry[], commit: BatchCommit): Promise<void> {
  const { scope, spec } = job;
  const { ctx, def, plan, source, listId } = scope;
  const fullResync = spec.strategy === 'full_resync';
  const recreating = fullResync && spec.direction === 'push';
  const restoring = fullResync && spec.direction === 'pull';

  const candidates = entries.filter((e) => {
    const live = e.listId === listId && e.state === 'SYNCED' && e.itemId !== null;
    // Under IGNORE the item of a deleted row is kept (ORPHANED): a full resync pulling brings its row back.
    const kept =
      restoring &&
      def.deletes.push === 'IGNORE' &&
      e.listId === listId &&
      e.state === 'ORPHANED' &&
      !!e.itemId;
    // Under pull IGNORE the row of an item deleted in SharePoint is kept (ITEM_DELETED): a full resync pushing is
    // asked to bring its item back.
    const held = recreating && e.listId === listId && e.state === 'ITEM_DELETED';
    if (live || kept || held) return true;
    // Another list's entry (relink's business), an ORPHANED item, or a create the push settles (I6): a stopped
    // run's create may still land, and only the push waits for it (push/pendingCreates.ts).
    commit.outcomes.set(e.identityHash, 'skipped');
    return false;
  });
  const rows = await source.readByKeys(candidates.map((e) => keyOfEntry(job, e)));
  // A view's key may be held by several rows (I13): such a pair is failed, neither row's values written.
  const { rowByHash, heldBy } = rowsByIdentity(job.scope, rows);
  const parked = await openConflictIdentities(
    ctx.meta,
    scope.definitionId,
    candidates.map((e) => e.identityHash),
  );

  const prepared: Prepared[] = [];
  const gone: LedgerEntry[] = [];
  for (const entry of candidates) {
    const held = heldBy.get(entry.identityHash) ?? 0;
    if (held > 1) {
      fail(job, commit, entry, sharedKeyMessage(held, entry.identity));
      continue;
    }
    const row = rowByHash.get(entry.identityHash);
    if (restoring && !row && !parked.has(entry.identityHash)) {
      gone.push(entry);
      continue;
    }
    if (parked.has(entry.identityHash)) {
      // MANUAL: neither side changes until the conflict is resolved; the backfill re-examines it after.
      commit.outcomes.set(entry.identityHash, 'skipped');
      commit.waiting.push(entry.identityHash);
      continue;
    }
    if (!row || entry.state === 'ORPHANED') {
      commit.outcomes.set(entry.identityHash, 'skipped'); // a deleted row is the push's (I8)
      continue;
    }
    try {
      prepared.push(prepare(job, entry, row, null, false));
    } catch (err) {
      fail(job, commit, entry, (err as Error).message);
    }
  }

  const readAll = fullResync || spec.direction === 'pull';
  const toRead = prepared.filter(
    (p) =>
      p.entry.state === 'SYNCED' && (readAll || unalignedFields(job.plan, p.entry.syncedValues).length > 0),
  );
  const items = await readItems(
    job,
    toRead.map((p) => p.entry.itemId as string),
  );
  const pairs: Pair[] = [];
  const missing: typeof prepared = [];
  for (const p of prepared) {
    const read = p.entry.state === 'SYNCED' && items.has(p.entry.itemId as string);
    const item = read ? (items.get(p.entry.itemId as string) ?? null) : null;
    if (p.entry.state !== 'SYNCED' || (read && item === null)) {
      if (recreating) missing.push(p);
      else commit.outcomes.set(p.entry.identityHash, 'skipped'); // the item is gone: the pull decides (I8)
      continue;
    }
    const sp = item ? fromGraphFields(item.fields, plan.columns) : (p.entry.syncedValues ?? {});
    let ready: Prepared;
    try {
      ready = item ? prepare(job, p.entry, p.row, sp, p.healed) : p;
    } catch (err) {
      fail(job, commit, p.entry, (err as Error).message);
      continue;
    }
    pairs.push({ ...ready, item, sp, adopted: false });
  }
  if (missing.length > 0) pairs.push(...(await recreate(job, missing, commit)));
  if (gone.length > 0) await restoreRows(job, gone, commit);

  const conflicting = await settlePairs(job, pairs, commit, true);
  if (conflicting.length > 0)
    await settlePairs(job, await refreshed(job, conflicting, commit), commit, false);
  // Every row this list examined and left alone was equal.
  for (const e of entries)
    if (!commit.outcomes.has(e.identityHash)) commit.outcomes.set(e.identityHash, 'equal');
}

async function commitBatch(
  job: BackfillJob,
  commit: BatchCommit,
  position: string,
  counts: BackfillCounts,
  entries: LedgerEntry[],
): Promise<void> {
  const { scope, spec } = job;
  if (scope.dryRun) {
    await scope.ledger.save(scope.ctx.meta, commit.save);
    return;
  }
  await inTransaction(scope.ctx.meta, async (client) => {
    await scope.ledger.save(client, commit.save);
    for (const { pair, decision } of commit.conflicts) {
      await recordConflict(client, scope.definitionId, {
        runId: scope.runId,
        identityHash: pair.entry.identityHash,
        identity: pair.entry.identity,
        itemId: pair.entry.itemId,
        detectedBy: spec.direction === 'push' ? 'PUSH' : 'PULL',
        policy: scope.def.conflictPolicy,
        base: pair.entry.syncedValues,
        postgres: pair.pg,
        sharepoint: pair.item ? pair.sp : null,
        outcome: decision.outcome,
        resolvedValues:
          decision.outcome === 'PARKED'
            ? null
            : mergeSynced(pair.entry.syncedValues, decision.synced ?? {}, spec.fields),
        status: decision.outcome === 'PARKED' ? 'OPEN' : 'RESOLVED',
        reason: `backfill (${spec.direction}) of ${spec.fields.join(', ')}: ${decision.reason}`,
        fields: decision.conflictFields,
      });
    }
    await advanceBackfill(client, scope.definitionId, position, counts, {
      examined: entries.map((e) => e.identityHash),
      waiting: commit.waiting,
    });
    scope.assertLockHeld();
  });
}
