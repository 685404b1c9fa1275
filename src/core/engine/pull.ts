import type { PoolClient } from 'pg';
import { z } from 'zod';
import {
  contentHash,
  fromGraphFields,
  identityOf,
  type CanonicalRecord,
  type CanonicalValue,
  type FieldKind,
} from '../canonical';
import type { SourceRow } from '../source/postgres/PostgresSource';
import { openConflictIdentities, recordConflict } from '../store/conflicts';
import { readCursor, writeCursor } from '../store/cursors';
import { dueFailures, park, resolveParked } from '../store/failures';
import type { LedgerEntry } from '../store/ledger';
import { ResyncRequiredError, type DeltaEntry, type WriteOp } from '../target/sharepoint';
import { keyOf, pick, rowToCanonical } from './plan';
import { applyToPostgres, graphFields } from './push';
import { decidePair, type PairDecision } from './reconcile';
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

interface WriteBack {
  op: WriteOp;
  entry: LedgerEntry;
  synced: CanonicalRecord;
}

/** Runs `fn` with a transaction on the source and one on the metadata database (the same one when they are). */
async function inPageTx<T>(
  scope: RunScope,
  fn: (source: PoolClient, meta: PoolClient) => Promise<T>,
): Promise<T> {
  const meta = await scope.ctx.meta.connect();
  const source = scope.sameDatabase ? meta : await scope.sourcePool.connect();
  try {
    await meta.query('BEGIN');
    if (source !== meta) await source.query('BEGIN');
    const out = await fn(source, meta);
    if (source !== meta) await source.query('COMMIT');
    await meta.query('COMMIT');
    return out;
  } catch (err) {
    if (source !== meta) await source.query('ROLLBACK').catch(() => undefined);
    await meta.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    if (source !== meta) source.release();
    meta.release();
  }
}

function insertValues(
  scope: RunScope,
  sp: CanonicalRecord,
): Record<string, { kind: FieldKind; value: CanonicalValue }> {
  const out: Record<string, { kind: FieldKind; value: CanonicalValue }> = {};
  for (const f of scope.plan.fields) {
    if (f.pullable) out[f.source] = { kind: f.kind, value: sp[f.target] ?? null };
  }
  return out;
}

/**
 * Applies one page of delta entries (the last occurrence of an item wins) in one transaction together with
 * its ledger changes and the progress marker (I6). Echoes are skipped (I3); conflicts go to the policy (I7);
 * a row that Postgres refuses is parked with Postgres's message and the rest of the page is applied (I12).
 */
async function applyEntries(
  scope: RunScope,
  feed: DeltaEntry[],
  progress: { cursorValue: string | null; progress: Progress | null } | null,
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
  // An item created by a push that crashed before its ledger commit carries our key: adopt it (I6).
  const unknownKeys = new Map<string, string>();
  for (const e of entries) {
    if (e.kind !== 'upsert' || byItem.has(e.item.id)) continue;
    const key = e.item.fields[def.target.keyColumn];
    if (typeof key === 'string' && key) unknownKeys.set(key, e.item.id);
  }
  if (unknownKeys.size) {
    for (const [hash, entry] of await ledger.byIdentities(ctx.meta, [...unknownKeys.keys()])) {
      byItem.set(unknownKeys.get(hash) as string, { ...entry, itemId: unknownKeys.get(hash) as string });
    }
  }
  const known = [...byItem.values()];
  const rows = await source.readByKeys(known.map((e) => def.source.key.map((k) => e.identity[k])));
  const rowByHash = new Map<string, SourceRow>();
  for (const r of rows) rowByHash.set(identityOf(def.source.key, r.values, plan.keyKinds).hash, r);
  const parked = await openConflictIdentities(
    ctx.meta,
    scope.definitionId,
    known.map((e) => e.identityHash),
  );

  const writeBacks: WriteBack[] = [];
  await inPageTx(scope, async (client, meta) => {
    const save: LedgerEntry[] = [];
    const remove: string[] = [];
    const resolved: string[] = [];
    for (const e of entries) {
      const itemId = e.kind === 'deleted' ? e.id : e.item.id;
      scope.counts.processed++;
      const entry = byItem.get(itemId);
      if (
        entry &&
        (parked.has(entry.identityHash) || (entry.state === 'PENDING_CREATE' && e.kind === 'deleted'))
      ) {
        scope.counts.skipped++;
        continue;
      }
      if (entry?.state === 'ORPHANED') {
        if (e.kind === 'deleted') remove.push(entry.identityHash);
        scope.counts.skipped++;
        continue;
      }
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
            });
            scope.counts.created++;
          }
        } else {
          const row = rowByHash.get(entry.identityHash) ?? null;
          const pg = row ? rowToCanonical(plan, row.values) : null;
          const sp = e.kind === 'deleted' ? null : fromGraphFields(e.item.fields, plan.columns);
          const spModifiedAt = e.kind === 'deleted' ? null : e.item.lastModifiedDateTime;
          const decision = decidePair(plan, def, {
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
        scope.counts.failed++;
        await park(meta, scope.definitionId, {
          direction: 'PULL',
          itemKey: itemId,
          sourceIdentity: entry?.identity ?? null,
          spItemId: itemId,
          error: `item ${itemId}: ${(err as Error).message}`,
        });
      }
    }
    await ledger.save(meta, save);
    await ledger.remove(meta, remove);
    await resolveParked(meta, scope.definitionId, 'PULL', resolved);
    if (enumeration) await ledger.markSeen(meta, listId, ids, enumeration);
    if (progress) {
      await writeCursor(
        meta,
        scope.definitionId,
        'TARGET',
        progress.cursorValue,
        progress.progress ? JSON.stringify(progress.progress) : null,
      );
    }
  });
  await flushWriteBacks(scope, writeBacks);
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
  if (decision.conflict) {
    scope.counts.conflicts++;
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
    });
  }
  if (decision.outcome === 'PARKED') return;
  if (decision.postgres.kind === 'none' && decision.sharepoint.kind === 'none') {
    if (decision.synced === null) out.remove.push(entry.identityHash);
    else if (p.eTag && p.eTag !== entry.eTag)
      out.save.push({ ...entry, eTag: p.eTag, spModifiedAt: p.spModifiedAt });
    scope.counts.skipped++; // an echo of our own write, or a change to fields we do not sync (I3)
    return;
  }
  if (decision.postgres.kind !== 'none') {
    const key = p.row ? keyOf(def, p.row.values) : def.source.key.map((k) => entry.identity[k]);
    await applyToPostgres(scope, client, key, entry.identity, decision);
    if (decision.postgres.kind === 'delete') scope.counts.deleted++;
    else if (decision.postgres.kind === 'recreate') scope.counts.created++;
    else scope.counts.updated++;
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
      });
    return;
  }
  // SharePoint must change too (a conflict Postgres won, or push-only fields): written after the page
  // commits; the ledger moves only when that write succeeds, so a failed write is retried by the next push.
  if (sa.kind === 'write' && p.eTag) {
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
    });
  } else if (sa.kind === 'recreate') {
    // The item was deleted in SharePoint but Postgres won: forget the pair; the next push creates a new item.
    out.remove.push(entry.identityHash);
  } else if (sa.kind === 'delete') {
    out.writeBacks.push({
      op: { kind: 'delete', ref: entry.identityHash, itemId: p.itemId, eTag: p.eTag ?? undefined },
      entry,
      synced: decision.synced,
    });
  }
}

