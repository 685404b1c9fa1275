import { markRunWrites, unmarkForRelease } from '../capture/lsn/origin';
import type { PoolClient } from 'pg';
import { z } from 'zod';
import {
  contentHash,
  fromGraphFields,
  identityOf,
  toCanonical,
  type CanonicalRecord,
  type CanonicalValue,
  type FieldKind,
} from '../canonical';
import type { SourceRow } from '../source/postgres/PostgresSource';
import { closeCopyConflicts, openConflictIdentities, recordConflict } from '../store/conflicts';
import {
  readCursor,
  readListCursor,
  writeCursor,
  writeListCursor,
  type TargetFingerprint,
} from '../store/cursors';
import { dueFailures, park, resolveParked } from '../store/failures';
import { movesDeletingOld, movesInto } from '../store/moves';
import type { LedgerEntry } from '../store/ledger';
import { ResyncRequiredError, type DeltaEntry, type ListItem, type WriteOp } from '../target/sharepoint';
import { decideAligned } from './alignment';
import { differs, keyOf, pick, rowToCanonical } from './plan';
import { applyToPostgres, graphFields } from './push/writes';
import { pulledValue, sourcePairs } from './transform';
import type { PairDecision } from './reconcile';
import { forList, skipUnusableList } from './routing';
import { withRun, type RunOptions, type RunScope } from './runner';
import type { EngineContext, RunSummary } from './types';

/**
 * Progress of a delta feed being applied: the next page's link, and for a full enumeration the id that
 * marks ledger entries seen in it (so a crash mid-enumeration resumes without forgetting what it saw).
 */
const progressSchema = z.object({ link: z.string().min(1), enumeration: z.string().nullable() });
type Progress = z.output<typeof progressSchema>;

