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

export class MappedColumnDroppedError extends Error {
  readonly errorKind: ErrorKind = 'invalid_definition';

  constructor(
    readonly definition: string,
    readonly table: string,
    readonly columns: string[],
  ) {
    super(
      `Definition "${definition}": column${columns.length > 1 ? 's' : ''} ${columns.map((c) => `"${c}"`).join(', ')} ` +
        `of ${table} ${columns.length > 1 ? 'were' : 'was'} dropped but the definition maps ${columns.length > 1 ? 'them' : 'it'}. ` +
        'Pushes stop here (nothing after the change is lost: the slot keeps it); remove the mapping from the ' +
        'definition and apply it, or add the column back',
    );
    this.name = 'MappedColumnDroppedError';
  }
}

export interface FoldOptions {
  definition: string;
  schema: string;
  table: string;
  key: string[];
  /** Columns the definition reads: a Relation message without one of them fails the definition. */
  mapped: string[];
}

function keyOf(
  tuple: TupleValue[] | null,
  columns: RelationColumn[],
  key: string[],
): (string | null)[] | null {
  if (!tuple) return null;
  const out: (string | null)[] = [];
  for (const k of key) {
    const i = columns.findIndex((c) => c.name === k);
    const v = i < 0 ? undefined : tuple[i];
    if (!v || v.kind !== 'text') return null;
    out.push(v.text);
  }
  return out;
}

/**
 * Complete transactions of a peek, in commit order. A trailing transaction without its Commit (never the case
 * for the SQL interface, which returns whole transactions) is left out: it is read again next time.
 */
export function foldTransactions(changes: SlotChange[], opts: FoldOptions): CapturedTransaction[] {
  const relations = new Map<number, RelationColumn[]>();
  const out: CapturedTransaction[] = [];
  let current: CapturedTransaction | null = null;
  const wanted = (relationId: number): RelationColumn[] | null => relations.get(relationId) ?? null;
  for (const change of changes) {
    const m = decodePgoutput(change.data);
    switch (m.tag) {
      case 'begin':
        current = {
          commitLsn: m.finalLsn,
          endLsn: '',
          origin: null,
          keys: [],
          truncated: false,
          keylessDelete: false,
        };
        break;
      case 'origin':
        if (current) current.origin = m.name;
        break;
      case 'relation': {
        if (m.schema !== opts.schema || m.name !== opts.table) break;
        const present = new Set(m.columns.map((c) => c.name));
        const dropped = opts.mapped.filter((c) => !present.has(c));
        if (dropped.length > 0)
          throw new MappedColumnDroppedError(opts.definition, `${opts.schema}.${opts.table}`, dropped);
        relations.set(m.relationId, m.columns);
        break;
      }
      case 'insert': {
        const columns = wanted(m.relationId);
        const key = columns && keyOf(m.newTuple, columns, opts.key);
        if (current && key) current.keys.push(key);
        break;
      }
      case 'update': {
        const columns = wanted(m.relationId);
        if (!current || !columns) break;
        const key = keyOf(m.newTuple, columns, opts.key);
        if (key) current.keys.push(key);
        if (m.oldTuple) {
          const old = keyOf(m.oldTuple, columns, opts.key);
          if (old) current.keys.push(old);
          else current.keylessDelete = true;
        }
        break;
      }
      case 'delete': {
        const columns = wanted(m.relationId);
        if (!current || !columns) break;
        const key = keyOf(m.oldTuple, columns, opts.key);
        if (key) current.keys.push(key);
        else current.keylessDelete = true;
        break;
      }
      case 'truncate':
        if (current && m.relationIds.some((id) => relations.has(id))) current.truncated = true;
        break;
      case 'commit':
        if (current) {
          current.endLsn = m.endLsn;
          out.push(current);
        }
        current = null;
        break;
      default:
        break; // Type and Message carry nothing a push needs
    }
  }
  return out;
}