async function flushWriteBacks(scope: RunScope, writeBacks: WriteBack[]): Promise<void> {
  if (writeBacks.length === 0) return;
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
      save.push({
        ...w.entry,
        eTag: o.eTag,
        syncedValues: w.synced,
        contentHash: contentHash(w.synced),
        provenance: 'PUSH',
        state: 'SYNCED',
      });
    } else if (o.status === 'deleted' || o.status === 'not_found') {
      remove.push(o.ref);
    } else {
      scope.ctx.log.warn(
        `${scope.def.name}: write-back to item ${w.entry.itemId} did not apply (${o.status}); the next push retries it`,
      );
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
  return withRun(ctx, definitionName, 'INGRESS', opts, async (scope) => {
    const { def, target, siteId, listId, definitionId, plan } = scope;
    if (!def.pull.enabled) {
      scope.details.pullDisabled = true;
      return;
    }
    const due = await dueFailures(ctx.meta, definitionId, 'PULL');
    if (due.length) {
      const retry: DeltaEntry[] = [];
      for (const f of due) {
        const item = await target.getItem(siteId, listId, f.itemKey);
        retry.push(item ? { kind: 'upsert', item } : { kind: 'deleted', id: f.itemKey });
      }
      await applyEntries(scope, retry, null, null);
      scope.details.retried = due.length;
    }

    const stored = await readCursor(ctx.meta, definitionId, 'TARGET');
    let progress = parseProgress(stored?.progress ?? null);
    let deltaLink = stored?.value ?? null;
    let link: string | undefined = progress?.link ?? deltaLink ?? undefined;
    let enumeration: string | null = progress ? progress.enumeration : deltaLink ? null : scope.runId;
    let resyncs = 0;
    let finalLink: string | null = null;
    let pages = 0;
    for (;;) {
      try {
        for await (const page of target.deltaPages(siteId, listId, {
          deltaLink: link,
          select: plan.select,
        })) {
          pages++;
          for (const e of page.errors)
            ctx.log.warn(`${def.name}: delta feed reported ${e.code}: ${e.message}`);
          if (page.deltaLink) {
            await applyEntries(scope, page.entries, null, enumeration);
            finalLink = page.deltaLink;
          } else {
            progress = { link: page.nextLink as string, enumeration };
            await applyEntries(scope, page.entries, { cursorValue: deltaLink, progress }, enumeration);
          }
          ctx.onProgress?.({
            runType: 'INGRESS',
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
        }
        break;
      } catch (err) {
        if (!(err instanceof ResyncRequiredError) || resyncs >= 2) throw err;
        resyncs++;
        ctx.log.warn(
          `${def.name}: delta link expired (${err.code}); re-enumerating the list and reconciling`,
        );
        link = err.freshLink;
        deltaLink = null;
        enumeration = scope.runId;
        progress = { link, enumeration };
        await writeCursor(ctx.meta, definitionId, 'TARGET', null, JSON.stringify(progress));
      }
    }
    if (enumeration) await reconcileUnseen(scope, enumeration);
    if (finalLink) await writeCursor(ctx.meta, definitionId, 'TARGET', finalLink, null);
    scope.details.pages = pages;
    scope.details.resyncs = resyncs;
  });
}
