import type { Pool } from 'pg';
import {
  CanonicalValueError,
  fieldKindFor,
  identityOf,
  toCanonical,
  type CanonicalValue,
  type FieldKind,
} from '../canonical';
import type { SyncDefinition } from '../definition/schema';
import {
  compileTargetRoutes,
  isRouted,
  targetLists,
  tallyRouteMoves,
  type RouteColumn,
  type RouteMovesReport,
} from '../routing';
import { readSourceTable } from '../source/postgres/catalog';
import { quoteIdent } from '../source/postgres/PostgresSource';
import type { StoredDefinition } from '../store/definitions';
import { checkKeyKinds } from './keyKinds';
import { SourceTableNotFoundError } from './runner';
import { applyTransforms } from './transform';
import type { EngineContext } from './types';
import { errorKindOf } from '../errors/classify';

const PAGE = 1000;

/**
 * How many synced rows new routes would move, and between which lists, before anything moves (#21): the new
 * routes are evaluated over each synced row's current values (canonical, after the field's transforms, as a
 * push sees them) and compared with the list the ledger has its item in. `listNames` names the lists by id;
 * an id it lacks is reported as the id. Rows not synced yet are left out: their first push creates them.
 * Kinds come from the Postgres columns alone (a run also looks at the SharePoint column: a timestamp mapped to
 * a date-only column compares as a date there), so a count for such a column is an estimate.
 * A key column retyped since the ledger was built (I1, I14) renders other identities than the ledger's: no synced row
 * would be found, and none counted as moving; refused as runs refuse it (KeyTypeChangedError).
 */
export async function previewRouteMoves(
  meta: Pool,
  sourcePool: Pool,
  stored: Pick<StoredDefinition, 'id' | 'keyKinds'>,
  after: SyncDefinition,
  listNames: ReadonlyMap<string, string>,
): Promise<RouteMovesReport> {
  const definitionId = stored.id;
  const { schema, table, key } = after.source;
  const info = await readSourceTable(sourcePool, schema, table);
  if (!info) throw new SourceTableNotFoundError(after.name, `${schema}.${table}`);
  // No query while the key renders as recorded: the stored definition carries its renderings.
  await checkKeyKinds(
    meta,
    { id: definitionId, definition: after, keyKinds: stored.keyKinds },
    info.columns,
    `${quoteIdent(schema)}.${quoteIdent(table)}`,
    true,
  );
  const pgByName = new Map(info.columns.map((c) => [c.name, c]));
  const kindOf = (column: string): FieldKind | undefined => {
    const pg = pgByName.get(column);
    if (!pg) return undefined;
    try {
      return fieldKindFor(pg, undefined);
    } catch {
      return undefined;
    }
  };
  const columns: RouteColumn[] = [];
  const transforms = new Map<string, SyncDefinition['fields'][number]['transform']>();
  const readable: {
    source: string;
    target?: string;
    transform?: SyncDefinition['fields'][number]['transform'];
  }[] = [...after.fields, ...key.map((k) => ({ source: k }))];
  for (const c of readable) {
    const kind = kindOf(c.source);
    if (kind === undefined || transforms.has(c.source)) continue;
    columns.push({ source: c.source, target: c.target, kind });
    transforms.set(c.source, c.transform);
  }
  const compiled = compileTargetRoutes(after, columns);
  const keyKinds: Record<string, FieldKind> = {};
  for (const k of key) {
    const kind = kindOf(k);
    if (kind) keyKinds[k] = kind;
  }

  const { rows: ledger } = await meta.query<{ h: string; list: string; held: boolean }>(
    // UNROUTED entries (engine, migration 011) have no list: their rows are created, not moved, once routed.
    // ITEM_DELETED ones (027) have no item: they are held, not moved (push/rows.ts).
    `SELECT source_identity_hash AS h, sp_list_id AS list, state = 'ITEM_DELETED' AS held
       FROM arcore.sync_ledger WHERE definition_id = $1 AND state <> 'UNROUTED'`,
    [definitionId],
  );
  const listOfRow = new Map(ledger.map((r) => [r.h, r.list]));
  const heldRows = new Set(ledger.filter((r) => r.held).map((r) => r.h));
  const read = [...new Set([...key, ...columns.map((c) => c.source)])];
  const keyList = key.map(quoteIdent).join(', ');
  const pairs: { from: string; to: string | null; itemDeleted: boolean }[] = [];
  let cursor: unknown[] | null = null;
  for (;;) {
    const page: { rows: Record<string, unknown>[] } = await sourcePool.query<Record<string, unknown>>(
      `SELECT ${read.map(quoteIdent).join(', ')} FROM ${quoteIdent(schema)}.${quoteIdent(table)}` +
        (cursor ? ` WHERE (${keyList}) > (${key.map((_, i) => `$${i + 1}`).join(', ')})` : '') +
        ` ORDER BY ${keyList} LIMIT ${PAGE}`,
      cursor ?? [],
    );
    const { rows } = page;
    for (const row of rows) {
      const hash = identityOf(key, row, keyKinds).hash;
      const listId = listOfRow.get(hash);
      if (listId === undefined) continue;
      const values: Record<string, CanonicalValue> = {};
      try {
        for (const c of columns) {
          const steps = transforms.get(c.source);
          const raw = row[c.source];
          values[c.source] = toCanonical(c.kind, steps ? applyTransforms(steps, raw) : raw);
        }
      } catch (err) {
        // A value no push can send parks its row; it cannot move either.
        if (err instanceof CanonicalValueError) continue;
        throw err;
      }
      const index = compiled.routeOf(values);
      pairs.push({
        from: listNames.get(listId) ?? listId,
        to: index === null ? null : compiled.lists[index],
        itemDeleted: heldRows.has(hash),
      });
    }
    if (rows.length < PAGE) break;
    const last: Record<string, unknown> = rows[rows.length - 1];
    cursor = key.map((k) => last[k]);
  }
  return tallyRouteMoves(pairs);
}

/**
 * Names of the lists a definition's ledger points at, by id, spelt as the new definition names them where it names
 * them: the preview compares those names with the new routes' lists, so a list the new routes name another way than
 * before (by its id, which a list may be named by) is not counted as every row moving. Found by resolving the lists of
 * both versions of the definition (a list that does not exist yet holds no item), the new one's first: one request
 * per list, at apply time only; the list a single-list definition bound names an id no longer resolved.
 */
export async function ledgerListNames(
  ctx: EngineContext,
  boundListId: string | null,
  before: SyncDefinition,
  after: SyncDefinition,
): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  const target = ctx.target();
  try {
    for (const def of [after, before]) {
      const site = await target.resolveSite(def.target.site);
      for (const list of targetLists(def)) {
        try {
          const resolved = await target.resolveList(site.id, list);
          if (!names.has(resolved.id)) names.set(resolved.id, list);
        } catch (err) {
          if (errorKindOf(err) !== 'not_found') throw err;
        }
      }
    }
  } finally {
    await target.close();
  }
  if (boundListId !== null && !isRouted(before) && !names.has(boundListId))
    names.set(boundListId, targetLists(before)[0]);
  return names;
}
