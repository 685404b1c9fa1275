import type { Pool } from 'pg';
import { contentHash, identityOf, type CanonicalRecord } from '../canonical';
import type { SyncDefinition } from '../definition/schema';
import { readSourceTable } from '../source/postgres/catalog';
import { PostgresSource } from '../source/postgres/PostgresSource';
import type { StoredDefinition } from '../store/definitions';
import type { LedgerEntry } from '../store/ledger';
import type { SharePointTarget } from '../target/sharepoint/SharePointTarget';
import type { FieldPlan } from './plan';
import { UNCONFIRMED_ETAG } from './push/pendingCreates';
import type { ScopeList } from './routing';

/**
 * Items a definition finds in a list it has no pairs in yet, carrying the hidden key of an earlier sync of that list
 * (docs/design.md I15): the definition was removed and added back (or renamed), or the list was copied with its
 * items. Their rows have no ledger entry, so a push would create a second item for each of them and a pull would
 * take them for new items. Runs refuse until `relink` pairs them with the rows whose keys they carry.
 */
export class ListHoldsSyncedItemsError extends Error {
  readonly errorKind = 'invalid_definition' as const;
  readonly hint: string;

  constructor(
    readonly definition: string,
    readonly list: string,
    readonly keyColumn: string,
    readonly found: number,
    readonly looked: number,
  ) {
    super(
      `Definition "${definition}": list "${list}" already holds items carrying the hidden key column ` +
        `"${keyColumn}" (${found} of its ${looked} items), written by an earlier sync of this list (a ` +
        'definition removed and added back or renamed, or the list copied with its items), and this definition has ' +
        'no pairs in it yet: a push would create a second item for each of their rows and a pull would take them ' +
        `for new items. Nothing was written. Run "npx arcore-sync relink ${definition}" to pair them with their rows.`,
    );
    this.name = 'ListHoldsSyncedItemsError';
    this.hint =
      `run "npx arcore-sync relink ${definition}" to pair those items with the rows whose keys they carry (values ` +
      'that differ are then decided by the conflict policy), then run again; to sync into this list afresh ' +
      `instead, delete those items or empty their "${keyColumn}" column`;
  }
}

/**
 * Items a routed definition finds without a hidden key in a list it binds now (its first run on it): items users made
 * before the sync. Its pull would take each for a new row, and the push would then move each whose row routes to
 * another list (deleted here, made again there: its version history, attachments and links lost). Runs refuse until
 * one run is told to import them (`importExistingItems`, CLI `--import-existing-items`). A single list keeps its
 * items, so it takes them in at once.
 */
export class ListHoldsUnsyncedItemsError extends Error {
  readonly errorKind = 'invalid_definition' as const;
  readonly hint: string;

  constructor(
    readonly definition: string,
    readonly list: string,
    readonly keyColumn: string,
    readonly found: number,
  ) {
    super(
      `Definition "${definition}": list "${list}" holds ${found} item${found === 1 ? '' : 's'} without the hidden ` +
        `key column "${keyColumn}" (made before this sync), and this definition routes rows to it for the first ` +
        'time: its pull would take each for a new row, and each whose row routes to another list would then be ' +
        'moved there (deleted here and made again there, losing its version history and attachments). Nothing ' +
        'was written.',
    );
    this.name = 'ListHoldsUnsyncedItemsError';
    this.hint =
      `to import them, run "npx arcore-sync pull ${definition} --import-existing-items" once (ops API: POST ` +
      `definitions/${definition}/pull with {"importExistingItems": true}; each item whose row ` +
      `routes elsewhere is then moved by the next push); to leave them out, move them out of "${list}" first (or ` +
      `route to another list), then run again`;
  }
}

/**
 * The lists a run is about to bind to the definition (its first run on them): a single list when none is bound yet
 * (a bound list that differs is a replaced list, refused as such), a routed definition's lists not bound by name.
 * Lists without the hidden key column are left to the checks that name that.
 */
export async function listsToBind(
  meta: Pool,
  stored: StoredDefinition,
  lists: ScopeList[],
  routed: boolean,
): Promise<ScopeList[]> {
  const keyed = (l: ScopeList) => l.spColumns.some((c) => c.name === stored.definition.target.keyColumn);
  if (!routed) return stored.listId === null ? lists.slice(0, 1).filter(keyed) : [];
  const { rows } = await meta.query<{ list_name: string }>(
    'SELECT list_name FROM arcore.sync_definition_lists WHERE definition_id = $1',
    [stored.id],
  );
  const bound = new Set(rows.map((r) => r.list_name));
  return lists.filter((l) => !bound.has(l.name) && keyed(l));
}

