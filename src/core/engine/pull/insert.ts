import type { Pool, PoolClient } from 'pg';
import {
  contentHash,
  fromGraphFields,
  identityOf,
  toCanonical,
  type CanonicalRecord,
  type CanonicalValue,
  type FieldKind,
} from '../../canonical';
import type { SourceRow } from '../../source/postgres/PostgresSource';
import { readSourceTable } from '../../source/postgres/catalog';
import { describeKey } from '../../source/postgres/keys';
import type { LedgerEntry } from '../../store/ledger';
import type { ListItem } from '../../target/sharepoint';
import { pick, rowToCanonical } from '../plan';
import type { RunScope } from '../runner';
import { pulledValue, sourcePairs } from '../transform';

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

/**
 * The row a new SharePoint item becomes: its column values, and the key columns neither SharePoint supplies nor the
 * relation's own catalog gives a default (`unmade`): Postgres may still make them (a view's table default, an
 * INSTEAD OF or BEFORE INSERT trigger), which only the INSERT itself tells (insertItem).
 */
export function newRowValues(
  scope: RunScope,
  item: ListItem,
): {
  sp: CanonicalRecord;
  values: Record<string, { kind: FieldKind; value: CanonicalValue }>;
  unmade: string[];
} {
  const { def, plan, source } = scope;
  const sp = fromGraphFields(item.fields, plan.columns);
  const values = insertValues(scope, sp);
  // A key the item leaves empty is one SharePoint does not supply (a serial id shown in a column, left blank by
  // whoever made the item): Postgres makes it, as for a key not mapped at all; an explicit NULL would refuse it.
  for (const k of def.source.key) if (values[k]?.value === null) delete values[k];
  const unmade = def.source.key.filter((k) => !(k in values) && !source.column(k).hasDefault);
  return { sp, values, unmade };
}

/**
 * A new SharePoint item becomes a row (inserted in the page's transaction) and a synced ledger entry; an item
 * whose key Postgres did not make either is refused with an error naming the key columns and how to make them
 * (I12).
 */
export async function insertItem(
  scope: RunScope,
  client: PoolClient,
  item: ListItem,
): Promise<{ entry: LedgerEntry; row: SourceRow; supplied: string[] }> {
  const { sp, values, unmade } = newRowValues(scope, item);
  try {
    const row = await scope.source.insertRow(client, values);
    return { entry: insertedEntry(scope, item, sp, row), row, supplied: Object.keys(values) };
  } catch (err) {
    // Only a key left NULL is about the key: any other refusal (a CHECK, another column's NOT NULL, a trigger's
    // error) is Postgres's own words, naming what it refused.
    const missing = nullKeyColumn(err, unmade);
    if (!missing) throw err;
    const isView = await sourceIsView(scope);
    throw new Error(
      `cannot insert a row for this new item: key column(s) ${unmade.join(', ')} are not mapped from ` +
        'SharePoint (PULL_ONLY or BIDIRECTIONAL) and Postgres did not make them ' +
        `(${(err as Error).message}). Next step: map the key from a SharePoint column, or let Postgres make it: ` +
        (isView
          ? `a default (ALTER VIEW ${scope.source.qualified} ALTER COLUMN "${missing}" SET DEFAULT …), or an ` +
            'INSTEAD OF trigger that sets it'
          : 'a default, an identity column, or a trigger that sets it') +
        '. The item is retried by the next pulls',
      { cause: err },
    );
  }
}

/** The unmade key column a NOT NULL violation (23502) names, or null when the error is another. */
function nullKeyColumn(err: unknown, unmade: readonly string[]): string | null {
  if (unmade.length === 0 || typeof err !== 'object' || err === null) return null;
  const { code, column } = err as { code?: unknown; column?: unknown };
  // Through a view the violation names the underlying table's column: a key the view renames is reported as
  // Postgres said it, rather than guessing which column it is.
  return code === '23502' && typeof column === 'string' && unmade.includes(column) ? column : null;
}