function parseProgress(raw: string | null): Progress | null {
  if (!raw) return null;
  try {
    const parsed = progressSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Whether a stored link, built for `fingerprint`, reads this list with every field the plan selects. */
function linkCarriesPlan(fingerprint: TargetFingerprint | null, listId: string, select: string[]): boolean {
  if (!fingerprint || fingerprint.listId !== listId) return false;
  const carried = new Set(fingerprint.select);
  return select.every((f) => carried.has(f));
}

interface WriteBack {
  op: WriteOp;
  entry: LedgerEntry;
  synced: CanonicalRecord;
  /** The item's outcome already counted when its Postgres side settled, or null: the write-back is its outcome. */
  counted: Outcome | null;
}

/** The counters one pulled item can land in: every processed item lands in exactly one. */
type Outcome = 'created' | 'updated' | 'deleted' | 'skipped' | 'conflicts' | 'failed';

/**
 * Runs `fn` with a transaction on the source and one on the metadata database (the same one when they are).
 * A dry run rolls both back: the page is applied as the real run would apply it, and nothing is kept.
 */
async function inPageTx<T>(
  scope: RunScope,
  fn: (source: PoolClient, meta: PoolClient) => Promise<T>,
): Promise<T> {
  const meta = await scope.ctx.meta.connect();
  const source = scope.sameDatabase ? meta : await scope.sourcePool.connect();
  const end = scope.dryRun ? 'ROLLBACK' : 'COMMIT';
  let marked = false;
  try {
    // Capture (LSN) recognises these writes by their origin and does not push them back (I3).
    marked = await markRunWrites(scope, source);
    await meta.query('BEGIN');
    if (source !== meta) await source.query('BEGIN');
    const out = await fn(source, meta);
    scope.assertLockHeld();
    if (source !== meta) await source.query(end);
    await meta.query(end);
    return out;
  } catch (err) {
    if (source !== meta) await source.query('ROLLBACK').catch(() => undefined);
    await meta.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    const stuck = await unmarkForRelease(source, marked);
    if (source !== meta) source.release(stuck);
    meta.release(source === meta ? stuck : undefined);
  }
}

function insertValues(
  scope: RunScope,
  sp: CanonicalRecord,
): Record<string, { kind: FieldKind; value: CanonicalValue }> {
  const out: Record<string, { kind: FieldKind; value: CanonicalValue }> = {};
  for (const f of scope.plan.fields) {
    if (f.pulledOnInsert)
      out[f.source] = f.transforms
        ? { kind: f.sourceKind, value: pulledValue(f, sp[f.target] ?? null) }
        : { kind: f.kind, value: sp[f.target] ?? null };
  }
  return out;
}

/** Items matched to ledger entries by the hidden key column instead of by item id. */
interface KeyClaims {
  /** Adopted as their row's item: created by a push that crashed, or standing in for a paired item that is gone. */
  adopted: Set<string>;
  /** Carrying the key of a row paired with another live item (a copy, a flow, an import): not applied. */
  copies: Map<string, { entry: LedgerEntry; pairedWith: string }>;
  /** Routed: created by a move still in flight into this list; the push finishes or undoes it. */
  moving: Set<string>;
}

const byNumericId = (a: string, b: string) => Number(a) - Number(b) || a.localeCompare(b);

/**
 * Items the ledger does not know by id may carry a row's identity hash in the hidden key column. Adoption by
 * that key is for an item created by a push that crashed before its ledger commit (the entry is PENDING_CREATE,
 * I6), or for one whose row's paired item no longer exists (read to confirm). Any other item carrying a key
 * already paired with a live item is a copy: it neither overwrites the row nor becomes paired (I1, I7). Among
 * several claimants of one key, the oldest item (lowest id) is adopted. Adopted items are entered in `byItem`.
 */
async function claimsByHiddenKey(
  scope: RunScope,
  entries: DeltaEntry[],
  byItem: Map<string, LedgerEntry>,
): Promise<KeyClaims> {
  const { ctx, def, ledger, target, siteId, listId } = scope;
  const claimants = new Map<string, string[]>();
  for (const e of entries) {
    if (e.kind !== 'upsert' || byItem.has(e.item.id)) continue;
    const key = e.item.fields[def.target.keyColumn];
    if (typeof key === 'string' && key) claimants.set(key, [...(claimants.get(key) ?? []), e.item.id]);
  }
  const claims: KeyClaims = { adopted: new Set(), copies: new Map(), moving: new Set() };
  if (claimants.size === 0) return claims;
  const moving = scope.route
    ? await movesInto(ctx.meta, scope.definitionId, listId, [...claimants.keys()])
    : new Set<string>();
  for (const [hash, entry] of await ledger.byIdentities(ctx.meta, [...claimants.keys()])) {
    if (moving.has(hash)) {
      for (const itemId of claimants.get(hash) as string[]) claims.moving.add(itemId);
      continue;
    }
    let paired: string | null = null;
    // Single list: an entry of another list (a replaced list being relinked) has no live item in this one.
    // Routed: the entry's item may live in another routed list; it is paired while it exists there.
    const pairedList = scope.route ? entry.listId : listId;
    if (entry.state !== 'PENDING_CREATE' && entry.itemId && entry.listId === pairedList) {
      const live = await target.getItem(siteId, pairedList, entry.itemId);
      if (live) paired = entry.itemId;
      else
        ctx.log.info(
          `${def.name}: item ${entry.itemId} of a synced row is gone; an item carrying its key takes its place`,
        );
    }
    for (const itemId of (claimants.get(hash) as string[]).sort(byNumericId)) {
      if (paired !== null) {
        claims.copies.set(itemId, { entry, pairedWith: paired });
        continue;
      }
      // The gone item's tombstone (if in this feed) must not delete the row the adopted item now stands for.
      if (entry.itemId && entry.listId === listId) byItem.delete(entry.itemId);
      // Routed: the item is paired in this list (an UNROUTED entry had none: it is now a synced pair).
      byItem.set(itemId, {
        ...entry,
        itemId,
        ...(scope.route ? { listId, state: entry.state === 'UNROUTED' ? 'SYNCED' : entry.state } : {}),
      });
      claims.adopted.add(itemId);
      paired = itemId;
    }
  }
  return claims;
}

/**
 * Applies one page of delta entries (the last occurrence of an item wins) in one transaction together with
 * its ledger changes and the progress marker (I6). Echoes are skipped (I3); conflicts go to the policy (I7);
 * a row that Postgres refuses is parked with Postgres's message and the rest of the page is applied (I12).
 */
async function applyEntries(
  scope: RunScope,
  feed: DeltaEntry[],
  progress: {
    cursorValue: string | null;
    progress: Progress | null;
    fingerprint: TargetFingerprint;
  } | null,
  enumeration: string | null,
): Promise<void> {
  const { ctx, def, plan, ledger, source, listId } = scope;
  const latest = new Map<string, DeltaEntry>();
  for (const e of feed) {
    const id = e.kind === 'deleted' ? e.id : e.item.id;
    latest.delete(id);
    latest.set(id, e);
  }
  const entries = [...latest.values()];
  const ids = [...latest.keys()];
  const byItem = await ledger.byItemIds(ctx.meta, listId, ids);
  const claims = await claimsByHiddenKey(scope, entries, byItem);
  const known = [...byItem.values(), ...[...claims.copies.values()].map((c) => c.entry)];
  const rows = await source.readByKeys(known.map((e) => def.source.key.map((k) => e.identity[k])));
  const rowByHash = new Map<string, SourceRow>();
  for (const r of rows) rowByHash.set(identityOf(def.source.key, r.values, plan.keyKinds).hash, r);
  const [parked, moving] = await Promise.all([
    openConflictIdentities(
      ctx.meta,
      scope.definitionId,
      known.map((e) => e.identityHash),
    ),
    // A pair whose move in flight may have sent its old item's delete: that delete is the move's (the push
    // settles it), not the row's. Before the move sent it, the delete is someone else's and is decided as usual.
    // An edit of the old item is applied as usual: the push that settles the move writes it to the new item.
    scope.route
      ? movesDeletingOld(
          ctx.meta,
          scope.definitionId,
          known.map((e) => e.identityHash),
        )
      : new Set<string>(),
  ]);

  const writeBacks: WriteBack[] = [];
  await inPageTx(scope, async (client, meta) => {
    const save: LedgerEntry[] = [];
    const remove: string[] = [];
    const resolved: string[] = [];
    for (const e of entries) {
      const itemId = e.kind === 'deleted' ? e.id : e.item.id;
      scope.counts.processed++;
      if (claims.moving.has(itemId)) {
        scope.counts.skipped++;
        resolved.push(itemId);
        continue;
      }
      const copy = claims.copies.get(itemId);
      if (copy && e.kind === 'upsert') {
        await recordCopy(scope, meta, e.item, copy, rowByHash.get(copy.entry.identityHash) ?? null);
        continue;
      }
      const entry = byItem.get(itemId);
      if (
        entry &&
        (parked.has(entry.identityHash) ||
          (e.kind === 'deleted' && (moving.has(entry.identityHash) || entry.state === 'PENDING_CREATE')))
      ) {
        scope.counts.skipped++;
        continue;
      }
      if (entry?.state === 'ORPHANED') {
        if (e.kind === 'deleted') remove.push(entry.identityHash);
        scope.counts.skipped++;
        continue;
      }
      // An item that fails after an outcome was counted (a conflict recorded, then Postgres refused) counts
      // only as failed: its savepoint undoes the rest.
      const countedBefore = { ...scope.counts };
      await client.query('SAVEPOINT item');
      try {
        if (!entry) {
          if (e.kind === 'deleted') {
            scope.counts.skipped++; // never synced: nothing to delete
          } else {
            const sp = fromGraphFields(e.item.fields, plan.columns);
            const values = insertValues(scope, sp);
            const underivable = def.source.key.filter((k) => !(k in values) && !source.column(k).hasDefault);
            if (underivable.length) {
              throw new Error(
                `cannot insert a row for this new item: key column(s) ${underivable.join(', ')} are not mapped from ` +
                  'SharePoint (PULL_ONLY or BIDIRECTIONAL) and have no database default',
              );
            }
            const row = await source.insertRow(client, values);
            const { hash } = identityOf(def.source.key, row.values, plan.keyKinds);
            const identity: Record<string, unknown> = {};
            for (const k of def.source.key) identity[k] = row.values[k];
            const synced = {
              ...pick(rowToCanonical(plan, row.values), plan.toPostgres),
              ...pick(
                sp,
                plan.fields.map((f) => f.target),
              ),
            };
            const inserted: Record<string, CanonicalValue> = {};
            for (const f of plan.fields)
              if (f.transforms && f.pulledOnInsert)
                inserted[f.target] = toCanonical(f.sourceKind, row.values[f.source]);
            save.push({
              identityHash: hash,
              identity,
              listId,
              itemId,
              eTag: e.item.eTag,
              syncedValues: synced,
              contentHash: contentHash(synced),
              provenance: 'PULL',
              state: 'SYNCED',
              lastSourceTs: row.cursor,
              spModifiedAt: e.item.lastModifiedDateTime,
              sourceValues: sourcePairs(plan.fields, synced, null, inserted),
            });
            scope.counts.created++;
          }
        } else {
          const row = rowByHash.get(entry.identityHash) ?? null;
          const pg = row ? rowToCanonical(plan, row.values, entry) : null;
          const sp = e.kind === 'deleted' ? null : fromGraphFields(e.item.fields, plan.columns);
          const spModifiedAt = e.kind === 'deleted' ? null : e.item.lastModifiedDateTime;
          // Fields mapped since this pair last synced are aligned now that both sides are read (I14).
          const decision = decideAligned(plan, def, {
            base: entry.syncedValues,
            postgres: pg,
            sharepoint: sp,
            postgresModifiedAt: row?.cursor ?? null,
            sharepointModifiedAt: spModifiedAt,
          });
          await settle(
            scope,
            client,
            meta,
            {
              entry,
              row,
              pg,
              sp,
              decision,
              itemId,
              eTag: e.kind === 'deleted' ? null : e.item.eTag,
              spModifiedAt,
            },
            { save, remove, writeBacks },
          );
        }
        resolved.push(itemId);
        await client.query('RELEASE SAVEPOINT item');
      } catch (err) {
        await client.query('ROLLBACK TO SAVEPOINT item');
        Object.assign(scope.counts, countedBefore);
        scope.counts.failed++;
        await park(meta, scope.definitionId, {
          direction: 'PULL',
          itemKey: parkKey(scope, itemId),
          sourceIdentity: entry?.identity ?? null,
          spItemId: itemId,
          error: `item ${itemId}: ${(err as Error).message}`,
        });
      }
    }
    await ledger.save(meta, save);
    await ledger.remove(meta, remove);
    await resolveParked(
      meta,
      scope.definitionId,
      'PULL',
      resolved.map((id) => parkKey(scope, id)),
    );
    // An item that was a copy and is now adopted, deleted or without a paired key no longer conflicts.
    const adopted = resolved.filter((id) => claims.adopted.has(id));
    await closeCopyConflicts(meta, scope.definitionId, adopted, 'ADOPTED');
    await closeCopyConflicts(
      meta,
      scope.definitionId,
      resolved.filter((id) => !claims.adopted.has(id)),
      'SETTLED',
    );
    if (enumeration) await ledger.markSeen(meta, listId, ids, enumeration);
    if (progress) {
      await writeTargetCursor(
        scope,
        meta,
        progress.cursorValue,
        progress.progress ? JSON.stringify(progress.progress) : null,
        progress.fingerprint,
      );
    }
  });
  await flushWriteBacks(scope, writeBacks);
}

/**
 * An item carrying the key of a row paired with another live item: recorded as an OPEN COPY conflict naming
 * both items, and parked, so later pulls look at it again (with back-off) until it is deleted, its key is
 * cleared, or the paired item is gone and it is adopted in its place. The pair itself keeps syncing.
 */
async function recordCopy(
  scope: RunScope,
  meta: PoolClient,
  item: ListItem,
  copy: { entry: LedgerEntry; pairedWith: string },
  row: SourceRow | null,
): Promise<void> {
  const { def, plan } = scope;
  const sp = fromGraphFields(item.fields, plan.columns);
  const pg = row ? rowToCanonical(plan, row.values) : null;
  const reason =
    `item ${item.id} carries the hidden key (${def.target.keyColumn}) of the row paired with item ${copy.pairedWith}, ` +
    `which still exists: a copy, a flow or an import. It was not applied and is not paired. Delete item ${item.id} ` +
    `in SharePoint, or clear its ${def.target.keyColumn} to sync it as a new item`;
  scope.counts.conflicts++;
  await recordConflict(meta, scope.definitionId, {
    runId: scope.runId,
    identityHash: copy.entry.identityHash,
    identity: copy.entry.identity,
    itemId: item.id,
    detectedBy: 'PULL',
    policy: def.conflictPolicy,
    base: copy.entry.syncedValues,
    postgres: pg,
    sharepoint: sp,
    outcome: 'NOT_APPLIED',
    resolvedValues: null,
    status: 'OPEN',
    reason,
    fields: differs(pg, sp, plan.toPostgres),
    kind: 'COPY',
  });
  await park(meta, scope.definitionId, {
    direction: 'PULL',
    itemKey: parkKey(scope, item.id),
    sourceIdentity: copy.entry.identity,
    spItemId: item.id,
    error: reason,
  });
}

interface Pair {
  entry: LedgerEntry;
  row: SourceRow | null;
  pg: CanonicalRecord | null;
  sp: CanonicalRecord | null;
  decision: PairDecision;
  itemId: string;
  eTag: string | null;
  spModifiedAt: string | null;
}

async function settle(
  scope: RunScope,
  client: PoolClient,
  meta: PoolClient,
  p: Pair,
  out: { save: LedgerEntry[]; remove: string[]; writeBacks: WriteBack[] },
): Promise<void> {
  const { def } = scope;
  const { decision, entry } = p;
  // One outcome per item: a conflict counts as such whichever way it was settled; otherwise what Postgres
  // received; otherwise the write-back to SharePoint (counted once it is sent, in flushWriteBacks).
  let counted: Outcome | null = null;
  if (decision.conflict) {
    scope.counts.conflicts++;
    counted = 'conflicts';
    await recordConflict(meta, scope.definitionId, {
      runId: scope.runId,
      identityHash: entry.identityHash,
      identity: entry.identity,
      itemId: p.itemId,
      detectedBy: 'PULL',
      policy: def.conflictPolicy,
      base: entry.syncedValues,
      postgres: p.pg,
      sharepoint: p.sp,
      outcome: decision.outcome,
      resolvedValues: decision.outcome === 'PARKED' ? null : decision.synced,
      status: decision.outcome === 'PARKED' ? 'OPEN' : 'RESOLVED',
      reason: decision.reason,
      fields: decision.conflictFields,
    });
  }
  if (decision.outcome === 'PARKED') return;
  if (decision.postgres.kind === 'none' && decision.sharepoint.kind === 'none') {
    if (decision.synced === null) out.remove.push(entry.identityHash);
    else if (newlyAligned(entry.syncedValues, decision.synced))
      out.save.push({
        ...entry,
        eTag: p.eTag ?? entry.eTag,
        spModifiedAt: p.spModifiedAt,
        syncedValues: decision.synced,
        contentHash: contentHash(decision.synced),
      });
    else if (p.eTag && p.eTag !== entry.eTag)
      out.save.push({ ...entry, eTag: p.eTag, spModifiedAt: p.spModifiedAt });
    scope.counts.skipped++; // an echo of our own write, or a change to fields we do not sync (I3)
    return;
  }
  let written: Record<string, CanonicalValue> = {};
  if (decision.postgres.kind !== 'none') {
    const key = p.row ? keyOf(def, p.row.values) : def.source.key.map((k) => entry.identity[k]);
    written = await applyToPostgres(scope, client, key, entry.identity, decision);
    if (counted === null) {
      counted =
        decision.postgres.kind === 'delete'
          ? 'deleted'
          : decision.postgres.kind === 'recreate'
            ? 'created'
            : 'updated';
      scope.counts[counted]++;
    }
  }
  const sa = decision.sharepoint;
  if (sa.kind === 'none' || decision.synced === null) {
    if (decision.synced === null) out.remove.push(entry.identityHash);
    else
      out.save.push({
        ...entry,
        itemId: p.itemId,
        eTag: p.eTag,
        syncedValues: decision.synced,
        contentHash: contentHash(decision.synced),
        provenance: 'PULL',
        spModifiedAt: p.spModifiedAt,
        state: 'SYNCED',
        sourceValues: sourcePairs(
          scope.plan.fields,
          decision.synced,
          p.row && p.pg ? { values: p.row.values, canonical: p.pg } : null,
          written,
        ),
      });
    if (counted === null) scope.counts.skipped++;
    return;
  }
  // SharePoint must change too (a conflict Postgres won, or push-only fields): written after the page
  // commits; the ledger moves only when that write succeeds, so a failed write is retried by the next push.
  if (sa.kind === 'write' && p.eTag) {
    if (decision.keyEdits.length > 0) {
      // Should the write-back fail, the ledger must say what SharePoint holds now, so the next push restores it.
      const held = { ...decision.synced, ...pick(p.sp, Object.keys(sa.values)) };
      out.save.push({
        ...entry,
        itemId: p.itemId,
        eTag: p.eTag,
        syncedValues: held,
        contentHash: contentHash(held),
        provenance: 'PULL',
        spModifiedAt: p.spModifiedAt,
        state: 'SYNCED',
      });
    }
    out.writeBacks.push({
      op: {
        kind: 'update',
        ref: entry.identityHash,
        itemId: p.itemId,
        eTag: p.eTag,
        fields: graphFields(scope, sa.values),
      },
      entry: { ...entry, itemId: p.itemId },
      synced: decision.synced,
      counted,
    });
  } else if (sa.kind === 'recreate') {
    // The item was deleted in SharePoint but Postgres won: forget the pair; the next push creates a new item.
    out.remove.push(entry.identityHash);
    if (counted === null) scope.counts.skipped++;
  } else if (sa.kind === 'delete') {
    out.writeBacks.push({
      op: { kind: 'delete', ref: entry.identityHash, itemId: p.itemId, eTag: p.eTag ?? undefined },
      entry,
      synced: decision.synced,
      counted,
    });
  } else if (counted === null) {
    scope.counts.skipped++; // a write without the item's eTag: nothing is sent; the next push writes it
  }
}

/** The decision's synced values carry a field the ledger entry did not: it was aligned (I14). */
function newlyAligned(before: CanonicalRecord | null, after: CanonicalRecord): boolean {
  if (before === null) return true;
  return Object.keys(after).some((f) => !Object.prototype.hasOwnProperty.call(before, f));
}

async function flushWriteBacks(scope: RunScope, writeBacks: WriteBack[]): Promise<void> {
  if (writeBacks.length === 0) return;
  scope.assertLockHeld();
  const outcomes = await scope.target.writeItems(
    scope.siteId,
    scope.listId,
    writeBacks.map((w) => w.op),
  );
  const byRef = new Map(writeBacks.map((w) => [w.op.ref, w]));
  const save: LedgerEntry[] = [];
  const remove: string[] = [];
  for (const o of outcomes) {
    const w = byRef.get(o.ref);
    if (!w) continue;
    if (o.status === 'updated') {
      if (w.counted === null) scope.counts.updated++;
      save.push({
        ...w.entry,
        eTag: o.eTag,
        syncedValues: w.synced,
        contentHash: contentHash(w.synced),
        provenance: 'PUSH',
        state: 'SYNCED',
      });
    } else if (o.status === 'deleted' || o.status === 'not_found') {
      if (w.counted === null) scope.counts.deleted++;
      remove.push(o.ref);
    } else {
      // The item's outcome becomes the failure: parked, so the next pull decides (and writes back) again.
      if (w.counted !== null) scope.counts[w.counted]--;
      scope.counts.failed++;
      const error = `write-back to item ${w.entry.itemId} did not apply (${o.status}${'message' in o ? `: ${o.message}` : ''})`;
      scope.ctx.log.warn(`${scope.def.name}: ${error}; the next pull retries it`);
      await park(scope.ctx.meta, scope.definitionId, {
        direction: 'PULL',
        itemKey: w.entry.itemId ? parkKey(scope, w.entry.itemId) : o.ref,
        sourceIdentity: w.entry.identity,
        spItemId: w.entry.itemId,
        error,
      });
    }
  }
  await scope.ledger.save(scope.ctx.meta, save);
  await scope.ledger.remove(scope.ctx.meta, remove);
}

/** After a full enumeration: ledger entries whose item was not seen were deleted in SharePoint (I8). */
async function reconcileUnseen(scope: RunScope, enumeration: string): Promise<void> {
  let removedBefore = -1;
  for (;;) {
    const unseen = await scope.ledger.unseen(scope.ctx.meta, scope.listId, enumeration, 500);
    if (unseen.length === 0 || unseen.length === removedBefore) break;
    removedBefore = unseen.length;
    await applyEntries(
      scope,
      unseen.map((e) => ({ kind: 'deleted', id: e.itemId as string })),
      null,
      enumeration,
    );
  }
}

/**
 * Pull: SharePoint → Postgres for one definition, through the list's delta feed. Parked items are retried
 * first; the feed resumes from the page in progress, or the stored delta link, or enumerates the list; an
 * expired link (410) re-enumerates and reconciles. The new delta link is stored only once the feed is applied.
 */
export async function runPull(
  ctx: EngineContext,
  definitionName: string,
  opts: RunOptions,
): Promise<RunSummary> {
  return withRun(ctx, definitionName, 'PULL', opts, async (scope) => {
    if (!scope.def.pull.enabled) {
      scope.details.pullDisabled = true;
      return;
    }
    // Routed: each list in turn, each with its own delta link; a list out of time leaves the rest to the next run.
    for (const list of scope.lists) {
      if (skipUnusableList(scope, list)) continue;
      await pullList(forList(scope, list));
      if (!scope.route || scope.timeLeft() <= 0) break;
    }
  });
}

/**
 * The key a pulled item is parked under: its id, qualified by its list for a routed definition (item ids are
 * only unique within a list).
 */
function parkKey(scope: RunScope, itemId: string): string {
  return scope.route ? `${scope.listId}/${itemId}` : itemId;
}

/** The TARGET cursor of the scope's list: the definition's one, or the routed list's. */
function readTargetCursor(scope: RunScope) {
  return scope.route
    ? readListCursor(scope.ctx.meta, scope.definitionId, scope.listId)
    : readCursor(scope.ctx.meta, scope.definitionId, 'TARGET');
}

function writeTargetCursor(
  scope: RunScope,
  db: PoolClient | RunScope['ctx']['meta'],
  value: string | null,
  progress: string | null,
  fingerprint: TargetFingerprint | null,
): Promise<void> {
  return scope.route
    ? writeListCursor(db, scope.definitionId, scope.listId, value, progress, fingerprint)
    : writeCursor(db, scope.definitionId, 'TARGET', value, progress, fingerprint);
}

async function pullList(scope: RunScope): Promise<void> {
  const { ctx, def, target, siteId, listId, definitionId, plan } = scope;
  const prefix = scope.route ? `${listId}/` : '';
  const due = (await dueFailures(ctx.meta, definitionId, 'PULL')).filter(
    (f) => f.itemKey.startsWith(prefix) && (scope.route || !f.itemKey.includes('/')),
  );
  if (due.length) {
    const retry: DeltaEntry[] = [];
    for (const f of due) {
      const itemId = f.itemKey.slice(prefix.length);
      const item = await target.getItem(siteId, listId, itemId, plan.select);
      retry.push(item ? { kind: 'upsert', item } : { kind: 'deleted', id: itemId });
    }
    await applyEntries(scope, retry, null, null);
    scope.details.retried = ((scope.details.retried as number) ?? 0) + due.length;
  }

  const stored = await readTargetCursor(scope);
  // A link (or a page in progress) that does not select every mapped field would read a newly mapped field
  // as empty: read the list once with the new selection instead, aligning the new fields (I14).
  const linkCarries = linkCarriesPlan(stored?.fingerprint ?? null, listId, plan.select);
  if (stored && (stored.value || stored.progress) && !linkCarries) {
    ctx.log.info(
      `${def.name}: the stored delta link does not select every mapped field; reading the list once to align them`,
    );
    scope.details.realigned = true;
  }
  let fingerprint: TargetFingerprint =
    linkCarries && stored?.fingerprint ? stored.fingerprint : { listId, select: [...plan.select].sort() };
  let progress = linkCarries ? parseProgress(stored?.progress ?? null) : null;
  let deltaLink = linkCarries ? (stored?.value ?? null) : null;
  let link: string | undefined = progress?.link ?? deltaLink ?? undefined;
  let enumeration: string | null = progress ? progress.enumeration : deltaLink ? null : scope.runId;
  let resyncs = 0;
  let finalLink: string | null = null;
  let pages = 0;
  for (;;) {
    try {
      let pageAsked = Date.now();
      for await (const page of target.deltaPages(siteId, listId, {
        deltaLink: link,
        select: plan.select,
      })) {
        pages++;
        const read = { kind: 'page' as const, rows: page.entries.length, ms: Date.now() - pageAsked };
        ctx.onProgress?.({
          runType: 'PULL',
          definition: def.name,
          done: scope.counts.processed,
          total: null,
          throttleWaitMs: 0,
          trace: read,
        });
        for (const e of page.errors) ctx.log.warn(`${def.name}: delta feed reported ${e.code}: ${e.message}`);
        if (page.deltaLink) {
          await applyEntries(scope, page.entries, null, enumeration);
          finalLink = page.deltaLink;
        } else {
          progress = { link: page.nextLink as string, enumeration };
          await applyEntries(
            scope,
            page.entries,
            { cursorValue: deltaLink, progress, fingerprint },
            enumeration,
          );
        }
        ctx.onProgress?.({
          runType: 'PULL',
          definition: def.name,
          done: scope.counts.processed,
          total: null,
          throttleWaitMs: target.stats().throttleWaitMs,
        });
        // The page and the link to the next one are committed: out of time, stop here (I16).
        if (!page.deltaLink && scope.timeLeft() <= 0) {
          scope.stopIncomplete('time budget spent');
          return;
        }
        pageAsked = Date.now();
      }
      break;
    } catch (err) {
      if (!(err instanceof ResyncRequiredError) || resyncs >= 2) throw err;
      resyncs++;
      ctx.log.warn(`${def.name}: delta link expired (${err.code}); re-enumerating the list and reconciling`);
      link = err.freshLink;
      deltaLink = null;
      enumeration = scope.runId;
      progress = { link, enumeration };
      fingerprint = { listId, select: [...plan.select].sort() };
      if (!scope.dryRun)
        await writeTargetCursor(scope, ctx.meta, null, JSON.stringify(progress), fingerprint);
    }
  }
  if (enumeration) await reconcileUnseen(scope, enumeration);
  scope.assertLockHeld();
  if (finalLink && !scope.dryRun) await writeTargetCursor(scope, ctx.meta, finalLink, null, fingerprint);
  scope.details.pages = ((scope.details.pages as number) ?? 0) + pages;
  scope.details.resyncs = ((scope.details.resyncs as number) ?? 0) + resyncs;
}
