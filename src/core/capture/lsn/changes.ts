import type { ErrorKind } from '../../errors/kind';
import { decodePgoutput, type RelationColumn, type TupleValue } from './pgoutput';
import type { SlotChange } from './slot';

/**
 * The slot's messages folded into what a push needs, one transaction at a time: the keys it touched (rows are
 * re-read by key, so the latest committed version is what is pushed, whatever the WAL carried), whether it
 * truncated the table, and whether it is the definition's own write (its replication origin).
 */
export interface CapturedTransaction {
  /** The commit's LSN: names the transaction (a parked TRUNCATE is recorded under it). */
  commitLsn: string;
  /** The end of the commit record: the slot is advanced to it once the transaction is applied. */
  endLsn: string;
  origin: string | null;
  /** Key values (as text, in definition key order) of rows the transaction inserted, updated or deleted. */
  keys: (string | null)[][];
  truncated: boolean;
  /** A delete or key change whose old key the replica identity did not carry. */
  keylessDelete: boolean;
}

/**
 * A change in the slot whose table, when it was made, lacked a key column the definition now uses: its rows cannot
 * be named, so the push stops before the slot moves past it (nothing is lost) and says how to go on.
 */
export class CapturedKeyMissingError extends Error {
  readonly errorKind: ErrorKind = 'invalid_definition';

  constructor(
    readonly definition: string,
    readonly table: string,
    readonly columns: string[],
  ) {
    super(
      `Definition "${definition}": changes waiting in the replication slot were made when ${table} had no ` +
        `key column${columns.length > 1 ? 's' : ''} ${columns.map((c) => `"${c}"`).join(', ')} (source.key), so ` +
        'their rows cannot be named. Pushes stop here (nothing after them is lost: the slot keeps them); re-read ' +
        `the table and compare it with the ledger instead: arcore-sync reset-cursor ${definition} --scope source`,
    );
    this.name = 'CapturedKeyMissingError';
  }
}

export interface FoldOptions {
  definition: string;
  schema: string;
  table: string;
  key: string[];
}

/**
 * The key of a tuple (as text, in definition key order); `null` in it when a key column is NULL (a row that is
 * never synced, I13); undefined when the tuple does not carry every key column.
 */
function keyOf(
  tuple: TupleValue[] | null,
  columns: RelationColumn[],
  key: string[],
): (string | null)[] | undefined {
  if (!tuple) return undefined;
  const out: (string | null)[] = [];
  for (const k of key) {
    const i = columns.findIndex((c) => c.name === k);
    const v = i < 0 ? undefined : tuple[i];
    if (v?.kind === 'null') out.push(null);
    else if (v?.kind === 'text') out.push(v.text);
    else return undefined;
  }
  return out;
}

const complete = (key: (string | null)[]): key is string[] => key.every((v) => v !== null);

/** The values of a key with NULL in it, by column (what the null-key record names). */
function nullKeyValues(key: (string | null)[], columns: string[]): Record<string, string | null> {
  return Object.fromEntries(columns.map((c, i) => [c, key[i]]));
}

/** What one slot message means to a push, in the order the slot returns them. */
export type FoldEvent =
  /** `xid`: the transaction's id, to wait until it is visible before its rows are read (visibility.ts). */
  | { kind: 'begin'; commitLsn: string; xid: number }
  | { kind: 'origin'; name: string }
  /**
   * A row change (insert, update or delete) of any published table; keys only for the definition's table.
   * Every row change counts, so a transaction's changes are numbered the same on each read of it.
   */
  | {
      kind: 'change';
      keys: (string | null)[][];
      keylessDelete: boolean;
      /** A row inserted or updated with NULL in a key column (never synced, parked as `null-key`, I13). */
      nullKey?: Record<string, string | null>;
    }
  | { kind: 'truncate' }
  | { kind: 'commit'; endLsn: string };

/**
 * Folds the slot's messages one at a time, keeping only the table's relation (Relation messages come once
 * per decoding session, before the table's first change): a transaction of any size is read in chunks
 * without holding it.
 */
export class ChangeFolder {
  private readonly relations = new Map<number, RelationColumn[]>();
  /** Relations whose replica identity (when the change was made) did not carry every key column. */
  private readonly keyless = new Set<number>();

  constructor(private readonly opts: FoldOptions) {}