async function sourceIsView(scope: RunScope): Promise<boolean> {
  if (!scope.keyUnenforced) return false; // a table (or partitioned table): its unique index was checked
  const { schema, table } = scope.def.source;
  const info = await readSourceTable(scope.sourcePool, schema, table).catch(() => null);
  return info?.relkind === 'v';
}

/** The synced ledger entry of a new item once its row is inserted (`row` as the INSERT returned it). */
export function insertedEntry(
  scope: RunScope,
  item: ListItem,
  sp: CanonicalRecord,
  row: SourceRow,
): LedgerEntry {
  const { def, plan, listId } = scope;
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
  return {
    identityHash: hash,
    identity,
    listId,
    itemId: item.id,
    eTag: item.eTag,
    syncedValues: synced,
    contentHash: contentHash(synced),
    provenance: 'PULL',
    state: 'SYNCED',
    lastSourceTs: row.cursor,
    spModifiedAt: item.lastModifiedDateTime,
    sourceValues: sourcePairs(plan.fields, synced, null, inserted, null, 'pull'),
  };
}

/** A new item's key is already another item's pair in the ledger (I13): its row is not inserted. */
export class KeyHeldError extends Error {
  override readonly name = 'KeyHeldError';

  constructor(identity: Record<string, unknown>, holder: LedgerEntry) {
    const why =
      holder.state === 'PENDING_CREATE'
        ? 'a create the push has not settled yet'
        : holder.state === 'ORPHANED'
          ? `item ${holder.itemId}, kept in SharePoint when its row was deleted in Postgres`
          : `item ${holder.itemId}, whose row is no longer in Postgres under this key (deleted, or its key ` +
            'changed) and whose delete the push has not sent yet';
    const next =
      holder.state === 'ORPHANED'
        ? 'delete that item in SharePoint (it is no longer synced), or give this item another key'
        : 'the next push settles that pair (deletes the item when deletes propagate); or delete that item in ' +
          'SharePoint, or give this item another key';
    super(
      `the key ${describeKey(identity)} is paired with ${why} (list ${holder.listId}): this item's row is not ` +
        `inserted while that pair holds the key, or that item would be left in SharePoint unpaired. Next step: ` +
        `${next}. This item is retried by the next pulls`,
    );
  }
}

/**
 * Throws KeyHeldError when the key of a row just inserted for a new item is already held in the ledger by another
 * item's pair: an item whose row was deleted in Postgres before the push sent its delete, an item kept when its
 * row was deleted (ORPHANED), or a create not settled (PENDING_CREATE). Saving the new item's entry would replace
 * that pair and leave its item in SharePoint, never deleted nor reported, beside the new one with the same key.
 * An UNROUTED entry has no item, and `freed` lists the entries this page removes (an item deleted earlier on the
 * page): a new item may take their keys. The caller's savepoint undoes the insert.
 */
export async function assertKeysFree(
  scope: RunScope,
  meta: PoolClient | Pool,
  inserted: { row: SourceRow; itemId: string }[],
  freed: readonly string[],
): Promise<void> {
  const { def, plan, listId } = scope;
  const freedHashes = new Set(freed);
  const keys = inserted.map(({ row, itemId }) => ({
    hash: identityOf(def.source.key, row.values, plan.keyKinds).hash,
    identity: Object.fromEntries(def.source.key.map((k) => [k, row.values[k]])),
    itemId,
  }));
  const holders = await scope.ledger.byIdentities(
    meta,
    keys.map((k) => k.hash),
  );
  for (const k of keys) {
    const holder = holders.get(k.hash);
    if (!holder || holder.state === 'UNROUTED' || freedHashes.has(k.hash)) continue;
    if (holder.listId === listId && holder.itemId === k.itemId) continue;
    throw new KeyHeldError(k.identity, holder);
  }
}
