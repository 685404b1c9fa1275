/**
 * Routing gaps left by issue #21, against real Postgres and the emulator over HTTPS: a move keeps what
 * SharePoint owns (pull-only fields), a move interrupted between its create and its delete never turns a user's
 * delete into ours (nor ours into a row delete), and each routed list is checked against the mapping on its own.
 */
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { provisionList } from '../../../src/core/engine/provision';
import { runPull } from '../../../src/core/engine/pull';
import { relinkDefinition } from '../../../src/core/engine/relink';
import { describeDifferences, verifyDefinition } from '../../../src/core/engine/verify';
import { runPush } from '../../../src/core/engine/push';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { upsertDefinitions } from '../../../src/core/store/definitions';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import {
  checkedRun,
  createSplitsTable,
  createUnfitSouth,
  expectBalanced,
  itemsWithKey,
  spEdit,
} from '../../support/routed';

const LISTS = ['Open', 'Closed'] as const;

type Field = SyncDefinitionInput['fields'][number];

const TITLE: Field = { source: 'title', target: 'Title' };
const STATUS: Field = { source: 'status', target: 'Status' };
const NOTES: Field = { source: 'notes', target: 'Notes', direction: 'PULL_ONLY' };

function casesDefinition(
  routes: { when?: string; list: string }[],
  fields: Field[] = [TITLE, STATUS, NOTES],
): SyncDefinitionInput {
  return {
    name: 'cases',
    source: { table: 'cases', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
    target: { site: SITE, routes },
    fields,
  };
}

const ROUTES = [{ when: "status == 'OPEN'", list: 'Open' }, { list: 'Closed' }];

describe('routing gaps (issue #21 closing note)', () => {
  let h: Harness;
  const push = () => checkedRun(h, 'push', 'cases');
  const pull = () => checkedRun(h, 'pull', 'cases');
  const hashOf = async (id: number) => {
    const { rows } = await h.db.pool.query<{ h: string }>(
      `SELECT source_identity_hash AS h FROM arcore.sync_ledger
        WHERE definition_id = (SELECT id FROM arcore.sync_definitions WHERE name = 'cases')
          AND source_identity->>'id' = $1`,
      [String(id)],
    );
    return rows[0]?.h;
  };
  /** Where a row's items are (by the hidden key), in every list. */
  const itemsOf = async (id: number, hash?: string) => itemsWithKey(h, LISTS, hash ?? (await hashOf(id)));
  const insert = (id: number, status: string, title = `c${id}`) =>
    h.db.pool.query('INSERT INTO cases (id, title, status) VALUES ($1, $2, $3)', [id, title, status]);
  const spDelete = async (list: string, itemId: string) => {
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${list}/items/${itemId}`)).status).toBe(204);
  };
  const listId = async (name: string) => {
    const { rows } = await h.db.pool.query<{ list_id: string }>(
      'SELECT list_id FROM arcore.sync_definition_lists WHERE list_name = $1',
      [name],
    );
    return rows[0].list_id;
  };
  const pendingMoves = async () =>
    Number((await h.db.pool.query('SELECT count(*) AS n FROM arcore.sync_moves')).rows[0].n);
  /**
   * Leaves a push in the state a crash between a move's create and its delete leaves: the deletes in the old
   * list are refused (403), so the new items exist, the old ones too, the moves stay recorded and the ledger
   * still names the old items.
   */
  const moveInterrupted = async (fromList: string, change: () => Promise<unknown>, rows: number) => {
    h.emulator.control.injectFault({
      method: 'DELETE',
      pathPattern: `/lists/${await listId(fromList)}/items/`,
      status: 403,
      count: rows,
    });
    try {
      await change();
      const s = await runPush(h.ctx, 'cases', { trigger: 'test' });
      expect(s).toMatchObject({ moved: 0, failed: rows });
    } finally {
      h.emulator.control.clearFaults();
    }
    expect(await pendingMoves()).toBe(rows);
  };

  beforeAll(async () => {
    h = await startHarness();
    await h.db.pool.query(`CREATE TABLE cases (
      id integer PRIMARY KEY, title text, status text, notes text,
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', 'cases', 'updated_at');
    await h.define(casesDefinition(ROUTES));
  });
  afterAll(async () => h.close());

  it('a move carries the pull-only field as SharePoint has it, not the Postgres value', async () => {
    await insert(1, 'OPEN');
    expect(await push()).toMatchObject({ created: 1 });
    const [item] = await itemsOf(1);
    await spEdit(h, 'Open', item.id, { Notes: 'owned by sharepoint' });
    expect(await pull()).toMatchObject({ updated: 1 });
    // Postgres writes the pull-only column anyway, and closes the case: the row moves.
    await h.db.pool.query("UPDATE cases SET notes = 'local pg value', status = 'CLOSED' WHERE id = 1");
    expect(await push()).toMatchObject({ moved: 1 });
    const items = await itemsOf(1);
    expect(items.map((i) => [i.list, i.fields.Notes, i.fields.Status])).toEqual([
      ['Closed', 'owned by sharepoint', 'CLOSED'],
    ]);
    // Nothing to apply either way afterwards.
    expect(await pull()).toMatchObject({ updated: 0, created: 0, deleted: 0 });
    expect(await push()).toMatchObject({ updated: 0, moved: 0, created: 0 });
  });

  it('a move before a newly mapped pull-only field was aligned keeps the item’s value and aligns Postgres', async () => {
    await upsertDefinitions(h.db.pool, [parseDefinition(casesDefinition(ROUTES, [TITLE, STATUS]))]);
    await insert(2, 'OPEN');
    expect(await push()).toMatchObject({ created: 1 });
    const [item] = await itemsOf(2);
    await spEdit(h, 'Open', item.id, { Notes: 'typed before the mapping' });
    // A pull while Notes is not mapped: the ledger takes the item's new eTag (nothing mapped changed).
    expect(await pull()).toMatchObject({ updated: 0, conflicts: 0 });
    // Notes is mapped (PULL_ONLY) again; Postgres moves the row before any pull has read the field.
    await upsertDefinitions(h.db.pool, [parseDefinition(casesDefinition(ROUTES))]);
    await h.db.pool.query("UPDATE cases SET status = 'CLOSED' WHERE id = 2");
    expect(await push()).toMatchObject({ moved: 1 });
    expect((await itemsOf(2)).map((i) => [i.list, i.fields.Notes])).toEqual([
      ['Closed', 'typed before the mapping'],
    ]);
    await pull();
    const { rows } = await h.db.pool.query('SELECT notes FROM cases WHERE id = 2');
    expect(rows).toEqual([{ notes: 'typed before the mapping' }]);
  });

  it('after an interrupted move, the move’s own delete of the old item is not a delete of the row; a user’s delete of the new item is', async () => {
    await insert(3, 'OPEN');
    await push();
    await moveInterrupted(
      'Open',
      () => h.db.pool.query("UPDATE cases SET status = 'CLOSED' WHERE id = 3"),
      1,
    );
    expect((await itemsOf(3)).map((i) => i.list).sort()).toEqual(['Closed', 'Open']);
    // The rerun finishes the move: the old item goes, and the pull of the old list reads that as ours.
    const s = await push();
    expect(s.moved).toBe(1);
    expect((await itemsOf(3)).map((i) => i.list)).toEqual(['Closed']);
    expect(await pull()).toMatchObject({ deleted: 0, created: 0 });
    expect((await h.db.pool.query('SELECT 1 FROM cases WHERE id = 3')).rowCount).toBe(1);
    // A SharePoint user deletes the new item: that delete reaches Postgres.
    const [moved] = await itemsOf(3);
    await spDelete('Closed', moved.id);
    expect(await pull()).toMatchObject({ deleted: 1 });
    expect((await h.db.pool.query('SELECT 1 FROM cases WHERE id = 3')).rowCount).toBe(0);
  });

  it('after an interrupted move, a pull reads a user’s delete of the old item as a delete, not as the move finishing', async () => {
    await insert(4, 'OPEN');
    await insert(5, 'OPEN');
    await push();
    const hash4 = (await hashOf(4)) as string;
    const hash5 = (await hashOf(5)) as string;
    // A rule change moves both rows (their values are unchanged: a delete of their item is a plain delete).
    const rerouted = [{ when: "title == 'c4' or title == 'c5'", list: 'Closed' }, ...ROUTES];
    await moveInterrupted(
      'Open',
      () => upsertDefinitions(h.db.pool, [parseDefinition(casesDefinition(rerouted))]),
      2,
    );
    const old4 = (await itemsOf(4)).find((i) => i.list === 'Open');
    const old5 = (await itemsOf(5)).find((i) => i.list === 'Open');
    await spDelete('Open', old4?.id as string);
    await spDelete('Open', old5?.id as string);
    // The pull runs before any push: the moves had not sent their deletes, so these are the user's.
    const p = await pull();
    expect(p.deleted).toBe(2);
    expect((await h.db.pool.query('SELECT id FROM cases WHERE id IN (4, 5)')).rowCount).toBe(0);
    // The next push removes the items the interrupted moves created, and moves nothing.
    const s = await push();
    expect(s).toMatchObject({ moved: 0, created: 0 });
    expect(await itemsOf(4, hash4)).toEqual([]);
    expect(await itemsOf(5, hash5)).toEqual([]);
    expect(await pendingMoves()).toBe(0);
    await upsertDefinitions(h.db.pool, [parseDefinition(casesDefinition(ROUTES))]);
  });

  it('after an interrupted move, a push that meets the user’s delete of the old item undoes the move and the pull deletes the row', async () => {
    await insert(6, 'OPEN');
    await push();
    const hash6 = (await hashOf(6)) as string;
    const rerouted = [{ when: "title == 'c6'", list: 'Closed' }, ...ROUTES];
    await moveInterrupted(
      'Open',
      () => upsertDefinitions(h.db.pool, [parseDefinition(casesDefinition(rerouted))]),
      1,
    );
    const old6 = (await itemsOf(6)).find((i) => i.list === 'Open');
    await spDelete('Open', old6?.id as string);
    const s = await push();
    expect(s.moved).toBe(0);
    // Undone once, not moved again in the same run (that would create an item only to find the old one gone).
    const { rows: run } = await h.db.pool.query<{ details: Record<string, unknown> }>(
      'SELECT details FROM arcore.sync_runs WHERE id = $1',
      [s.runId],
    );
    expect(run[0].details).toMatchObject({ movesUndoneAfterCrash: 1 });
    expect(run[0].details.movesDeferred).toBeUndefined();
    expect(await itemsOf(6, hash6)).toEqual([]);
    expect(await pendingMoves()).toBe(0);
    expect(await pull()).toMatchObject({ deleted: 1 });
    expect((await h.db.pool.query('SELECT 1 FROM cases WHERE id = 6')).rowCount).toBe(0);
    expect(await push()).toMatchObject({ moved: 0, created: 0 });
    await upsertDefinitions(h.db.pool, [parseDefinition(casesDefinition(ROUTES))]);
  });

  it('a crash after the move deleted the old item, then a user’s delete of the new item: the row is deleted, no move loops', async () => {
    await insert(7, 'OPEN');
    await push();
    const hash7 = (await hashOf(7)) as string;
    const rerouted = [{ when: "title == 'c7'", list: 'Closed' }, ...ROUTES];
    await moveInterrupted(
      'Open',
      () => upsertDefinitions(h.db.pool, [parseDefinition(casesDefinition(rerouted))]),
      1,
    );
    // The state a crash right after the old item's delete landed leaves: the move says its delete was sent.
    const old7 = (await itemsOf(7)).find((i) => i.list === 'Open');
    await h.db.pool.query('UPDATE arcore.sync_moves SET delete_sent = true');
    await spDelete('Open', old7?.id as string);
    // A pull in the crash window reads that delete as the move's own: the row stays.
    expect(await pull()).toMatchObject({ deleted: 0 });
    expect((await h.db.pool.query('SELECT 1 FROM cases WHERE id = 7')).rowCount).toBe(1);
    // Then a SharePoint user deletes the new item: both items are gone.
    const new7 = (await itemsOf(7)).find((i) => i.list === 'Closed');
    await spDelete('Closed', new7?.id as string);
    expect(await pull()).toMatchObject({ deleted: 0 });
    // The push settles the move. The row, read again for its new route, meets its old item gone: that delete is
    // decided as an update meeting it would be (the pull's delete policy, PROPAGATE): the row goes, nothing moves.
    expect(await push()).toMatchObject({ moved: 0, created: 0 });
    expect(await pendingMoves()).toBe(0);
    expect(await pull()).toMatchObject({ deleted: 0, created: 0 });
    expect((await h.db.pool.query('SELECT 1 FROM cases WHERE id = 7')).rowCount).toBe(0);
    expect(await itemsOf(7, hash7)).toEqual([]);
    expect(await push()).toMatchObject({ moved: 0, created: 0, updated: 0 });
    await upsertDefinitions(h.db.pool, [parseDefinition(casesDefinition(ROUTES))]);
  });

  it('a move whose settling fails waits instead of creating a second item; its old item missing is its own delete', async () => {
    await insert(9, 'OPEN');
    await push();
    await moveInterrupted(
      'Open',
      () => h.db.pool.query("UPDATE cases SET status = 'CLOSED' WHERE id = 9"),
      1,
    );
    // As a crash right after the old item's delete landed leaves it.
    const old9 = (await itemsOf(9)).find((i) => i.list === 'Open');
    await h.db.pool.query('UPDATE arcore.sync_moves SET delete_sent = true');
    await spDelete('Open', old9?.id as string);
    // The rerun's delete is refused once: the row waits (its new item exists; pushing it would create another).
    h.emulator.control.injectFault({
      method: 'DELETE',
      pathPattern: `/lists/${await listId('Open')}/items/`,
      status: 403,
      count: 1,
    });
    try {
      expect(await push()).toMatchObject({ moved: 0, created: 0 });
    } finally {
      h.emulator.control.clearFaults();
    }
    expect((await itemsOf(9)).map((i) => i.list)).toEqual(['Closed']);
    // The next run finds the old item gone: its delete may have landed before the crash, so the move is done.
    expect(await push()).toMatchObject({ moved: 1, created: 0 });
    expect((await itemsOf(9)).map((i) => i.list)).toEqual(['Closed']);
    expect(await pull()).toMatchObject({ deleted: 0 });
    expect((await h.db.pool.query('SELECT 1 FROM cases WHERE id = 9')).rowCount).toBe(1);
    expect(await pendingMoves()).toBe(0);
  });

  it('relink during an interrupted move keeps one item per row, in the row’s list, with no copy conflict', async () => {
    await insert(8, 'OPEN');
    await push();
    await moveInterrupted(
      'Open',
      () => h.db.pool.query("UPDATE cases SET status = 'CLOSED' WHERE id = 8"),
      1,
    );
    expect((await itemsOf(8)).map((i) => i.list).sort()).toEqual(['Closed', 'Open']);
    const relinked = await relinkDefinition(h.ctx, 'cases');
    expect(relinked.toRecreate).toBe(0);
    await push();
    await pull();
    expect(await push()).toMatchObject({ moved: 0, created: 0 });
    expect((await itemsOf(8)).map((i) => i.list)).toEqual(['Closed']);
    const { rows } = await h.db.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM arcore.sync_conflicts WHERE status = 'OPEN'",
    );
    expect(Number(rows[0].n)).toBe(0);
    expect(await pendingMoves()).toBe(0);
  });

  describe('each routed list is checked against the mapping on its own', () => {
    const splitDefinition = (routes: { when?: string; list: string }[]): SyncDefinitionInput => ({
      name: 'split',
      source: { table: 'splits', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, routes },
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'region', target: 'Region' },
      ],
    });
    const SPLIT_ROUTES = [{ when: "region == 'S'", list: 'South' }, { list: 'North' }];
    const titles = async (list: string) => (await h.items(list)).map((i) => i.fields.Title).sort();
    const parked = async () =>
      (
        await h.db.pool.query<{ last_error: string }>(
          `SELECT last_error FROM arcore.sync_failures f JOIN arcore.sync_definitions d ON d.id = f.definition_id
            WHERE d.name = 'split' AND f.status = 'PARKED'`,
        )
      ).rows.map((r) => r.last_error);

    beforeAll(async () => {
      await createSplitsTable(h);
      // North is provisioned; South was created by hand, without the Region column.
      await h.define(splitDefinition([{ list: 'North' }]));
      await createUnfitSouth(h);
      await upsertDefinitions(h.db.pool, [parseDefinition(splitDefinition(SPLIT_ROUTES))]);
    });

    it('a list lacking a mapped column parks only its rows, naming the list, the column and provision', async () => {
      await h.db.pool.query("INSERT INTO splits (id, title, region) VALUES (1, 'n1', 'N'), (2, 's2', 'S')");
      const s = await runPush(h.ctx, 'split', { trigger: 'test' });
      expectBalanced(s);
      expect(s).toMatchObject({ status: 'PARTIAL', error: null, created: 1, failed: 1 });
      expect(await titles('North')).toEqual(['n1']);
      expect(await titles('South')).toEqual([]);
      const errors = await parked();
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/list "South" has no column with internal name "Region"/);
      expect(errors[0]).toMatch(/arcore-sync provision split/);
      // The pull reads North (a SharePoint edit there arrives) and leaves South out, saying so.
      const [n1] = await h.items('North');
      await spEdit(h, 'North', n1.id, { Title: 'n1 edited in sp' });
      const p = await runPull(h.ctx, 'split', { trigger: 'test' });
      expectBalanced(p);
      expect(p).toMatchObject({ status: 'PARTIAL', updated: 1, failed: 1 });
      expect((await h.db.pool.query('SELECT title FROM splits WHERE id = 1')).rows).toEqual([
        { title: 'n1 edited in sp' },
      ]);
    });

    it('provision lets the waiting rows through; a list whose column has another type is refused the same way', async () => {
      await provisionList(h.ctx, 'split');
      const s = await runPush(h.ctx, 'split', { trigger: 'test' });
      expect(s).toMatchObject({ status: 'SUCCEEDED', created: 1, failed: 0 });
      expect(await titles('South')).toEqual(['s2']);
      expect(await parked()).toEqual([]);
      // East was created by hand with Region as a number column.
      const east = await h.asUser('POST', `/sites/${h.siteId}/lists`, {
        displayName: 'East',
        columns: [
          { name: 'ArcoreKey', text: {} },
          { name: 'Region', number: {} },
        ],
        list: { template: 'genericList' },
      });
      expect(east.status).toBe(201);
      await upsertDefinitions(h.db.pool, [
        parseDefinition(splitDefinition([{ when: "region == 'E'", list: 'East' }, ...SPLIT_ROUTES])),
      ]);
      await h.db.pool.query("INSERT INTO splits (id, title, region) VALUES (3, 'e3', 'E'), (4, 'n4', 'N')");
      const again = await runPush(h.ctx, 'split', { trigger: 'test' });
      expectBalanced(again);
      expect(again).toMatchObject({ status: 'PARTIAL', created: 1, failed: 1 });
      expect(await titles('North')).toEqual(['n1 edited in sp', 'n4']);
      const errors = await parked();
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(
        /list "East": cannot map Postgres column region \(text\) to SharePoint column Region/,
      );
      expect(errors[0]).toMatch(/change the column in SharePoint/);
      // verify compares the lists that fit and names the one that does not.
      const report = await verifyDefinition(h.ctx, 'split');
      expect(report).toMatchObject({ agree: false, differences: 0, paired: 3 });
      expect(report.listProblems?.map((p) => p.list)).toEqual(['East']);
      expect(describeDifferences(report)[0]).toMatch(/^list "East": .*SharePoint column Region/);
    });
  });
});
