import type { PoolClient } from 'pg';
import type { CanonicalValue, FieldKind } from '../canonical';
import { PostgresSource, type SourceRow } from '../source/postgres/PostgresSource';
import type { EncodedValues } from '../source/postgres/batchWrites';
import { LedgerStore, type LedgerEntry } from '../store/ledger';
import type { SharePointTarget, WriteOp, WriteOutcome } from '../target/sharepoint';
import { runPull } from './pull';
import { runPush } from './push';
import type { RunScope } from './runner';
import type { EngineContext, RunSummary, RunTrigger } from './types';

/** One change a dry run would have made. */
export interface PlannedChange {
  kind: 'create' | 'update' | 'delete';
  side: 'sharepoint' | 'postgres';
  /** The row's key (key column → value), when known. */
  key: Record<string, unknown> | null;
  itemId: string | null;
  /** Fields written: SharePoint internal names, or Postgres columns. */
  fields: string[];
}

/** Routed definitions: an item a push would move to the list its row now routes to. */
export interface PlannedMove {
  key: Record<string, unknown>;
  itemId: string | null;
  /** List names (or ids, for a list no route names any more). */
  from: string;
  to: string;
}

/** A run summary of a dry run: the counts the run would produce, and a sample of what it would write. */
export interface DryRunSummary extends RunSummary {
  dryRun: true;
  /** Writes the run would send (SharePoint) or apply (Postgres). */
  planned: number;
  sample: PlannedChange[];
  /** The moves the run would make (the first MAX_PLANNED_MOVES; `moved` counts them all). */
  moves: PlannedMove[];
}

const MAX_PLANNED_MOVES = 100;

type Db = Parameters<LedgerStore['save']>[0];

/**
 * What a dry run carries through the engine (RunScope.dryRun). The run reads both sides as a real run does;
 * every write goes through one of the wrappers below instead of reaching Graph or the metadata store:
 *
 * - SharePoint: writeItems records the ops and answers each as succeeded, sending nothing. The other
 *   write methods (lists, columns, subscriptions) refuse, so a new write path cannot slip through.
 * - Ledger: saves, removals and "seen" marks are kept in memory, so a run still sees what it did earlier
 *   (the unseen items of an enumeration, for one).
 * - Postgres rows: the pull applies a page in a transaction that is rolled back (inPageTx, inSourceTx), so
 *   constraint errors, parked rows and counts are exactly the real run's; the wrapper records each write.
 *   Sequences that inserted rows drew from still advance (Postgres never rolls those back).
 * - Cursors, parked failures, conflicts, run records: the engine skips them when scope.dryRun is set
 *   (commitPage, the cursor writes of pull, the delete-check stamp of push) or they sit inside the
 *   rolled-back page transaction.
 *
 * Because every simulated write succeeds, push never meets a 412 in a dry run: conflicts a real push would
 * only discover from Graph's answer are not predicted.
 */
export class DryRun {
  readonly sample: PlannedChange[] = [];
  readonly moves: PlannedMove[] = [];
  planned = 0;
  /** Item ids an enumeration has seen (LedgerStore.markSeen). */
  readonly seen = new Set<string>();
  /** Identity hashes the run removed from the ledger. */
  readonly removed = new Set<string>();
  /** Recently read identities, to name rows in the sample; bounded, as it only serves the sample. */
  private readonly identities = new Map<string, Record<string, unknown>>();
  private created = 0;

  constructor(readonly sampleSize = 10) {}

  record(change: PlannedChange): void {
    this.planned++;
    if (this.sample.length < this.sampleSize) this.sample.push(change);
  }

  recordMove(move: PlannedMove): void {
    if (this.moves.length < MAX_PLANNED_MOVES) this.moves.push(move);
  }

  remember(entries: Iterable<{ identityHash: string; identity: Record<string, unknown> }>): void {
    if (this.sample.length >= this.sampleSize) return;
    for (const e of entries) {
      if (this.identities.size >= 10_000) this.identities.clear();
      this.identities.set(e.identityHash, e.identity);
    }
  }

  /** The run's scope with the ledger and the source wrapped, and `dryRun` set for the engine's guards. */
  adopt(scope: RunScope): RunScope {
    return {
      ...scope,
      ledger: new DryRunLedgerStore(this, scope.ledger),
      source: new RecordingSource(this, scope.source),
      dryRun: this,
    };
  }

