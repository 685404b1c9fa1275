/**
 * A delta page's Postgres writes in a few statements instead of a savepoint and a statement per item: the page's
 * items are decided first (pure, from the rows the page read locked: pageRows.ts), their writes grouped by kind and
 * column set, and each group written in one statement per chunk (source/postgres/batchWrites.ts) under one
 * savepoint. A statement Postgres refuses (a constraint, a type, a trigger raising), a key that matched other than
 * exactly one row, or an outcome that cannot be recorded rolls its chunk back, and the chunk is written again in
 * halves, down to single items, which take the one-item path: their own savepoint, parked with Postgres's message
 * when refused (I12). Inserted rows whose values differ from what was supplied send the chunk's items to the
 * one-item path at once. Items with a conflict, a recreate or anything unusual take the one-item path from the
 * start.
 */
import type { PoolClient } from 'pg';
import {
  encodeValues,
  InsertPairingError,
  rowsPerStatement,
  type EncodedValues,
} from '../../source/postgres/batchWrites';
import type { SourceRow } from '../../source/postgres/PostgresSource';
import type { LedgerEntry } from '../../store/ledger';
import type { InsertedPair } from '../../store/pullIntents';
import type { ListItem } from '../../target/sharepoint';
import { postgresValues } from '../push/writes';
import type { RunScope } from '../runner';
import { assertKeysFree, insertedEntry, newRowValues } from './insert';
import { insertedPair } from './intents';
import { pairKey, settle, unflagsRow, type Pair, type WriteBack } from './settle';

/** What a page's items produce, committed with the page. */
export interface PageOut {
  save: LedgerEntry[];
  remove: string[];
  writeBacks: WriteBack[];
  /** Items settled this page: their parked failures are resolved. */
  resolved: string[];
  /**
   * The entries of `save` that pair a new item with the row this page inserted for it, with that row's values
   * (pageTx.ts, intents).
   */
  inserted: InsertedPair[];
}

/** Undoes what items recorded in `out` and the counts since this call. */
export function checkpoint(scope: RunScope, out: PageOut): () => void {
  const counts = { ...scope.counts };
  const lengths = [
    out.save.length,
    out.remove.length,
    out.writeBacks.length,
    out.resolved.length,
    out.inserted.length,
  ];
  return () => {
    Object.assign(scope.counts, counts);
    out.save.length = lengths[0];
    out.remove.length = lengths[1];
    out.writeBacks.length = lengths[2];
    out.resolved.length = lengths[3];
    out.inserted.length = lengths[4];
  };
}

interface Deferred {
  key: unknown[] | null;
  /** The new item an insert is for. */
  itemId?: string;
  values: EncodedValues | null;
  /** Records the item's outcome once its write landed (`row`: the inserted row); may throw. */
  finish: (row: SourceRow | null) => Promise<void>;
  /** The one-item path. */
  alone: () => Promise<void>;
}

/** The order flush writes the kinds in. */
const OP_ORDER: Record<Group['op'], number> = { delete: 0, flag: 1, update: 2, insert: 3 };

interface Group {
  op: 'update' | 'insert' | 'delete' | 'flag';
  flag: string | null;
  items: Deferred[];
}

export class PageWrites {
  private readonly groups = new Map<string, Group>();

  constructor(
    private readonly scope: RunScope,
    private readonly client: PoolClient,
    private readonly meta: PoolClient,
    private readonly out: PageOut,
  ) {}

