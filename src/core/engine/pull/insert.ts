import type { PoolClient } from 'pg';
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
 * The row a new SharePoint item becomes: its column values, or an error naming the key columns when its key
 * cannot be derived from what SharePoint sends (I12).
 */
export function newRowValues(
  scope: RunScope,
  item: ListItem,
): { sp: CanonicalRecord; values: Record<string, { kind: FieldKind; value: CanonicalValue }> } {
  const { def, plan, source } = scope;
  const sp = fromGraphFields(item.fields, plan.columns);
  const values = insertValues(scope, sp);
  const underivable = def.source.key.filter((k) => !(k in values) && !source.column(k).hasDefault);
  if (underivable.length) {
    throw new Error(
      `cannot insert a row for this new item: key column(s) ${underivable.join(', ')} are not mapped from ` +
        'SharePoint (PULL_ONLY or BIDIRECTIONAL) and have no database default',
    );
  }
  return { sp, values };
}

/**
 * A new SharePoint item becomes a row (inserted in the page's transaction) and a synced ledger entry; an item
 * whose key cannot be derived from what SharePoint sends is refused with an error naming the key columns (I12).
 */
export async function insertItem(scope: RunScope, client: PoolClient, item: ListItem): Promise<LedgerEntry> {
  const { sp, values } = newRowValues(scope, item);
  return insertedEntry(scope, item, sp, await scope.source.insertRow(client, values));
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
    sourceValues: sourcePairs(plan.fields, synced, null, inserted),
  };
}
