/**
 * What an item read asks Graph for. A bare `$expand=fields` returns only user-visible fields
 * (https://learn.microsoft.com/en-us/graph/api/resources/fieldvalueset), so hidden columns (the engine's
 * key column among them) must be selected by name; a multi-valued lookup or person column reads by its
 * name as `[{LookupId, LookupValue}]`, a single one by `<name>LookupId`. A query over several items may
 * join at most 12 lookup columns, Author and Editor included (same page: "Up to 12 lookup fields"), so a
 * selection with more is split: the first part goes in the query, the rest is read item by item (a
 * single-item read is not subject to the threshold,
 * https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/2711).
 */
import type { SpColumnInfo } from '../../canonical';

export const MAX_LOOKUPS_PER_QUERY = 12;

/** System fields a default single-item read includes, as a bare `$expand=fields` used to. */
const DEFAULT_SYSTEM_FIELDS = ['Title', 'Modified', 'Created'];

function isLookup(column: SpColumnInfo | undefined): boolean {
  return column?.type === 'lookup' || column?.type === 'person';
}

/** Graph's key for reading a column: lookups by id (single) or by name (multi-valued). */
function readKey(name: string, byName: ReadonlyMap<string, SpColumnInfo>): string {
  const base = name.endsWith('LookupId') ? name.slice(0, -'LookupId'.length) : name;
  const column = byName.get(base);
  if (!isLookup(column)) return name;
  return column!.allowMultiple ? base : `${base}LookupId`;
}

function lookupBase(key: string, byName: ReadonlyMap<string, SpColumnInfo>): string | undefined {
  if (key === 'AuthorLookupId' || key === 'EditorLookupId') return key;
  const base = key.endsWith('LookupId') ? key.slice(0, -'LookupId'.length) : key;
  return isLookup(byName.get(base)) ? base : undefined;
}

export interface ReadSelection {
  /** Fields the query itself selects (at most 12 lookups). */
  query: string[];
  /** Fields read afterwards item by item (the lookups past the threshold); empty when none. */
  perItem: string[];
}

/**
 * The read keys for `select` (every user column, hidden ones included, when omitted), split at the
 * lookup threshold for queries over several items.
 */
export function readSelection(
  columns: readonly SpColumnInfo[],
  select: readonly string[] | undefined,
  collection: boolean,
): ReadSelection {
  const byName = new Map(columns.map((column) => [column.name, column]));
  const wanted = select ?? [
    ...DEFAULT_SYSTEM_FIELDS.filter((name) => byName.has(name)),
    ...columns.filter((column) => !column.isSystem).map((column) => column.name),
  ];
  const keys = [...new Set(wanted.map((name) => readKey(name, byName)))];
  if (!collection) return { query: keys, perItem: [] };
  const query: string[] = [];
  const perItem: string[] = [];
  let lookups = 0;
  for (const key of keys) {
    if (lookupBase(key, byName) === undefined) query.push(key);
    else if (lookups < MAX_LOOKUPS_PER_QUERY) {
      lookups++;
      query.push(key);
    } else perItem.push(key);
  }
  return { query, perItem };
}
