import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * Review r1: under deletes.pull IGNORE an item deleted in SharePoint leaves its row in Postgres, and the pull drops
 * the pair (settle.ts: `decision.synced === null` → `out.remove`). The row is then indistinguishable from a new
 * one: its next edit in Postgres makes the push create the item again, undoing the SharePoint delete the policy was
 * to ignore. Under SOFT the push skips such a row on purpose ("creating it again would undo that delete",
 * push/rows.ts); under push IGNORE the pair is kept as ORPHANED for the same reason. IGNORE on the pull side has
 * neither, and no test.
 */
describe('I8 deletes.pull IGNORE', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  it('keeps the row and does not bring the deleted item back on its next edit', async () => {
    await h.db.pool.query(`CREATE TABLE ign (id integer PRIMARY KEY, name text,
      updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO ign (id, name) VALUES (1, 'one')`);
    await h.define({
      name: 'ign',
      source: { table: 'ign', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'ign' },
      fields: [{ source: 'name', target: 'Title' }],
      deletes: { push: 'PROPAGATE', pull: 'IGNORE' },
    });
    await runPush(h.ctx, 'ign', { trigger: 'test' });
    await runPull(h.ctx, 'ign', { trigger: 'test' });
    const [item] = await h.items('ign');

    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/ign/items/${item.id}`)).status).toBe(204);
    await runPull(h.ctx, 'ign', { trigger: 'test' });
    expect((await h.db.pool.query('SELECT name FROM ign')).rows).toEqual([{ name: 'one' }]);

    await h.db.pool.query("UPDATE ign SET name = 'one, edited', updated_at = now()");
    const pushed = await runPush(h.ctx, 'ign', { trigger: 'test' });
    expect({ created: pushed.created, items: (await h.items('ign')).length }).toEqual({
      created: 0,
      items: 0,
    });
  });
});