  /**
   * Takes a synced pair's outcome: settled now when Postgres needs no write, or its write deferred to flush.
   * Answers false when the item must take the one-item path (`alone`) instead.
   */
  async offerPair(p: Pair, alone: () => Promise<void>): Promise<boolean> {
    const { scope } = this;
    const { decision } = p;
    // A conflict is recorded in the metadata database before the write, and a recreate is rare: one item, one
    // savepoint.
    if (decision.conflict || decision.outcome === 'PARKED' || decision.postgres.kind === 'recreate')
      return false;
    // Its flag is cleared by its own statement (settle.ts), which Postgres may refuse: under the item's savepoint.
    if (unflagsRow(scope, p)) return false;
    const action = decision.postgres;
    const policy = scope.def.deletes.pull;
    const softColumn = scope.def.deletes.pullSoftColumn;
    const writes =
      action.kind === 'write' ||
      (action.kind === 'delete' && (policy === 'PROPAGATE' || (policy === 'SOFT' && !!softColumn)));
    if (!writes) return this.settleNow(p);
    const written = {};
    const finish = async (): Promise<void> => {
      await settle(scope, this.client, this.meta, p, this.out, () => Promise.resolve(written));
      this.out.resolved.push(p.itemId);
    };
    if (action.kind === 'delete') {
      const flag = policy === 'SOFT' ? (softColumn as string) : null;
      this.add(flag ? `flag:${flag}` : 'delete', flag ? 'flag' : 'delete', flag, {
        key: pairKey(scope.def, p),
        values: null,
        finish,
        alone,
      });
      return true;
    }
    if (action.kind !== 'write') return false; // narrows the type: only writes are left
    let values: EncodedValues;
    try {
      const columns = postgresValues(scope, action.values, written);
      // Nothing to write still checks that the row exists (updateRow reads it): rare, one item.
      if (Object.keys(columns).length === 0) return false;
      values = encodeValues(scope.source, columns);
    } catch {
      return false; // the one-item path meets the same error and parks the item with it
    }
    this.add(`update:${values.signature}`, 'update', null, {
      key: pairKey(scope.def, p),
      values,
      finish,
      alone,
    });
    return true;
  }

  /** Takes a new item's insert; false when it must take the one-item path (its key cannot be derived, …). */
  offerInsert(item: ListItem, alone: () => Promise<void>): boolean {
    const { scope } = this;
    let values: EncodedValues;
    let sp: Pair['sp'];
    let supplied: string[];
    try {
      const planned = newRowValues(scope, item);
      supplied = Object.keys(planned.values);
      // A row of defaults only is INSERT … DEFAULT VALUES, one row a statement; a key the catalog shows nothing
      // making is left to Postgres one row at a time, with a message naming it when Postgres does not make it.
      if (supplied.length === 0 || planned.unmade.length > 0) return false;
      sp = planned.sp;
      values = encodeValues(scope.source, planned.values);
    } catch {
      return false;
    }
    const finish = (row: SourceRow | null): Promise<void> => {
      // `row` is proven to be this item's: it holds the values this item supplied (insertMany).
      const entry = insertedEntry(scope, item, sp as NonNullable<Pair['sp']>, row as SourceRow);
      this.out.save.push(entry);
      this.out.inserted.push(insertedPair(entry, row as SourceRow, supplied));
      scope.counts.created++;
      this.out.resolved.push(item.id);
      return Promise.resolve();
    };
    this.add(`insert:${values.signature}`, 'insert', null, {
      key: null,
      itemId: item.id,
      values,
      finish,
      alone,
    });
    return true;
  }

  /** Writes every deferred group, chunk by chunk; a refused chunk is split until its bad rows are alone. */
  async flush(): Promise<void> {
    // Deletes first, inserts last: a key or unique value a deleted (or updated) row frees on this page is free
    // when a new item takes it, as it was when each item was written in feed order.
    const groups = [...this.groups.values()].sort((a, b) => OP_ORDER[a.op] - OP_ORDER[b.op]);
    this.groups.clear();
    for (const g of groups) {
      const first = g.items[0];
      const per = rowsPerStatement((first.key?.length ?? 0) + (first.values?.params.length ?? 0));
      for (let i = 0; i < g.items.length; i += per) await this.writeChunk(g, g.items.slice(i, i + per));
    }
  }

  private add(id: string, op: Group['op'], flag: string | null, d: Deferred): void {
    let g = this.groups.get(id);
    if (!g) this.groups.set(id, (g = { op, flag, items: [] }));
    g.items.push(d);
  }

  /** An item whose Postgres side needs no write: settled now; false (nothing kept) when that throws. */
  private async settleNow(p: Pair): Promise<boolean> {
    const undo = checkpoint(this.scope, this.out);
    try {
      await settle(this.scope, this.client, this.meta, p, this.out);
      this.out.resolved.push(p.itemId);
      return true;
    } catch {
      undo();
      return false;
    }
  }