  /** The target with writeItems simulated; `hidden` (the key column) is left out of the recorded fields. */
  wrapTarget(target: SharePointTarget, hidden: string): SharePointTarget {
    const writeItems = async (_siteId: string, _listId: string, ops: WriteOp[]): Promise<WriteOutcome[]> =>
      ops.map((op) => this.simulate(op, hidden));
    return new Proxy(target, {
      get: (t, property) => {
        if (property === 'writeItems') return writeItems;
        if (typeof property === 'string' && REFUSED_IN_DRY_RUN.has(property)) {
          return () => Promise.reject(new Error(`a dry run does not call SharePointTarget.${property}`));
        }
        const value: unknown = Reflect.get(t, property, t);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
      },
    });
  }

  private simulate(op: WriteOp, hidden: string): WriteOutcome {
    this.record({
      kind: op.kind,
      side: 'sharepoint',
      key: this.identities.get(op.ref) ?? null,
      itemId: op.kind === 'create' ? null : op.itemId,
      fields: op.kind === 'delete' ? [] : Object.keys(op.fields).filter((f) => f !== hidden),
    });
    if (op.kind === 'create') {
      this.created++;
      return {
        ref: op.ref,
        status: 'created',
        itemId: `dry-run-${this.created}`,
        eTag: '"dry-run"',
        adopted: false,
      };
    }
    if (op.kind === 'update') return { ref: op.ref, status: 'updated', eTag: '"dry-run"' };
    return { ref: op.ref, status: 'deleted' };
  }
}

const REFUSED_IN_DRY_RUN = new Set([
  'createList',
  'addColumn',
  'createSubscription',
  'renewSubscription',
  'reauthorizeSubscription',
  'deleteSubscription',
]);

/** Reads as the ledger does; writes stay in the DryRun's memory. */
class DryRunLedgerStore extends LedgerStore {
  constructor(
    private readonly dry: DryRun,
    base: LedgerStore,
  ) {
    super(base.definitionId, base.keyStrategy, base.connection);
  }

  override async byIdentities(db: Db, hashes: string[]): Promise<Map<string, LedgerEntry>> {
    const found = await super.byIdentities(db, hashes);
    this.dry.remember(found.values());
    return found;
  }

  override async byItemIds(db: Db, listId: string, itemIds: string[]): Promise<Map<string, LedgerEntry>> {
    const found = await super.byItemIds(db, listId, itemIds);
    this.dry.remember(found.values());
    return found;
  }

  override async batchAfter(db: Db, afterHash: string, limit: number): Promise<LedgerEntry[]> {
    const batch = await super.batchAfter(db, afterHash, limit);
    this.dry.remember(batch);
    return batch;
  }

  override async save(_db: Db, entries: LedgerEntry[]): Promise<void> {
    this.dry.remember(entries);
  }

  override async remove(_db: Db, hashes: string[]): Promise<void> {
    for (const h of hashes) this.dry.removed.add(h);
  }

  /** Its scan of unseen pairs skips entries without an item, which adopted pairs are in the ledger it reads. */
  override async markSeenIdentities(): Promise<void> {}

  /** A dry run's look for a pending create's item starts no wait: the real run's first look does. */
  override async markPendingChecked(): Promise<void> {}

  override async markSeen(_db: Db, _listId: string, itemIds: string[]): Promise<void> {
    for (const id of itemIds) this.dry.seen.add(id);
  }

  /**
   * Push compares this with the table's row count to skip its delete check when nothing is gone. A dry
   * run's creates never reach the ledger, so the comparison would say "rows gone" or, worse, "nothing gone"
   * wrongly: answer "unknown" (NaN compares unequal), so the check scans and finds what the real run finds.
   */
  override async count(): Promise<number> {
    return Number.NaN;
  }

  /** The real query relies on committed "seen" marks; here they live in memory, so scan the ledger. */
  override async unseen(
    db: Db,
    listId: string,
    _runId: string,
    limit: number,
    afterHash = '',
  ): Promise<LedgerEntry[]> {
    const out: LedgerEntry[] = [];
    let after = afterHash;
    for (;;) {
      const batch = await super.batchAfter(db, after, 1000);
      if (batch.length === 0) return out;
      after = batch[batch.length - 1].identityHash;
      for (const e of batch) {
        if (e.listId !== listId || e.state !== 'SYNCED' || !e.itemId) continue;
        if (this.dry.seen.has(e.itemId) || this.dry.removed.has(e.identityHash)) continue;
        out.push(e);
        if (out.length >= limit) return out;
      }
    }
  }
}

type ColumnValues = Record<string, { kind: FieldKind; value: CanonicalValue }>;

/** Runs the pull's row writes (inside a transaction the dry run rolls back) and records each. */
class RecordingSource extends PostgresSource {
  constructor(
    private readonly dry: DryRun,
    base: PostgresSource,
  ) {
    super(base.pool, base.shape);
  }

