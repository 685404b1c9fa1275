/**
 * The lists of one run (issue #21): a single-list definition has one; a routed definition has one per routed
 * list, and each row belongs to the list of the first route its values match.
 */
import type { Pool } from 'pg';
import { toCanonical, type CanonicalRecord, type CanonicalValue, type SpColumnInfo } from '../canonical';
import { compileRoutes, routeColumnsOf } from '../routing';
import type { FieldPlan } from './plan';
import type { SyncDefinition } from '../definition/schema';
import type { StoredDefinition } from '../store/definitions';
import { ListReplacedError } from './listIdentity';
import type { RunScope } from './runner';

/** One list a run works with, resolved at its start. */
export interface ScopeList {
  /** The name (or GUID) the definition gives. */
  name: string;
  listId: string;
  spColumns: SpColumnInfo[];
}

/**
 * The router of a routed definition (null for a single-list one): its rules compiled against the field plan,
 * answering with the run's list a row's canonical values (by target field) go to, or null (unrouted).
 */
export function routerOf(def: SyncDefinition, plan: FieldPlan, lists: ScopeList[]): Router | null {
  if (!def.target.routes) return null;
  const compiled = compileRoutes(def.target.routes, routeColumnsOf(plan.fields, plan.keyKinds));
  const byName = new Map(lists.map((l) => [l.name.toLowerCase(), l]));
  const listOf = compiled.lists.map((name) => byName.get(name.toLowerCase()) ?? null);
  // Key columns no field maps are not in the canonical record: conditions read them from the row.
  const unmappedKeys = def.source.key.filter((k) => !plan.fields.some((f) => f.source === k));
  return (values, row) => {
    const keys: Record<string, CanonicalValue> = {};
    for (const k of unmappedKeys) {
      const kind = plan.keyKinds[k];
      if (kind) keys[k] = toCanonical(kind, row[k]);
    }
    const i = compiled.routeOfRecord(values, keys);
    return i === null ? null : listOf[i];
  };
}

/**
 * The list a row belongs to: from its canonical values by target field (what push and pull compare) and its
 * source values (for key columns no field maps), or null when no route matches (the row is unrouted).
 */
export type Router = (values: CanonicalRecord, row: Record<string, unknown>) => ScopeList | null;

/** The scope as one list's run sees it: the same run (counts, details, lock, clock), that list's id and columns. */
export function forList(scope: RunScope, list: ScopeList): RunScope {
  if (scope.listId === list.listId) return scope;
  return { ...scope, listId: list.listId, spColumns: list.spColumns };
}

/**
 * The scope for a list id the ledger names: one of the run's lists, or a list a rule change no longer routes to
 * (its items are still read and written by id until they move; its columns are taken as the first list's).
 */
export function forListId(scope: RunScope, listId: string): RunScope {
  const list = scope.lists.find((l) => l.listId === listId);
  return forList(scope, list ?? { name: listId, listId, spColumns: scope.spColumns });
}

/**
 * I15 for a routed definition, list by list: each routed list name is bound to the id it resolved to on its
 * first run, and a name that now resolves to another list is refused until `relink`. A list added by a rule
 * change is bound when a run first resolves it (the ledger holds no item of it yet).
 */
export async function checkRoutedListIdentity(
  meta: Pool,
  stored: StoredDefinition,
  lists: ScopeList[],
): Promise<void> {
  const { rows } = await meta.query<{ list_name: string; list_id: string }>(
    'SELECT list_name, list_id FROM arcore.sync_definition_lists WHERE definition_id = $1',
    [stored.id],
  );
  const bound = new Map(rows.map((r) => [r.list_name, r.list_id]));
  const fresh: ScopeList[] = [];
  for (const list of lists) {
    const was = bound.get(list.name);
    if (was === undefined) fresh.push(list);
    else if (was !== list.listId)
      throw new ListReplacedError(stored.definition.name, list.name, was, list.listId);
  }
  if (fresh.length === 0) return;
  await meta.query(
    `INSERT INTO arcore.sync_definition_lists (definition_id, list_name, list_id)
     SELECT $1, x.name, x.id FROM jsonb_to_recordset($2::jsonb) AS x(name text, id text)
     ON CONFLICT (definition_id, list_name) DO NOTHING`,
    [stored.id, JSON.stringify(fresh.map((l) => ({ name: l.name, id: l.listId })))],
  );
}

/** Whether the definition was ever routed (its runs bound routed lists). */
export async function wasRouted(meta: Pool, definitionId: string): Promise<boolean> {
  const { rows } = await meta.query<{ routed: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM arcore.sync_definition_lists WHERE definition_id = $1) AS routed',
    [definitionId],
  );
  return rows[0].routed;
}

/** Forgets a routed definition's list bindings (relink binds the lists it resolves now). */
export async function unbindRoutedLists(
  db: Pick<Pool, 'query'>,
  definitionId: string,
  names?: string[],
): Promise<void> {
  await db.query(
    'DELETE FROM arcore.sync_definition_lists WHERE definition_id = $1 AND ($2::text[] IS NULL OR list_name = ANY($2))',
    [definitionId, names ?? null],
  );
}
