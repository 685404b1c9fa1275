/**
 * The lists of one run (issue #21): a single-list definition has one; a routed definition has one per routed
 * list, and each row belongs to the list of the first route its values match.
 */
import type { Pool, PoolClient } from 'pg';
import {
  toCanonical,
  type CanonicalRecord,
  type CanonicalValue,
  type FieldKind,
  type SpColumnInfo,
} from '../canonical';
import { compileRoutes, routeColumnsOf } from '../routing';
import { buildFieldPlan, MappingError, rowToCanonical, type FieldPlan, type PlannedField } from './plan';
import { parkWaiting } from '../store/failures';
import type { LedgerEntry } from '../store/ledger';
import type { SyncDefinition } from '../definition/schema';
import type { SourceColumn } from '../definition/validateLive';
import { errorKindOf } from '../errors/classify';
import type { StoredDefinition } from '../store/definitions';
import { ListReplacedError } from './listIdentity';
import type { RunScope } from './runner';

/** One list a run works with, resolved at its start. */
export interface ScopeList {
  /** The name (or GUID) the definition gives. */
  name: string;
  listId: string;
  spColumns: SpColumnInfo[];
  /** The field plan against this list's own columns (set by planLists; the run's plan when it has a problem). */
  plan?: FieldPlan;
  /**
   * Why this list cannot be synced in this run (set by planLists): a mapped column or the hidden key missing, or
   * a mapped column of another type than in the run's other lists. Its rows wait (parked); the other lists sync.
   */
  problem?: string;
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
  if (scope.listId === list.listId && (list.plan ?? scope.plan) === scope.plan) return scope;
  return { ...scope, listId: list.listId, spColumns: list.spColumns, plan: list.plan ?? scope.plan };
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
 * Rows paired in list `listId` by something other than the push reading the row (the pull adopting an item by its
 * key, a resolve) whose route names another list now: parked as waiting PUSH retries (one statement), so the next
 * push reads them by key and moves their items. Nothing else would: the row did not change, and the push's cursor
 * may be past it.
 */
export async function parkMisrouted(
  scope: RunScope,
  db: Pool | PoolClient,
  listId: string,
  pairs: { entry: LedgerEntry; row: Record<string, unknown> }[],
): Promise<void> {
  if (!scope.route) return;
  const misrouted: Parameters<typeof parkWaiting>[3] = [];
  for (const { entry, row } of pairs) {
    let routed: ScopeList | null;
    try {
      routed = scope.route(rowToCanonical(scope.plan, row, entry), row);
    } catch {
      continue; // a row whose values do not map: the push meets it with its own error
    }
    if (!routed || routed.listId === listId) continue;
    misrouted.push({
      itemKey: entry.identityHash,
      sourceIdentity: entry.identity,
      spItemId: entry.itemId,
      error:
        `its item was paired in list "${listName(scope, listId)}" while the row routes to "${routed.name}": ` +
        'the next push moves it',
    });
  }
  await parkWaiting(db, scope.definitionId, 'PUSH', misrouted);
}

/** A list's name as the definition gives it (its id for a list the definition no longer names). */
export function listName(scope: RunScope, listId: string): string {
  return scope.lists.find((l) => l.listId === listId)?.name ?? listId;
}

/**
 * I15 for a routed definition, list by list: each routed list name is bound to the id it resolved to on its
 * first run, and a name that now resolves to another list is refused until `relink`. A list added by a rule
 * change is bound when a run first resolves it (the ledger holds no item of it yet).
 */
export async function checkRoutedListIdentity(
  meta: Pool | PoolClient,
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

/**
 * The run's field plan, with each routed list checked against it on its own columns (lists created separately
 * may differ). A list that lacks a mapped column or the hidden key, or whose column would map a field another way
 * (another type, read-only), gets a `problem` naming the list, the column and the next step; the run's plan is
 * the first list without one, and only when every list has a problem does the run fail (with the first list's
 * error). A single-list definition is planned as before: its one list's problem is the run's error.
 */
export function planLists(
  def: SyncDefinition,
  pgColumns: SourceColumn[],
  lists: ScopeList[],
  single: boolean,
): FieldPlan {
  if (single) {
    const plan = buildFieldPlan(def, pgColumns, lists[0].spColumns);
    for (const list of lists) list.plan = plan;
    return plan;
  }
  const built = lists.map((list): { plan: FieldPlan; problem?: undefined } | { problem: Error } => {
    if (!list.spColumns.some((c) => c.name === def.target.keyColumn))
      return {
        problem: new Error(
          `Definition "${def.name}": list "${list.name}" has no column "${def.target.keyColumn}" (target.keyColumn, ` +
            'the hidden key every synced item carries)',
        ),
      };
    try {
      return { plan: buildFieldPlan(def, pgColumns, list.spColumns, list.name) };
    } catch (err) {
      if (errorKindOf(err) !== 'invalid_definition') throw err;
      return { problem: err as Error };
    }
  });
  const mainIndex = built.findIndex((b) => b.problem === undefined);
  if (mainIndex < 0) throw (built[0] as { problem: Error }).problem;
  const main = built[mainIndex] as { plan: FieldPlan };
  const mainList = lists[mainIndex];
  lists.forEach((list, i) => {
    const b = built[i];
    list.plan = b.problem === undefined ? b.plan : main.plan;
    list.problem =
      b.problem === undefined
        ? planDifference(def.name, list, b.plan, mainList, main.plan)
        : listProblem(
            def.name,
            list.name,
            b.problem instanceof MappingError
              ? b.problem.message
              : `Definition "${def.name}": list "${list.name}": ${b.problem.message}`,
            // A missing column is provision's to add; a column of another type is the user's to change.
            / has no column /.test(b.problem.message) ? 'provision' : 'retype',
          );
  });
  return main.plan;
}

/** The one thing a list's plan does differently from the run's (a type, or writability), or undefined. */
function planDifference(
  definition: string,
  list: ScopeList,
  plan: FieldPlan,
  mainList: ScopeList,
  main: FieldPlan,
): string | undefined {
  const describe = (f: PlannedField) =>
    `a ${f.sp.type}${f.sp.readOnly ? ' read-only' : ''} column (synced as ${f.kind}${f.pushable ? '' : ', never written'})`;
  for (const f of plan.fields) {
    const m = main.byTarget.get(f.target) as PlannedField;
    if (family(f.kind) === family(m.kind) && f.pushable === m.pushable && f.pullable === m.pullable) continue;
    return listProblem(
      definition,
      list.name,
      `Definition "${definition}": column "${f.target}" of list "${list.name}" is ${describe(f)}, but in list ` +
        `"${mainList.name}" it is ${describe(m)}; every routed list must hold a mapped field the same way`,
      'retype',
    );
  }
  return undefined;
}

/** Text, note and choice columns hold the same canonical text: a list may use either. */
function family(kind: FieldKind): string {
  return kind === 'note' || kind === 'choice' ? 'text' : kind;
}

function listProblem(
  definition: string,
  list: string,
  message: string,
  step: 'provision' | 'retype',
): string {
  const next =
    step === 'provision'
      ? `add the missing column with "arcore-sync provision ${definition}" (or map the field to the column's ` +
        'internal name), then run again'
      : `change the column in SharePoint to match the other lists (provision only adds missing columns), then run again`;
  return (
    `${message}. Rows routed to list "${list}" wait (parked) and the list is not pulled until then; the other ` +
    `lists sync. Next step: ${next}`
  );
}

/** Lists with a problem, for the run's details and log. */
export function listProblems(lists: ScopeList[]): { list: string; problem: string }[] {
  return lists.flatMap((l) => (l.problem ? [{ list: l.name, problem: l.problem }] : []));
}

/**
 * The problem of the list a write goes to (see planLists), or undefined: a create or an update there is not sent.
 * A delete needs no column and is sent.
 */
export function writeProblem(scope: RunScope, listId: string, kind: string): string | undefined {
  if (kind === 'delete') return undefined;
  return scope.lists.find((l) => l.listId === listId)?.problem;
}

/**
 * A routed list that cannot be synced in this run is not pulled: it counts as one failure (the run is PARTIAL)
 * and its problem is logged; the other lists are pulled.
 */
export function skipUnusableList(scope: RunScope, list: ScopeList): boolean {
  if (!list.problem) return false;
  scope.counts.processed++;
  scope.counts.failed++;
  scope.ctx.log.error(`${scope.def.name}: list "${list.name}" was not pulled: ${list.problem}`);
  return true;
}
