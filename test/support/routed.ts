/** What the routing tests (one table, several lists) check after every run and look up between runs. */
import { runPull } from '../../src/core/engine/pull';
import { runPush } from '../../src/core/engine/push';
import type { RunSummary } from '../../src/core/engine/types';
import { installCursorTrigger } from '../../src/core/source/postgres/PostgresSource';
import type { Harness } from './engineHarness';

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