/** Items a page when a definition binds a list: Graph's largest list-item page (graph.md: `$top` up to 5000). */
const PAGE = 5000;

/**
 * At a run's start, for each list the definition binds now (its first run on it) in which it has no ledger entry:
 * reads the hidden key of every item (items made by hand before the sync may come first, so no page tells), and
 * refuses when any carries one (ListHoldsSyncedItemsError) or, for a routed definition not told to import them
 * (`importExisting`), when any carries none (ListHoldsUnsyncedItemsError). Costs one indexed query and one Graph
 * request per 5,000 items, once: a bound list is not looked at again.
 */
export async function refuseUnclaimedItems(
  meta: Pool,
  target: SharePointTarget,
  stored: StoredDefinition,
  siteId: string,
  lists: ScopeList[],
  routed: { importExisting: boolean } | null,
): Promise<void> {
  const def = stored.definition;
  for (const list of lists) {
    const { rows } = await meta.query(
      'SELECT 1 FROM arcore.sync_ledger WHERE definition_id = $1 AND sp_list_id = $2 LIMIT 1',
      [stored.id, list.listId],
    );
    if (rows.length > 0) continue;
    let looked = 0;
    let found = 0;
    for await (const page of target.listItems(siteId, list.listId, {
      select: [def.target.keyColumn],
      top: PAGE,
    }))
      for (const item of page) {
        looked++;
        const key = item.fields[def.target.keyColumn];
        if (typeof key === 'string' && key !== '') found++;
      }
    if (found > 0)
      throw new ListHoldsSyncedItemsError(def.name, list.name, def.target.keyColumn, found, looked);
    if (routed && !routed.importExisting && looked > 0)
      throw new ListHoldsUnsyncedItemsError(def.name, list.name, def.target.keyColumn, looked);
  }
}

/** An item of a list read by relink, carrying a hidden key. */
export interface KeyedItem {
  listId: string;
  id: string;
  eTag: string;
  /** Its mapped values; null when they could not be read. */
  values: CanonicalRecord | null;
}

/**
 * Relink's pairs for items whose hidden key no ledger entry holds (I15): each such item whose key is the identity
 * hash of a row of the table now is paired with that row. It has no values last synced, so nothing is assumed of
 * either side: every field is aligned afresh (the pull compares the two sides and values that differ go to the
 * conflict policy, its eTag proving nothing: UNCONFIRMED_ETAG); a definition that does not pull records what the
 * item holds and writes the row's values over it. The table (`pool`) is read by key, a page at a time.
 * `unclaimed`: hidden key → the item chosen for it, for keys no ledger entry holds; the keys paired are taken out of
 * it, so what is left carries a key no row of the table has.
 */
export async function pairsForUnclaimedItems(
  pool: Pool,
  def: SyncDefinition,
  plan: FieldPlan,
  unclaimed: Map<string, KeyedItem>,
): Promise<LedgerEntry[]> {
  const table = await readSourceTable(pool, def.source.schema, def.source.table);
  if (!table) return [];
  const source = new PostgresSource(pool, {
    schema: def.source.schema,
    table: def.source.table,
    key: def.source.key,
    cursorColumn: null,
    rowVersion: false,
    columns: table.columns.filter((c) => def.source.key.includes(c.name)),
  });
  const entries: LedgerEntry[] = [];
  let after: unknown[] | null = null;
  for (;;) {
    const rows = await source.readKeyPage(after, def.source.pageSize);
    if (rows.length === 0) break;
    after = def.source.key.map((k) => rows[rows.length - 1].values[k]);
    for (const row of rows) {
      let hash: string;
      try {
        hash = identityOf(def.source.key, row.values, plan.keyKinds).hash;
      } catch {
        continue; // a key that identifies no row (NULL) is never synced
      }
      const item = unclaimed.get(hash);
      if (!item) continue;
      unclaimed.delete(hash);
      // Postgres is the only writer of a definition that does not pull: the pair records what the item holds, and
      // the push, reading every row again, brings the item to its row (as relink's adoptedEntry does).
      const held = def.pull.enabled ? null : item.values;
      entries.push({
        identityHash: hash,
        identity: Object.fromEntries(def.source.key.map((k) => [k, row.values[k]])),
        listId: item.listId,
        itemId: item.id,
        eTag: held ? item.eTag : UNCONFIRMED_ETAG,
        syncedValues: held,
        contentHash: held ? contentHash(held) : null,
        provenance: null,
        state: 'SYNCED',
        lastSourceTs: null,
        spModifiedAt: null,
      });
    }
    if (unclaimed.size === 0) break;
  }
  return entries;
}