  override async insertRow(client: PoolClient, values: ColumnValues): Promise<SourceRow> {
    const row = await super.insertRow(client, values);
    this.dry.record({
      kind: 'create',
      side: 'postgres',
      key: this.keyRecord(this.shape.key.map((k) => row.values[k])),
      itemId: null,
      fields: Object.keys(values),
    });
    return row;
  }

  override async updateRow(client: PoolClient, key: unknown[], values: ColumnValues): Promise<SourceRow> {
    const row = await super.updateRow(client, key, values);
    if (Object.keys(values).length > 0) {
      this.dry.record({
        kind: 'update',
        side: 'postgres',
        key: this.keyRecord(key),
        itemId: null,
        fields: Object.keys(values),
      });
    }
    return row;
  }

  // A page's batched writes (engine/pull/pageWrites.ts): recorded when every row matched, as the page keeps them.
  override async updateRows(client: PoolClient, keys: unknown[][], rows: EncodedValues[]): Promise<number[]> {
    const matched = await super.updateRows(client, keys, rows);
    if (matched.every((n) => n === 1))
      keys.forEach((key, i) => this.recordKeyed('update', key, rows[i].columns));
    return matched;
  }

  override async insertRows(client: PoolClient, rows: EncodedValues[]): Promise<SourceRow[]> {
    const inserted = await super.insertRows(client, rows);
    inserted.forEach((row, i) =>
      this.dry.record({
        kind: 'create',
        side: 'postgres',
        key: this.keyRecord(this.shape.key.map((k) => row.values[k])),
        itemId: null,
        fields: rows[i].columns,
      }),
    );
    return inserted;
  }

  override async deleteRows(client: PoolClient, keys: unknown[][]): Promise<number[]> {
    const matched = await super.deleteRows(client, keys);
    if (matched.every((n) => n === 1)) keys.forEach((key) => this.recordKeyed('delete', key, []));
    return matched;
  }

  override async setFlags(client: PoolClient, keys: unknown[][], column: string): Promise<number[]> {
    const matched = await super.setFlags(client, keys, column);
    if (matched.every((n) => n === 1)) keys.forEach((key) => this.recordKeyed('update', key, [column]));
    return matched;
  }

  private recordKeyed(kind: 'update' | 'delete', key: unknown[], fields: string[]): void {
    this.dry.record({ kind, side: 'postgres', key: this.keyRecord(key), itemId: null, fields });
  }

  override async deleteRow(client: PoolClient, key: unknown[]): Promise<void> {
    await super.deleteRow(client, key);
    this.dry.record({ kind: 'delete', side: 'postgres', key: this.keyRecord(key), itemId: null, fields: [] });
  }

  override async setFlag(client: PoolClient, key: unknown[], column: string): Promise<void> {
    await super.setFlag(client, key, column);
    this.dry.record({
      kind: 'update',
      side: 'postgres',
      key: this.keyRecord(key),
      itemId: null,
      fields: [column],
    });
  }
}

function dryRunSummary(summary: RunSummary, dry: DryRun): DryRunSummary {
  return { ...summary, dryRun: true, planned: dry.planned, sample: dry.sample, moves: dry.moves };
}

/**
 * `push NAME --dry-run`: the push as it would run now, writing nothing anywhere. No run is recorded (a
 * recorded run would show as the last push in `status` and count in `runs`), and the definition's lock is
 * not taken (a long preview must not make scheduled runs skip).
 */
export async function previewPush(
  ctx: EngineContext,
  definitionName: string,
  opts: { trigger: RunTrigger; sampleSize?: number; maxSeconds?: number; importExistingItems?: boolean },
): Promise<DryRunSummary> {
  const dry = new DryRun(opts.sampleSize);
  return dryRunSummary(
    await runPush(ctx, definitionName, {
      trigger: opts.trigger,
      dryRun: dry,
      maxSeconds: opts.maxSeconds,
      importExistingItems: opts.importExistingItems,
    }),
    dry,
  );
}

/** `pull NAME --dry-run`: the pull as it would run now, writing nothing anywhere (see previewPush). */
export async function previewPull(
  ctx: EngineContext,
  definitionName: string,
  opts: { trigger: RunTrigger; sampleSize?: number; maxSeconds?: number; importExistingItems?: boolean },
): Promise<DryRunSummary> {
  const dry = new DryRun(opts.sampleSize);
  return dryRunSummary(
    await runPull(ctx, definitionName, {
      trigger: opts.trigger,
      dryRun: dry,
      maxSeconds: opts.maxSeconds,
      importExistingItems: opts.importExistingItems,
    }),
    dry,
  );
}