  private async statement(g: Group, items: Deferred[]): Promise<(SourceRow | null)[]> {
    const { source } = this.scope;
    const keys = items.map((d) => d.key as unknown[]);
    if (g.op === 'insert') {
      const rows = await source.insertRows(
        this.client,
        items.map((d) => d.values as EncodedValues),
      );
      // A key another item's pair holds is refused: the chunk is split until that item goes alone and is parked.
      await assertKeysFree(
        this.scope,
        this.meta,
        rows.map((row, i) => ({ row, itemId: items[i].itemId as string })),
        this.out.remove,
      );
      return rows;
    }
    const matched =
      g.op === 'update'
        ? await source.updateRows(
            this.client,
            keys,
            items.map((d) => d.values as EncodedValues),
          )
        : g.op === 'delete'
          ? await source.deleteRows(this.client, keys)
          : await source.setFlags(this.client, keys, g.flag as string);
    // A row gone (or a key matching several rows) is found by the one-item path, which names it (I13).
    if (matched.some((n) => n !== 1)) throw new Error('a key did not match exactly one row');
    return items.map(() => null);
  }

  /**
   * Writes a chunk under one savepoint. When the chunk fails, its halves are written the same way, so one bad
   * row among n costs about 2·log2(n) statements, and a lone item takes the one-item path (parked with Postgres's
   * message when refused, I12). Halves keep the items' order, so a value the first of two items takes stays
   * theirs as in feed order. A chunk gets 2·log2(n) failed statements in all (one or two bad rows found by halves):
   * beyond that its bad rows are many (every item refused alike, as a definition missing a NOT NULL column makes
   * them), and a failed part's items take the one-item path at once, so such a page costs about what one savepoint
   * per item cost. Where splitting cannot help (the inserted rows' values differ from what was supplied, as a
   * trigger rewriting them makes them do; a statement form Postgres does not support on this table), every item
   * takes the one-item path at once.
   */
  private async writeChunk(
    g: Group,
    items: Deferred[],
    budget = { failures: 2 * Math.ceil(Math.log2(items.length)) },
  ): Promise<void> {
    const failure = await this.tryChunk(g, items);
    if (failure === null) return;
    budget.failures--;
    if (items.length === 1 || budget.failures < 0 || !splitHelps(failure)) {
      for (const d of items) await d.alone();
      return;
    }
    const half = Math.ceil(items.length / 2);
    for (const part of [items.slice(0, half), items.slice(half)]) {
      if (part.length === 1) await part[0].alone();
      else await this.writeChunk(g, part, budget);
    }
  }

  /** The chunk's statement and outcomes under a savepoint: null when they landed, else why it rolled back. */
  private async tryChunk(g: Group, items: Deferred[]): Promise<unknown> {
    await this.client.query('SAVEPOINT page_writes');
    let failure: unknown = null;
    try {
      const rows = await this.statement(g, items);
      const undo = checkpoint(this.scope, this.out);
      try {
        for (let i = 0; i < items.length; i++) await items[i].finish(rows[i]);
      } catch (err) {
        undo();
        throw err;
      }
    } catch (err) {
      failure = err;
    }
    if (failure === null) {
      await this.client.query('RELEASE SAVEPOINT page_writes');
      return null;
    }
    await this.client.query('ROLLBACK TO SAVEPOINT page_writes; RELEASE SAVEPOINT page_writes');
    return failure;
  }
}

/**
 * Failures that halves would meet again rather than isolate: Postgres's "feature not supported" (a rule on the
 * table: the statement's form, not a row, is refused), and "lock not available" (lock_timeout: a row another session
 * holds; each half that holds it waits out the timeout again, while one item at a time waits once for it).
 */
const NO_SPLIT_CODES = new Set(['0A000', '55P03']);

/** Whether writing a failed chunk's halves apart can isolate the cause (a row) rather than meet it again. */
function splitHelps(failure: unknown): boolean {
  if (failure instanceof InsertPairingError) return false;
  const code = (failure as { code?: unknown } | null)?.code;
  return typeof code !== 'string' || !NO_SPLIT_CODES.has(code);
}