  /** The event of one message; null for messages a push ignores (Type, Message, other tables' Relations). */
  fold(change: SlotChange): FoldEvent | null {
    const { opts } = this;
    const m = decodePgoutput(change.data);
    switch (m.tag) {
      case 'begin':
        return { kind: 'begin', commitLsn: m.finalLsn, xid: m.xid };
      case 'origin':
        return { kind: 'origin', name: m.name };
      case 'relation': {
        if (m.schema !== opts.schema || m.name !== opts.table) return null;
        // A Relation message gives the table's shape when the change was made, not now: a change made before a
        // column was added lacks it although the table has it today. Rows are re-read by key, so only the key
        // (which the replica identity carries for deletes, assertReplicaIdentity) is needed from the message; a
        // mapped column really dropped is the run's catalog read's to report (engine/plan.ts).
        const present = new Set(m.columns.map((c) => c.name));
        const missing = opts.key.filter((c) => !present.has(c));
        if (missing.length > 0)
          throw new CapturedKeyMissingError(opts.definition, `${opts.schema}.${opts.table}`, missing);
        this.relations.set(m.relationId, m.columns);
        // The identity when the change was made (a DBA may have set it back to DEFAULT since capture started):
        // without the key in it, an UPDATE of the key carries no old key and looks like one that kept it.
        const carried =
          m.replicaIdentity === 'f' || opts.key.every((k) => m.columns.some((c) => c.name === k && c.isKey));
        if (carried) this.keyless.delete(m.relationId);
        else this.keyless.add(m.relationId);
        return null;
      }
      case 'insert': {
        const columns = this.relations.get(m.relationId);
        const key = columns && keyOf(m.newTuple, columns, opts.key);
        if (key && !complete(key))
          return { kind: 'change', keys: [], keylessDelete: false, nullKey: nullKeyValues(key, opts.key) };
        return { kind: 'change', keys: key ? [key] : [], keylessDelete: false };
      }
      case 'update': {
        const columns = this.relations.get(m.relationId);
        const event: FoldEvent = { kind: 'change', keys: [], keylessDelete: false };
        if (!columns) return event;
        const key = keyOf(m.newTuple, columns, opts.key);
        if (key && complete(key)) event.keys.push(key);
        else if (key) event.nullKey = nullKeyValues(key, opts.key);
        if (m.oldTuple) {
          const old = keyOf(m.oldTuple, columns, opts.key);
          // An old key with NULL in it was never synced: nothing to delete.
          if (old) {
            if (complete(old)) event.keys.push(old);
          } else event.keylessDelete = true;
        } else if (this.keyless.has(m.relationId)) {
          // The old key is unknown (it may have changed): the ledger is compared with the table for it.
          event.keylessDelete = true;
        }
        return event;
      }
      case 'delete': {
        const columns = this.relations.get(m.relationId);
        if (!columns) return { kind: 'change', keys: [], keylessDelete: false };
        const key = keyOf(m.oldTuple, columns, opts.key);
        // A row deleted with NULL in its key was never synced (I13): nothing to delete.
        return { kind: 'change', keys: key && complete(key) ? [key] : [], keylessDelete: !key };
      }
      case 'truncate':
        return m.relationIds.some((id) => this.relations.has(id)) ? { kind: 'truncate' } : null;
      case 'commit':
        return { kind: 'commit', endLsn: m.endLsn };
      default:
        return null; // Type and Message carry nothing a push needs
    }
  }
}

/**
 * Complete transactions of a list of messages, in commit order. A trailing transaction without its Commit is
 * left out: it is read again next time.
 */
export function foldTransactions(changes: SlotChange[], opts: FoldOptions): CapturedTransaction[] {
  const folder = new ChangeFolder(opts);
  const out: CapturedTransaction[] = [];
  let current: CapturedTransaction | null = null;
  for (const change of changes) {
    const e = folder.fold(change);
    if (!e) continue;
    if (e.kind === 'begin') {
      current = {
        commitLsn: e.commitLsn,
        endLsn: '',
        origin: null,
        keys: [],
        truncated: false,
        keylessDelete: false,
      };
    } else if (!current) {
      continue;
    } else if (e.kind === 'origin') {
      current.origin = e.name;
    } else if (e.kind === 'change') {
      current.keys.push(...e.keys);
      current.keylessDelete ||= e.keylessDelete;
    } else if (e.kind === 'truncate') {
      current.truncated = true;
    } else {
      current.endLsn = e.endLsn;
      out.push(current);
      current = null;
    }
  }
  return out;
}
