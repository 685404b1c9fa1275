/**
 * Routing (issue #21), end to end against real Postgres and the emulator over HTTPS with three lists: rows go to
 * the list of their first matching route, move when their route changes (from either side), and a move is
 * crash-safe (a real SIGKILL between the create in the new list and the delete in the old one).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { previewPush } from '../../../src/core/engine/dryRun';
import { provisionList } from '../../../src/core/engine/provision';
import { relinkDefinition } from '../../../src/core/engine/relink';
import { runPush } from '../../../src/core/engine/push';
import { verifyDefinition } from '../../../src/core/engine/verify';
import { definitionStatus } from '../../../src/core/ops/status';
import { installCursorTrigger, KEEP_CURSOR_SETTING } from '../../../src/core/source/postgres/PostgresSource';
import { runBackfill } from '../../../src/core/engine/backfill';
import { routeHash } from '../../../src/core/routing';
import { upsertDefinitions } from '../../../src/core/store/definitions';
import { ensureSubscriptions, listStoredSubscriptions } from '../../../src/core/subscriptions';
import { killWhen, lockReleased, spawnEngineChild } from '../../support/engineChild';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import { checkedRun, itemsWithKey, spEdit } from '../../support/routed';

const LISTS = ['Active', 'Archive', 'Europe'] as const;

function ticketsDefinition(routes: { when?: string; list: string }[]): SyncDefinitionInput {
  return {
    name: 'tickets',
    source: { table: 'tickets', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
    target: { site: SITE, routes },
    fields: [
      { source: 'title', target: 'Title' },
      { source: 'status', target: 'Status' },
      { source: 'region', target: 'Region' },
    ],
  };
}

const ROUTES = [
  { when: "status == 'ACTIVE'", list: 'Active' },
  { when: "status == 'ARCHIVED'", list: 'Archive' },
  { when: "region == 'EU'", list: 'Europe' },
];

describe('routing: one table, three lists (issue #21)', () => {
  let h: Harness;
  const push = () => checkedRun(h, 'push', 'tickets');
  const pull = () => checkedRun(h, 'pull', 'tickets');
  /** Where each row's item is: list → ids of the rows (by hidden key → ledger identity). */
  const itemsOf = async (id: number) => {
    const { rows } = await h.db.pool.query<{ h: string }>(
      `SELECT source_identity_hash AS h FROM arcore.sync_ledger WHERE source_identity->>'id' = $1`,
      [String(id)],
    );
    return itemsWithKey(h, LISTS, rows[0]?.h);
  };
  const insert = (id: number, status: string | null, region: string, title = `t${id}`) =>
    h.db.pool.query('INSERT INTO tickets (id, title, status, region) VALUES ($1, $2, $3, $4)', [
      id,
      title,
      status,
      region,
    ]);

  beforeAll(async () => {
    h = await startHarness();
    await h.db.pool.query(`CREATE TABLE tickets (
      id integer PRIMARY KEY, title text, status text, region text,
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', 'tickets', 'updated_at');
    await h.define(ticketsDefinition(ROUTES));
  });
  afterAll(async () => h.close());

  it('routes rows on the first push; a row no route matches is unrouted (counted, shown by status)', async () => {
    await insert(1, 'ACTIVE', 'US');
    await insert(2, 'ARCHIVED', 'EU');
    await insert(3, 'NEW', 'EU');
    await insert(4, 'NEW', 'US');
    const s = await push();
    expect(s).toMatchObject({ created: 3, unrouted: 1, moved: 0 });
    expect((await itemsOf(1)).map((i) => i.list)).toEqual(['Active']);
    expect((await itemsOf(2)).map((i) => i.list)).toEqual(['Archive']);
    expect((await itemsOf(3)).map((i) => i.list)).toEqual(['Europe']);
    expect(await itemsOf(4)).toEqual([]);
    const [status] = await definitionStatus(h.db.pool, 'tickets');
    expect(status.lastPush).toMatchObject({ unrouted: 1, created: 3 });
    expect(status).toMatchObject({ ledgerSize: 3, unroutedRows: 1 });
    // A pull of all three lists after our own writes applies nothing (I3).
    const p = await pull();
    expect(p).toMatchObject({ created: 0, updated: 0, deleted: 0, conflicts: 0 });
    // verify reads every routed list and pairs each row with its item wherever it lives.
    expect(await verifyDefinition(h.ctx, 'tickets')).toMatchObject({
      agree: true,
      rows: 4,
      items: 3,
      paired: 3,
      unroutedRows: 1,
      misrouted: 0,
    });
  });

  it('a Postgres edit of a routed column moves the item (create in the new list, delete in the old)', async () => {
    await h.db.pool.query("UPDATE tickets SET status = 'ARCHIVED', title = 'moved by pg' WHERE id = 1");
    const s = await push();
    expect(s).toMatchObject({ moved: 1, created: 0, updated: 0 });
    const items = await itemsOf(1);
    expect(items.map((i) => i.list)).toEqual(['Archive']);
    expect(items[0].fields).toMatchObject({ Title: 'moved by pg', Status: 'ARCHIVED' });
    // The old item's tombstone is not a delete of the row (the ledger says it lives in Archive).
    const p = await pull();
    expect(p).toMatchObject({ deleted: 0, created: 0 });
    const { rows } = await h.db.pool.query('SELECT title, status FROM tickets WHERE id = 1');
    expect(rows).toEqual([{ title: 'moved by pg', status: 'ARCHIVED' }]);
    expect(await push()).toMatchObject({ moved: 0, created: 0, updated: 0 });
  });

  it('a SharePoint edit of a routed column is pulled into Postgres, and the next push moves the item', async () => {
    const [item] = await itemsOf(2);
    await spEdit(h, 'Archive', item.id, { Status: 'ACTIVE', Title: 'reopened in sp' });
    const p = await pull();
    expect(p.updated).toBe(1);
    const { rows } = await h.db.pool.query('SELECT title, status FROM tickets WHERE id = 2');
    expect(rows).toEqual([{ title: 'reopened in sp', status: 'ACTIVE' }]);
    expect(await push()).toMatchObject({ moved: 1 });
    const items = await itemsOf(2);
    expect(items.map((i) => i.list)).toEqual(['Active']);
    expect(items[0].fields).toMatchObject({ Title: 'reopened in sp', Status: 'ACTIVE' });
    expect(await pull()).toMatchObject({ deleted: 0, updated: 0, created: 0 });
    expect(await push()).toMatchObject({ moved: 0, updated: 0 });
  });

  it('a move whose old item SharePoint changed meanwhile decides that change first: the edit is kept, no duplicate', async () => {
    await insert(5, 'ACTIVE', 'US', 'five');
    await push();
    const [item] = await itemsOf(5);
    await spEdit(h, 'Active', item.id, { Title: 'edited in sp' });
    await h.db.pool.query("UPDATE tickets SET status = 'ARCHIVED' WHERE id = 5");
    const first = await push();
    expect(first).toMatchObject({ moved: 0 });
    expect((await itemsOf(5)).map((i) => i.list)).toEqual(['Active']);
    await pull();
    expect(await push()).toMatchObject({ moved: 1 });
    const items = await itemsOf(5);
    expect(items.map((i) => i.list)).toEqual(['Archive']);
    expect(items[0].fields).toMatchObject({ Title: 'edited in sp', Status: 'ARCHIVED' });
    const { rows } = await h.db.pool.query('SELECT title, status FROM tickets WHERE id = 5');
    expect(rows).toEqual([{ title: 'edited in sp', status: 'ARCHIVED' }]);
  });

  it('a move whose old item SharePoint deleted meanwhile goes to the conflict decision, not around it', async () => {
    await insert(20, 'ACTIVE', 'US', 'twenty');
    await push();
    const [item] = await itemsOf(20);
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/Active/items/${item.id}`)).status).toBe(204);
    await h.db.pool.query("UPDATE tickets SET status = 'ARCHIVED' WHERE id = 20");
    // Deleted in SharePoint, edited in Postgres: a conflict, decided by the push as for an update meeting it;
    // SOURCE_WINS keeps the row, whose item is re-created where the row routes now.
    const first = await push();
    expect(first).toMatchObject({ moved: 0, conflicts: 1 });
    expect((await itemsOf(20)).map((i) => i.list)).toEqual(['Archive']);
    expect(await push()).toMatchObject({ moved: 0, created: 0 });
    expect((await itemsOf(20)).map((i) => i.list)).toEqual(['Archive']);
    expect(await pull()).toMatchObject({ conflicts: 0, deleted: 0 });
    await h.db.pool.query('DELETE FROM tickets WHERE id = 20');
    expect(await push()).toMatchObject({ deleted: 1 });
  });

  it('deletes and conflicts work per routed list', async () => {
    // SharePoint delete in Europe → the row goes (pull delete policy PROPAGATE).
    const [eu] = await itemsOf(3);
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/Europe/items/${eu.id}`)).status).toBe(204);
    expect(await pull()).toMatchObject({ deleted: 1 });
    expect((await h.db.pool.query('SELECT 1 FROM tickets WHERE id = 3')).rowCount).toBe(0);
    // Postgres delete of a row in Archive → its item goes.
    await h.db.pool.query('DELETE FROM tickets WHERE id = 1');
    expect(await push()).toMatchObject({ deleted: 1 });
    expect((await h.items('Archive')).some((i) => i.fields.Title === 'moved by pg')).toBe(false);
    // Both sides edit the same field of a row in Active: a conflict, settled by SOURCE_WINS.
    const [active] = await itemsOf(2);
    await spEdit(h, 'Active', active.id, { Title: 'sp side' });
    await h.db.pool.query("UPDATE tickets SET title = 'pg side' WHERE id = 2");
    expect(await pull()).toMatchObject({ conflicts: 1 });
    await push();
    const items = await itemsOf(2);
    expect(items.map((i) => [i.list, i.fields.Title])).toEqual([['Active', 'pg side']]);
    const { rows } = await h.db.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM arcore.sync_conflicts WHERE source_identity->>'id' = '2'",
    );
    expect(Number(rows[0].n)).toBe(1);
  });

  it('a dry run shows the moves a rule change would make; the real push then makes them', async () => {
    // Rule change on the synced definition: archived rows now go to Europe (before the Archive route).
    const changed = [{ when: "status == 'ARCHIVED'", list: 'Europe' }, ...ROUTES];
    await upsertDefinitions(h.db.pool, [parseDefinition(ticketsDefinition(changed))]);
    await provisionList(h.ctx, 'tickets');
    expect(await verifyDefinition(h.ctx, 'tickets')).toMatchObject({
      agree: false,
      misrouted: 1,
      differences: 0,
    });
    const dry = await previewPush(h.ctx, 'tickets', { trigger: 'test' });
    expect(dry.moved).toBe(1);
    expect(dry.moves).toEqual([expect.objectContaining({ key: { id: 5 }, from: 'Archive', to: 'Europe' })]);
    expect((await itemsOf(5)).map((i) => i.list)).toEqual(['Archive']);
    expect(await push()).toMatchObject({ moved: 1 });
    expect((await itemsOf(5)).map((i) => i.list)).toEqual(['Europe']);
    expect(await verifyDefinition(h.ctx, 'tickets')).toMatchObject({ agree: true, misrouted: 0 });
    // And back to the original rules.
    await upsertDefinitions(h.db.pool, [parseDefinition(ticketsDefinition(ROUTES))]);
    expect(await push()).toMatchObject({ moved: 1 });
    expect((await itemsOf(5)).map((i) => i.list)).toEqual(['Archive']);
  });

  it('I6: a push SIGKILLed between the create and the delete of a move leaves no duplicate and loses nothing', async () => {
    await insert(10, 'ACTIVE', 'US', 'ten');
    await insert(11, 'ACTIVE', 'US', 'eleven');
    await push();
    const { rows: lists } = await h.db.pool.query<{ list_name: string; list_id: string }>(
      'SELECT list_name, list_id FROM arcore.sync_definition_lists',
    );
    const activeId = lists.find((l) => l.list_name === 'Active')?.list_id as string;
    await h.db.pool.query(
      "UPDATE tickets SET status = 'ARCHIVED', title = title || ' (pg)' WHERE id IN (10, 11)",
    );
    // The deletes in the old list stall (and are then dropped): the kill lands after both creates.
    h.emulator.control.injectFault({
      method: 'DELETE',
      pathPattern: `/lists/${activeId}/items/`,
      latencyMs: 4000,
      drop: 'before',
      count: 2,
    });
    const killed = await killWhen(
      spawnEngineChild(h, ['push', 'tickets'], { maxConcurrency: null }),
      async () =>
        [...(await itemsOf(10)), ...(await itemsOf(11))].filter((x) => x.list === 'Archive').length === 2,
      'both creates in the new list',
    );
    expect(killed).toBe(true);
    h.emulator.control.clearFaults();
    // Killed mid-move: each row has an item in both lists, and the moves are recorded.
    expect((await itemsOf(10)).map((i) => i.list).sort()).toEqual(['Active', 'Archive']);
    expect((await itemsOf(11)).map((i) => i.list).sort()).toEqual(['Active', 'Archive']);
    expect(Number((await h.db.pool.query('SELECT count(*) AS n FROM arcore.sync_moves')).rows[0].n)).toBe(2);
    // A pull in the crash window neither adopts the new items as new rows nor deletes anything.
    await lockReleased(h, 'tickets');
    const p = await pull();
    expect(p).toMatchObject({ status: 'SUCCEEDED', deleted: 0, created: 0 });
    expect((await h.db.pool.query('SELECT id FROM tickets WHERE id IN (10, 11)')).rowCount).toBe(2);
    // Then a SharePoint user edits row 11's old item, and the next push runs before any pull.
    const old11 = (await itemsOf(11)).find((i) => i.list === 'Active');
    await spEdit(h, 'Active', old11?.id as string, { Region: 'APAC' });
    const s = await push();
    // Row 10's move is finished; row 11's is undone (its old item changed): the edit waits for the pull.
    expect(s.moved).toBe(1);
    expect((await itemsOf(10)).map((i) => i.list)).toEqual(['Archive']);
    expect((await itemsOf(11)).map((i) => i.list)).toEqual(['Active']);
    expect(await pull()).toMatchObject({ updated: 1 });
    expect(await push()).toMatchObject({ moved: 1 });
    const ten = await itemsOf(10);
    const eleven = await itemsOf(11);
    expect(ten.map((i) => [i.list, i.fields.Title])).toEqual([['Archive', 'ten (pg)']]);
    expect(eleven.map((i) => [i.list, i.fields.Title, i.fields.Region])).toEqual([
      ['Archive', 'eleven (pg)', 'APAC'],
    ]);
    const { rows } = await h.db.pool.query('SELECT region FROM tickets WHERE id = 11');
    expect(rows).toEqual([{ region: 'APAC' }]);
    expect(Number((await h.db.pool.query('SELECT count(*) AS n FROM arcore.sync_moves')).rows[0].n)).toBe(0);
  });

  it('keeps one change-notification subscription per routed list', async () => {
    // Answers Graph's validation handshake, as the real endpoint does.
    const server = createServer((req, res) => {
      const token = new URL(req.url ?? '/', 'http://x').searchParams.get('validationToken');
      req.resume();
      req.on('end', () => {
        res.writeHead(token === null ? 202 : 200, { 'content-type': 'text/plain' });
        res.end(token ?? '');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/graph/notifications`;
      const bound = await h.db.pool.query<{ list_name: string; list_id: string }>(
        'SELECT list_name, list_id FROM arcore.sync_definition_lists ORDER BY list_name',
      );
      const idOf = (name: string) => bound.rows.find((r) => r.list_name === name)?.list_id;
      const live = async () =>
        (await listStoredSubscriptions(h.db.pool))
          .filter((x) => x.state !== 'REMOVED')
          .map((x) => x.listId)
          .sort();
      const first = await ensureSubscriptions(h.ctx, { notificationUrl: url });
      expect(first.errors).toEqual([]);
      expect(first.actions.filter((a) => a.action === 'created')).toHaveLength(3);
      expect(await live()).toEqual(LISTS.map(idOf).sort());
      const again = await ensureSubscriptions(h.ctx, { notificationUrl: url });
      expect(again.actions.map((a) => a.action)).toEqual(['kept', 'kept', 'kept']);
      // A rule change that no longer routes to Europe drops its subscription.
      await upsertDefinitions(h.db.pool, [parseDefinition(ticketsDefinition(ROUTES.slice(0, 2)))]);
      const third = await ensureSubscriptions(h.ctx, { notificationUrl: url });
      expect(third.actions.filter((a) => a.action === 'deleted')).toEqual([
        expect.objectContaining({ reason: 'its list is no longer routed' }),
      ]);
      expect(await live()).toEqual([idOf('Active'), idOf('Archive')].sort());
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('I15 per list: a replaced routed list stops the runs until relink, which re-pairs rows in every list', async () => {
    await upsertDefinitions(h.db.pool, [parseDefinition(ticketsDefinition(ROUTES.slice(0, 2)))]);
    expect((await itemsOf(5)).map((i) => i.list)).toEqual(['Archive']);
    const [five] = await itemsOf(5);
    const oldArchive = (await h.asUser('GET', `/sites/${h.siteId}/lists/Archive`)).body as { id: string };
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${oldArchive.id}`)).status).toBe(204);
    await provisionList(h.ctx, 'tickets');
    // Part of the old list restored from an export: row 5's item, carrying its hidden key.
    const restored = await h.asUser('POST', `/sites/${h.siteId}/lists/Archive/items`, {
      fields: { ArcoreKey: five.fields.ArcoreKey, Title: five.fields.Title, Status: 'ARCHIVED' },
    });
    expect(restored.status).toBe(201);
    const refused = await runPush(h.ctx, 'tickets', { trigger: 'test' });
    expect(refused.status).toBe('FAILED');
    expect(refused.error).toMatch(/relink tickets/);
    const relinked = await relinkDefinition(h.ctx, 'tickets');
    expect(relinked).toMatchObject({ adopted: 2, toRecreate: 2 });
    expect(relinked.lists?.map((l) => l.name)).toEqual(['Active', 'Archive']);
    expect(await push()).toMatchObject({ created: 2, moved: 0 });
    await pull();
    expect(await verifyDefinition(h.ctx, 'tickets')).toMatchObject({
      agree: true,
      paired: 4,
      unroutedRows: 1,
    });
  });

  it('switching a routed definition back to one list moves every item there', async () => {
    const single = ticketsDefinition([]);
    single.target = { site: SITE, list: 'Active' };
    await upsertDefinitions(h.db.pool, [parseDefinition(single)]);
    const s = await push();
    // Rows 5, 10 and 11 leave Archive; unrouted row 4 now has a list and is created.
    expect(s).toMatchObject({ moved: 3, created: 1, unrouted: 0 });
    for (const id of [2, 4, 5, 10, 11]) expect((await itemsOf(id)).map((i) => i.list)).toEqual(['Active']);
    expect(await h.items('Archive')).toEqual([]);
    await pull();
    expect(await push()).toMatchObject({ moved: 0, created: 0, updated: 0 });
  });

  it('routes by hash(key) over a key column no field maps (even sharding)', async () => {
    await h.db.pool.query(`CREATE TABLE shards (
      id integer PRIMARY KEY, title text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', 'shards', 'updated_at');
    await h.define({
      name: 'shards',
      source: { table: 'shards', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, routes: [{ when: 'hash(id) % 2 == 0', list: 'Even' }, { list: 'Odd' }] },
      fields: [{ source: 'title', target: 'Title' }],
    });
    await h.db.pool.query("INSERT INTO shards (id, title) SELECT g, 's' || g FROM generate_series(1, 12) g");
    const s = await runPush(h.ctx, 'shards', { trigger: 'test' });
    expect(s).toMatchObject({ created: 12, unrouted: 0, failed: 0 });
    const titles = async (list: string) => (await h.items(list)).map((i) => i.fields.Title).sort();
    const expected = (even: boolean) =>
      Array.from({ length: 12 }, (_, i) => i + 1)
        .filter((id) => (routeHash(id) as number) % 2 === (even ? 0 : 1))
        .map((id) => `s${id}`)
        .sort();
    expect(await titles('Even')).toEqual(expected(true));
    expect(await titles('Odd')).toEqual(expected(false));
    expect(expected(true).length).toBeGreaterThan(0);
    expect(expected(false).length).toBeGreaterThan(0);
  });

  it('a backfill re-syncs the chosen field in every routed list, not only the first', async () => {
    // Titles changed without moving the cursor (as a repair script would): only a backfill brings them over.
    const client = await h.db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('${KEEP_CURSOR_SETTING}', 'on', true)`);
      await client.query("UPDATE shards SET title = title || ' (backfilled)'");
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const b = await runBackfill(h.ctx, 'shards', { fields: ['Title'], trigger: 'test' });
    expect(b).toMatchObject({ status: 'SUCCEEDED', complete: true, updated: 12, skipped: 0, failed: 0 });
    for (const list of ['Even', 'Odd']) {
      const titles = (await h.items(list)).map((i) => String(i.fields.Title));
      expect(titles.length).toBeGreaterThan(0);
      for (const t of titles) expect(t).toMatch(/ \(backfilled\)$/);
    }
    // The ledger learnt the values: the next push writes nothing.
    expect(await runPush(h.ctx, 'shards', { trigger: 'test' })).toMatchObject({
      updated: 0,
      created: 0,
      moved: 0,
    });
  });
});
