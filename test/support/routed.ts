/** What the routing tests (one table, several lists) set up, check after every run and look up between runs. */
import { runPull } from '../../src/core/engine/pull';
import { runPush } from '../../src/core/engine/push';
import type { SyncDefinitionInput } from '../../src/core/definition/schema';
import type { EngineContext, RunSummary } from '../../src/core/engine/types';
import { installCursorTrigger } from '../../src/core/source/postgres/PostgresSource';
import { SITE, type Harness } from './engineHarness';

/** processed is the sum of the outcomes, moves and unrouted rows included. */
export function expectBalanced(s: RunSummary): void {
  expect(s.processed).toBe(
    s.created + s.updated + s.deleted + s.moved + s.skipped + s.conflicts + s.failed + s.unrouted,
  );
}

/** A push or pull of `definition` that must end without an error, its counts balanced. */
export async function checkedRun(h: Harness, kind: 'push' | 'pull', definition: string): Promise<RunSummary> {
  const s = await (kind === 'push' ? runPush : runPull)(h.ctx, definition, { trigger: 'test' });
  expect(s.error).toBeNull();
  expectBalanced(s);
  return s;
}

export interface RoutedItem {
  list: string;
  fields: Record<string, unknown>;
  id: string;
}

/** Where a row's items are: those of `lists` whose hidden key is the row's identity hash (none for undefined). */
export async function itemsWithKey(
  h: Harness,
  lists: readonly string[],
  hash: string | undefined,
): Promise<RoutedItem[]> {
  const out: RoutedItem[] = [];
  if (hash === undefined) return out;
  for (const list of lists)
    for (const item of await h.items(list))
      if (item.fields.ArcoreKey === hash) out.push({ list, fields: item.fields, id: item.id });
  return out;
}

/** A SharePoint user's edit of an item's fields. */
export async function spEdit(
  h: Harness,
  list: string,
  itemId: string,
  fields: Record<string, unknown>,
): Promise<void> {
  const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${list}/items/${itemId}/fields`, fields);
  expect(res.status).toBe(200);
}

/** The `splits` table (id, title, region) of the tests of a routed list that does not fit the mapping. */
export async function createSplitsTable(h: Harness): Promise<void> {
  await h.db.pool.query(`CREATE TABLE splits (
    id integer PRIMARY KEY, title text, region text, updated_at timestamptz NOT NULL DEFAULT now())`);
  await installCursorTrigger(h.db.pool, 'public', 'splits', 'updated_at');
}

/** List South made by hand in SharePoint without the Region column: the run skips it (listProblems). */
export async function createUnfitSouth(h: Harness): Promise<void> {
  const south = await h.asUser('POST', `/sites/${h.siteId}/lists`, {
    displayName: 'South',
    columns: [{ name: 'ArcoreKey', text: {} }],
    list: { template: 'genericList' },
  });
  expect(south.status).toBe(201);
}

/** A row's pair in the ledger: what the tests of its moves and conflicts look up by. */
export interface LedgerPair {
  hash: string;
  definitionId: string;
  itemId: string;
  listId: string;
}

/** The ledger pair of row `id` (the key column `id`) of definition `definition`. */
export async function ledgerPair(h: Harness, definition: string, id = 1): Promise<LedgerPair> {
  const { rows } = await h.db.pool.query<LedgerPair>(
    `SELECT l.source_identity_hash AS hash, l.definition_id AS "definitionId", l.sp_item_id AS "itemId",
            l.sp_list_id AS "listId"
       FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
      WHERE d.name = $1 AND l.source_identity->>'id' = $2`,
    [definition, String(id)],
  );
  return rows[0];
}

/** The id of list `list` of a definition: undefined while no run has made or found it. */
export async function definitionListId(
  h: Harness,
  definitionId: string,
  list: string,
): Promise<string | undefined> {
  const { rows } = await h.db.pool.query<{ list_id: string }>(
    'SELECT list_id FROM arcore.sync_definition_lists WHERE definition_id = $1 AND list_name = $2',
    [definitionId, list],
  );
  return rows[0]?.list_id;
}

/**
 * Table `table` (id, title, status, notes) routed to list `open` while status is 'OPEN', else to `closed`, Title and
 * Status mapped, with `options` (conflict policy, pull, fields) on top: the move and resolve tests' routed
 * definition, defined.
 */
export async function defineRoutedTitles(
  h: Harness,
  table: string,
  open: string,
  closed: string,
  options: Partial<SyncDefinitionInput> = {},
): Promise<void> {
  await h.db.pool.query(`CREATE TABLE ${table} (
    id integer PRIMARY KEY, title text, status text, notes text, updated_at timestamptz NOT NULL DEFAULT now())`);
  await installCursorTrigger(h.db.pool, 'public', table, 'updated_at');
  await h.define({
    name: table,
    source: { table, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' }, overlapSeconds: 0 },
    target: { site: SITE, routes: [{ when: "status == 'OPEN'", list: open }, { list: closed }] },
    fields: [
      { source: 'title', target: 'Title' },
      { source: 'status', target: 'Status' },
    ],
    ...options,
  });
}

/** Where the row `hash` has items: 'Open' or 'Closed' for the two lists, with each item's Title. */
export async function whereRouted(
  h: Harness,
  open: string,
  closed: string,
  hash: string,
): Promise<{ list: 'Open' | 'Closed'; title: unknown }[]> {
  return (await itemsWithKey(h, [open, closed], hash)).map((i) => ({
    list: i.list === open ? 'Open' : 'Closed',
    title: i.fields.Title,
  }));
}

/** An item created in SharePoint as a create a run sent lands: with the row's hidden key. */
export async function landItem(
  h: Harness,
  list: string,
  hash: string,
  fields: Record<string, unknown>,
): Promise<{ id: string }> {
  const res = await h.asUser('POST', `/sites/${h.siteId}/lists/${list}/items`, {
    fields: { ...fields, ArcoreKey: hash },
  });
  expect(res.status).toBe(201);
  return res.body as { id: string };
}

/**
 * A move a stopped push recorded (its create sent) of the pair's item to list `toListId`: never checked since, or
 * last checked `checkedAgo` (an interval) ago.
 */
export async function recordMove(
  h: Harness,
  pair: LedgerPair,
  toListId: string | undefined,
  checkedAgo: string | null = null,
): Promise<void> {
  await h.db.pool.query(
    `INSERT INTO arcore.sync_moves (definition_id, source_identity_hash, from_list_id, from_item_id, to_list_id,
       checked_at) VALUES ($1, $2, $3, $4, $5, now() - $6::interval)`,
    [pair.definitionId, pair.hash, pair.listId, pair.itemId, toListId, checkedAgo],
  );
}

/** The definition's moves last checked longer ago than `seconds`: their wait is over. */
export async function moveWaitOver(h: Harness, definitionId: string, seconds: number): Promise<void> {
  await h.db.pool.query(
    `UPDATE arcore.sync_moves SET checked_at = now() - make_interval(secs => $2) WHERE definition_id = $1`,
    [definitionId, seconds + 1],
  );
}

/** The id of the definition's one OPEN conflict. */
export async function openConflictId(h: Harness, definitionId: string): Promise<string> {
  const { rows } = await h.db.pool.query<{ id: string }>(
    "SELECT id FROM arcore.sync_conflicts WHERE definition_id = $1 AND status = 'OPEN'",
    [definitionId],
  );
  return rows[0].id;
}

/** Row 1 ('t0', OPEN) of defineRoutedTitles's table under MANUAL, created in `open` by a push, then pulled: its pair. */
export async function syncedInOpen(
  h: Harness,
  ctx: EngineContext,
  table: string,
  open: string,
  closed: string,
): Promise<LedgerPair> {
  await defineRoutedTitles(h, table, open, closed, { conflictPolicy: 'MANUAL' });
  await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (1, 't0', 'OPEN')`);
  expect(await runPush(ctx, table, { trigger: 'test' })).toMatchObject({ created: 1 });
  await runPull(ctx, table, { trigger: 'test' });
  return ledgerPair(h, table);
}

