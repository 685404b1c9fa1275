/** A push page's bookkeeping: the rows it carries, the metadata it commits with the cursor (I5c), parked entries. */
import { adoptStandIns, type StandIn } from '../standIns';
import type { PoolClient } from 'pg';
import { markRunWrites, unmarkForRelease } from '../../capture/lsn/origin';
import {
  canonicalEquals,
  contentHash,
  fromGraphFields,
  type CanonicalRecord,
  type MappedColumn,
} from '../../canonical';
import { type FieldPlan } from '../plan';
import { keysetCursor, type KeysetPosition } from '../../cursor/timestampCursor';
import type { SourceRow } from '../../source/postgres/PostgresSource';
import { writeCursor } from '../../store/cursors';
import { park, resolveParked } from '../../store/failures';
import { clearMoves } from '../../store/moves';
import type { LedgerEntry, SourcePairs } from '../../store/ledger';
import type { WriteOutcome } from '../../target/sharepoint';
import { type RunScope } from '../runner';
import { sourcePairs } from '../transform';
import { inTransaction } from '../../db/transaction';
import { UNCONFIRMED_ETAG } from './pendingCreates';

/** A source row ready to push: its identity and canonical values. */
export interface PushRow {
  row: SourceRow;
  key: unknown[];
  identity: Record<string, unknown>;
  hash: string;
  values: CanonicalRecord;
  /** The ledger's pairs `values` were read through: a pair that does not change keeps its stamps (I14). */
  pairs?: SourcePairs | null;
}

/** Pending metadata changes of a page, committed together with the cursor (I5c). */
export interface PageCommit {
  save: LedgerEntry[];
  remove: string[];
  /**
   * `waiting`: held back, not tried (store/failures.ts park): not counted as a failed attempt. `heldMove`: its move
   * waits for a user (push/moves.ts): counted as a held move, not a parked failure.
   */
  park: {
    hash: string;
    identity: Record<string, unknown> | null;
    itemId: string | null;
    error: string;
    waiting?: boolean;
    heldMove?: boolean;
  }[];
  resolved: string[];
  /** Moves settled (finished or undone): cleared from arcore.sync_moves with the ledger change. */
  moved: string[];
  /**
   * Creates (and moves' creates) whose outcome stays unknown: kept pending, since their request may still land.
   * writePrepared starts their wait as soon as it knows them, not at the commit (push/pendingCreates.ts).
   */
  unknown: string[];
  movesUnknown: string[];
  /** Members of `save` completing this page's pending creates with the values those were saved with (I6). */
  confirms: Set<LedgerEntry>;
  /** Pairs pointed at a copy standing in for their deleted item (standIns.ts standingCopies), in `save` too. */
  standIns: StandIn[];
  /**
   * The run's time budget stopped some of the page's writes (I16): the page commits what it knows without its
   * cursor (the next run reads the page again), then commitPage throws this to stop the run incomplete.
   */
  stopped?: Error;
}

export const newCommit = (): PageCommit => ({
  save: [],
  remove: [],
  park: [],
  resolved: [],
  moved: [],
  unknown: [],
  movesUnknown: [],
  standIns: [],
  confirms: new Set(),
});

export function identityRecord(scope: RunScope, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of scope.def.source.key) out[k] = values[k];
  return out;
}

export function syncedEntry(
  scope: RunScope,
  r: {
    hash: string;
    identity: Record<string, unknown>;
    row?: SourceRow;
    values?: CanonicalRecord;
    pairs?: SourcePairs | null;
  },
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
    sourceValues: sourcePairs(
      scope.plan.fields,
      synced,
      r.row && r.values ? { values: r.row.values, canonical: r.values } : null,
      {},
      r.pairs ?? null,
      provenance === 'PULL' ? 'pull' : 'push',
    ),
  };
}

