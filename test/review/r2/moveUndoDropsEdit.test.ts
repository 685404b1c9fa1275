import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import { itemsWithKey, spEdit } from '../../support/routed';

/**
 * A push's move created the row's item in Closed, but the old item's delete was refused once (403): until the next
 * push both items are visible. A SharePoint user edits the new item in Closed (the pull leaves it to the push, as an
 * item of a move in flight), and the old item in Open is saved without a mapped change (a new eTag only). The next
 * push finds the old item changed (412) and undoes the move by deleting the new item, without looking at it: the
 * user's edit must not be lost.
 */
describe('review r2: undoing a settled move keeps an edit made to the new item', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('keeps the title a user typed into the moved-in item', async () => {
    const definition: SyncDefinitionInput = {
      name: 'cases',
      source: {
        table: 'cases',
        key: ['id'],
        cursor: { type: 'TIMESTAMP', column: 'updated_at' },
        overlapSeconds: 0,
      },
      target: { site: SITE, routes: [{ when: "status == 'OPEN'", list: 'Open' }, { list: 'Closed' }] },
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'status', target: 'Status' },
      ],
    };
    await h.db.pool.query(`CREATE TABLE cases (
      id integer PRIMARY KEY, title text, status text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', 'cases', 'updated_at');
    await h.define(definition);
    await h.db.pool.query(`INSERT INTO cases (id, title, status) VALUES (1, 'c1', 'OPEN')`);
    const push = () => runPush(h.ctx, 'cases', { trigger: 'test' });
    const pull = () => runPull(h.ctx, 'cases', { trigger: 'test' });
    expect(await push()).toMatchObject({ created: 1 });
    const { rows } = await h.db.pool.query<{ h: string; item: string; list: string }>(
      'SELECT source_identity_hash AS h, sp_item_id AS item, sp_list_id AS list FROM arcore.sync_ledger',
    );
    const { h: hash, item: oldItem, list: openId } = rows[0];

    await h.db.pool.query(`UPDATE cases SET status = 'CLOSED' WHERE id = 1`);
    h.emulator.control.injectFault({
      method: 'DELETE',
      pathPattern: `/lists/${openId}/items/`,
      status: 403,
      count: 1,
    });
    try {
      expect(await push()).toMatchObject({ moved: 0, failed: 1 });
    } finally {
      h.emulator.control.clearFaults();
    }
    const [moved] = await itemsWithKey(h, ['Closed'], hash);

    await spEdit(h, 'Closed', moved.id, { Title: 'typed in the new item' });
    await pull(); // leaves the new item to the push (a move in flight): its delta reads past the edit
    await spEdit(h, 'Open', oldItem, { Title: 'c1' }); // a save that changes nothing mapped: a new eTag
    await push();
    await pull();
    await push();
    await pull();
    const items = await itemsWithKey(h, ['Open', 'Closed'], hash);
    const row = (await h.db.pool.query('SELECT title, status FROM cases WHERE id = 1')).rows[0];
    expect({ items: items.map((i) => [i.list, i.fields.Title]), row }).toEqual({
      items: [['Closed', 'typed in the new item']],
      row: { title: 'typed in the new item', status: 'CLOSED' },
    });
  });
});
