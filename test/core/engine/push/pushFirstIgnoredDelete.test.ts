import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * I8 deletes.pull IGNORE, push before pull: an item deleted in SharePoint whose row is edited in Postgres is met by
 * the push first (its update answers 404). When the policy decides for SharePoint's delete (DESTINATION_WINS), the
 * row stays (IGNORE) and must stay held apart (ITEM_DELETED), as when the pull meets the tombstone first; the row's
 * next edit must not re-create the item the user deleted.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ deltaOrder: 'stable' });
});
afterAll(async () => h.close());

it('a SharePoint delete met by the push first is not undone by the row`s next edit', async () => {
  await h.db.pool.query(`CREATE TABLE pf (id integer PRIMARY KEY, name text,
    updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO pf (id, name) VALUES (1, 'one')`);
  await h.define({
    name: 'pf',
    source: { table: 'pf', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
    target: { site: SITE, list: 'pf' },
    fields: [{ source: 'name', target: 'Title' }],
    conflictPolicy: 'DESTINATION_WINS',
    deletes: { push: 'PROPAGATE', pull: 'IGNORE' },
  });
  expect(await runPush(h.ctx, 'pf', { trigger: 'test' })).toMatchObject({ created: 1 });
  await runPull(h.ctx, 'pf', { trigger: 'test' });
  const [item] = await h.items('pf');
  expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/pf/items/${item.id}`)).status).toBe(204);

  // The row edited before any pull: the push's update meets the delete (404), SharePoint wins, the row stays.
  await h.db.pool.query("UPDATE pf SET name = 'one, edited', updated_at = now()");
  expect(await runPush(h.ctx, 'pf', { trigger: 'test' })).toMatchObject({ conflicts: 1, failed: 0 });
  await runPull(h.ctx, 'pf', { trigger: 'test' });
  // Edited again: the push must leave it alone.
  await h.db.pool.query("UPDATE pf SET name = 'one, edited twice', updated_at = now()");
  await runPush(h.ctx, 'pf', { trigger: 'test' });

  const ledger = await h.db.pool.query<{ state: string }>(
    `SELECT l.state FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
      WHERE d.name = 'pf'`,
  );
  expect({
    rows: (await h.db.pool.query('SELECT name FROM pf')).rows.map((r: { name: string }) => r.name),
    items: (await h.items('pf')).map((i) => i.fields.Title),
    ledger: ledger.rows.map((r) => r.state),
  }).toEqual({ rows: ['one, edited twice'], items: [], ledger: ['ITEM_DELETED'] });
});