/**
 * A SharePoint user sets the pair's item's Title to 'sp' after Postgres changed the row: the pull finds one conflict,
 * which MANUAL leaves open. Its id.
 */
export async function conflictOnPull(
  h: Harness,
  ctx: EngineContext,
  table: string,
  list: string,
  pair: LedgerPair,
): Promise<string> {
  await spEdit(h, list, pair.itemId, { Title: 'sp' });
  expect((await runPull(ctx, table, { trigger: 'test' })).conflicts).toBe(1);
  return openConflictId(h, pair.definitionId);
}

/**
 * Row `hash`'s move from list `open` stops midway: its create lands, the old item's delete is refused once (403),
 * and the run that sent it is taken for dead (ABANDONED), so its create is not waited for. Returns the new item's id.
 */
export async function moveStoppedAfterCreate(
  h: Harness,
  push: () => Promise<RunSummary>,
  pair: { definitionId: string; hash: string },
  open: string,
  closed: string,
): Promise<string> {
  h.emulator.control.injectFault({
    method: 'DELETE',
    pathPattern: `/lists/${await definitionListId(h, pair.definitionId, open)}/items/`,
    status: 403,
    count: 1,
  });
  try {
    expect(await push()).toMatchObject({ moved: 0, failed: 1 });
  } finally {
    h.emulator.control.clearFaults();
  }
  await h.db.pool.query(
    `UPDATE arcore.sync_runs SET status = 'ABANDONED', finished_at = now() WHERE id = (
       SELECT max(id) FROM arcore.sync_runs WHERE definition_id = $1 AND run_type = 'PUSH')`,
    [pair.definitionId],
  );
  const [newItem] = (await itemsWithKey(h, [closed], pair.hash)).map((i) => i.id);
  return newItem;
}

/**
 * A user moves row 1's item by hand: defineRoutedTitles's table with row 1 ('orig', OPEN, notes 'kept') synced in
 * `open`, a copy of its item (hidden key and all, retitled 'copied') made in `closed` and pulled (a COPY conflict),
 * then the original deleted in SharePoint, read by no run yet. The row's pair and the copy.
 */
export async function movedByHand(
  h: Harness,
  table: string,
  open: string,
  closed: string,
  options: Partial<SyncDefinitionInput> = {},
): Promise<{ pair: LedgerPair; copy: { id: string } }> {
  await defineRoutedTitles(h, table, open, closed, options);
  await h.db.pool.query(`INSERT INTO ${table} (id, title, status, notes) VALUES (1, 'orig', 'OPEN', 'kept')`);
  await checkedRun(h, 'push', table);
  await checkedRun(h, 'pull', table);
  const pair = await ledgerPair(h, table);
  const copy = await landItem(h, closed, pair.hash, { Title: 'copied', Status: 'OPEN' });
  expect((await checkedRun(h, 'pull', table)).conflicts).toBe(1);
  expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${open}/items/${pair.itemId}`)).status).toBe(
    204,
  );
  return { pair, copy };
}