/** Runs `fn` in a transaction on the source database (rolled back in a dry run: nothing is kept). */
export async function inSourceTx<T>(scope: RunScope, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await scope.sourcePool.connect();
  let marked = false;
  try {
    marked = await markRunWrites(scope, client); // read back by capture; the ledger skips the echo (I3)
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query(scope.dryRun ? 'ROLLBACK' : 'COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release(await unmarkForRelease(client, marked));
  }
}

/**
 * `progress`: what the cursor keeps beside it (push/resumePosition.ts), written with it; a cursor commit without
 * it clears what was kept.
 */
export async function commitPage(
  scope: RunScope,
  commit: PageCommit,
  cursor: KeysetPosition | null,
  progress: string | null = null,
): Promise<void> {
  await commitKnown(scope, commit, commit.stopped ? null : cursor, progress);
  if (commit.stopped) throw commit.stopped;
}

async function commitKnown(
  scope: RunScope,
  commit: PageCommit,
  cursor: KeysetPosition | null,
  progress: string | null,
): Promise<void> {
  if (scope.dryRun) return; // a dry run moves no cursor and parks nothing
  await inTransaction(scope.ctx.meta, async (client) => {
    await scope.ledger.save(client, commit.save, commit.confirms);
    await scope.ledger.remove(client, commit.remove);
    for (const p of commit.park) {
      await park(client, scope.definitionId, {
        direction: 'PUSH',
        itemKey: p.hash,
        sourceIdentity: p.identity,
        spItemId: p.itemId,
        error: p.error,
        waiting: p.waiting,
        heldMove: p.heldMove,
      });
    }
    await resolveParked(client, scope.definitionId, 'PUSH', commit.resolved);
    await clearMoves(client, scope.definitionId, commit.moved);
    await adoptStandIns(client, scope, commit.standIns);
    if (cursor)
      await writeCursor(client, scope.definitionId, 'SOURCE', keysetCursor.serialize(cursor), progress);
    scope.assertLockHeld();
  });
}

export function describeFailure(o: WriteOutcome): string {
  if (o.status === 'rejected')
    return `SharePoint rejected the write (${o.httpStatus} ${o.code}): ${o.message}`;
  if (o.status === 'failed') return o.message;
  return o.status;
}

/** A ledger entry whose delete did not apply: parked for the next run (I5c). */
export function parkEntry(scope: RunScope, commit: PageCommit, e: LedgerEntry, o: WriteOutcome): void {
  scope.counts.failed++;
  commit.park.push({
    hash: e.identityHash,
    identity: e.identity,
    itemId: e.itemId,
    error: describeFailure(o),
  });
}

/**
 * A row whose item was deleted in SharePoint while a copy carrying its key stands (a user's move by hand,
 * standIns.ts): the pair moves to the copy, committed with the page, and the row waits for the next push, which
 * writes it to the copy (`then`: what that push does).
 */
export function adoptStandIn(
  scope: RunScope,
  commit: PageCommit,
  row: { hash: string; identity: Record<string, unknown> },
  standIn: StandIn,
  then: string,
): void {
  scope.counts.skipped++;
  commit.save.push(standIn.entry);
  commit.standIns.push(standIn);
  commit.park.push({
    hash: row.hash,
    identity: row.identity,
    itemId: standIn.entry.itemId,
    error:
      `its item ${standIn.gone} was deleted in SharePoint while item ${standIn.copy.itemId}, a copy carrying its ` +
      `key, stands: the copy takes its place, and ${then}`,
    waiting: true,
  });
}

/** The item's fields when the write's response carried them (creates return the whole listItem). */
export function responseFields(o: WriteOutcome): Record<string, unknown> | null {
  const fields = (o as { fields?: unknown }).fields;
  return fields && typeof fields === 'object' ? (fields as Record<string, unknown>) : null;
}

/** Per plan, the columns of fields that flow only SharePoint → Postgres. */
const pullOnly = new WeakMap<FieldPlan, Map<string, MappedColumn>>();

function pullOnlyColumns(plan: FieldPlan): Map<string, MappedColumn> {
  let columns = pullOnly.get(plan);
  if (!columns) {
    const pushed = new Set(plan.toSharePoint);
    columns = new Map([...plan.columns].filter(([t]) => !pushed.has(t) && plan.toPostgres.includes(t)));
    pullOnly.set(plan, columns);
  }
  return columns;
}

/** True when createdSynced gives what the pending entry recorded (createdSynced(plan, values, null)): nothing read back. */
export function createdAsSent(plan: FieldPlan, returned: Record<string, unknown> | null): boolean {
  return returned === null || pullOnlyColumns(plan).size === 0;
}

/**
 * What a created item's pair has synced: the values pushed, and for fields flowing only SharePoint → Postgres the
 * values the create's answer carried (a default, a computed column), or `values` when it carried none. A field
 * flowing both ways synced the value pushed whatever the answer says, so only pull-only columns are read back:
 * converting every column of every answer cost about a twentieth of a push's CPU (issue 23.3).
 */
export function createdSynced(
  plan: FieldPlan,
  values: CanonicalRecord,
  returned: Record<string, unknown> | null,
): CanonicalRecord {
  const columns = pullOnlyColumns(plan);
  const pulledBack = returned && columns.size > 0 ? fromGraphFields(returned, columns) : null;
  // pick(pulledBack ?? values, toPostgres) overlaid with pick(values, toSharePoint), built as one object.
  const read = pulledBack ?? values;
  const synced: CanonicalRecord = {};
  for (const f of plan.toPostgres) synced[f] = read[f] ?? null;
  for (const f of plan.toSharePoint) synced[f] = values[f] ?? null;
  return synced;
}

/**
 * The eTag a written pair records. An outcome settled by reading the item back (a create adopted after its answer was
 * lost, an update whose answer was lost or carried no eTag) carries the item as read, which may hold another's edit
 * made after our write. When a mapped field of it differs from what the pair records, the pair gets UNCONFIRMED_ETAG:
 * the next push's If-Match write meets a 412 and the pull sees another eTag, so that edit is weighed under the policy
 * (I7) instead of being taken for ours.
 */
export function writtenETag(plan: FieldPlan, o: WriteOutcome, synced: CanonicalRecord): string {
  if (o.status !== 'created' && o.status !== 'updated') throw new Error(`no eTag in a ${o.status} outcome`);
  const readBack = o.status === 'created' ? o.adopted : o.readBack === true;
  if (!readBack) return o.eTag;
  if (!o.fields) return UNCONFIRMED_ETAG;
  const item = fromGraphFields(o.fields, plan.columns);
  const asRecorded = Object.keys(synced).every((f) =>
    plan.columns.has(f) ? canonicalEquals(item[f] ?? null, synced[f] ?? null) : true,
  );
  return asRecorded ? o.eTag : UNCONFIRMED_ETAG;
}
