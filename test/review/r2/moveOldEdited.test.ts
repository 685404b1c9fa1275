import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import { itemsWithKey, spEdit } from '../../support/routed';

/**
 * A push's move created the row's item in Closed, but the old item's delete was refused once (a 403; a 503 past
 * its retries or a crash leaves the same state): the move stays recorded for the next push to finish. A
 * SharePoint user then edits the OLD item's pull-only field; the pull applies it to Postgres ("an edit of the old
 * item is applied as usual: the push that settles the move writes it to the new item"). The push that finishes
 * the move must not leave the new item with the value the move sent before that edit.
 */
describe('review r2: an edit of the old item while a move waits reaches the new item', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('keeps the pull-only value a user typed into the old item after the create landed', async () => {
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
        { source: 'notes', target: 'Notes', direction: 'PULL_ONLY' },
      ],
    };
    await h.db.pool.query(`CREATE TABLE cases (
      id integer PRIMARY KEY, title text, status text, notes text, updated_at timestamptz NOT NULL DEFAULT now())`);
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

    // The move's create lands; its delete of the old item is refused.
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
    expect((await itemsWithKey(h, ['Open', 'Closed'], hash)).map((i) => i.list).sort()).toEqual([
      'Closed',
      'Open',
    ]);

    // A SharePoint user fills in the pull-only Notes of the item they still see in Open; the pull takes it.
    await spEdit(h, 'Open', oldItem, { Notes: 'typed on the old item' });
    await pull();
    expect((await h.db.pool.query('SELECT notes FROM cases WHERE id = 1')).rows[0].notes).toBe(
      'typed on the old item',
    );

    // The push settles the move; the row's item is now in Closed.
    await push();
    await push();
    await pull();
    const items = await itemsWithKey(h, ['Open', 'Closed'], hash);
    expect(items.map((i) => i.list)).toEqual(['Closed']);
    // SharePoint owns Notes: the user's value must still be on the row's (moved) item.
    expect(items[0].fields.Notes).toBe('typed on the old item');
    expect((await h.db.pool.query('SELECT notes FROM cases WHERE id = 1')).rows[0].notes).toBe(
      'typed on the old item',
    );
  });
});
