import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import { itemsWithKey } from '../../support/routed';

/**
 * A move's new item lands in Closed, its old item's delete refused: the move waits for the next push. The first
 * pull of Closed enumerates it over two runs (its time budget stops it after the first page of 200), and that
 * first page holds the moved-in item, which the pull leaves to the push (a move in flight). The push between the
 * two pulls finishes the move: the ledger now pairs the row with that item. When the enumeration ends, the pull
 * takes every pair of Closed it did not see in this enumeration for an item deleted in SharePoint: the row, which
 * nobody deleted, must not be deleted from Postgres.
 */
describe('review r2: a move finished while its new list is being enumerated', () => {
  let h: Harness;
  beforeAll(async () => {
    // Graph may show an item of an earlier page again, or not: here it does not.
    h = await startHarness({ deltaRepeats: false });
  });
  afterAll(async () => h.close());

  it('keeps the row and its item', async () => {
    const definition: SyncDefinitionInput = {
      name: 'cases',
      source: {
        table: 'cases',
        key: ['id'],
        cursor: { type: 'TIMESTAMP', column: 'updated_at' },
        overlapSeconds: 0,
      },
      // Closed first: the pull reads it first, and its time budget stops it inside Closed's enumeration.
      target: { site: SITE, routes: [{ when: "status == 'CLOSED'", list: 'Closed' }, { list: 'Open' }] },
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'status', target: 'Status' },
      ],
    };
    await h.db.pool.query(`CREATE TABLE cases (
      id integer PRIMARY KEY, title text, status text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', 'cases', 'updated_at');
    await h.define(definition);
    const push = () => runPush(h.ctx, 'cases', { trigger: 'test' });
    await h.db.pool.query(`INSERT INTO cases (id, title, status) VALUES (1, 'moving', 'OPEN')`);
    expect(await push()).toMatchObject({ created: 1 });
    const { rows } = await h.db.pool.query<{ h: string; list: string }>(
      'SELECT source_identity_hash AS h, sp_list_id AS list FROM arcore.sync_ledger',
    );
    const { h: hash, list: openId } = rows[0];

    // The move's create lands in Closed (its first item); the old item's delete is refused, here and when the
    // next push tries to finish it. That push creates 200 more items in Closed.
    await h.db.pool.query(`UPDATE cases SET status = 'CLOSED' WHERE id = 1`);
    h.emulator.control.injectFault({
      method: 'DELETE',
      pathPattern: `/lists/${openId}/items/`,
      status: 403,
      count: 2,
    });
    try {
      expect(await push()).toMatchObject({ moved: 0, failed: 1 });
      await h.db.pool.query(
        `INSERT INTO cases (id, title, status) SELECT g, 'r' || g, 'CLOSED' FROM generate_series(2, 201) g`,
      );
      expect(await push()).toMatchObject({ created: 200, moved: 0 });
    } finally {
      h.emulator.control.clearFaults();
    }

    // The first pull reads Closed's first page (the moved-in item among it), then its budget is spent.
    expect(await runPull(h.ctx, 'cases', { trigger: 'test', maxSeconds: 0.001 })).toMatchObject({
      complete: false,
    });
    expect(await push()).toMatchObject({ moved: 1 }); // the move finishes
    const rest = await runPull(h.ctx, 'cases', { trigger: 'test' });
    expect(rest.error).toBeNull();

    expect((await h.db.pool.query('SELECT title, status FROM cases WHERE id = 1')).rows).toEqual([
      { title: 'moving', status: 'CLOSED' },
    ]);
    expect((await itemsWithKey(h, ['Open', 'Closed'], hash)).map((i) => i.list)).toEqual(['Closed']);
    expect(rest.deleted).toBe(0);
  });
});
