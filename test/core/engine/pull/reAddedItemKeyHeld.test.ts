import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * I8 deletes.pull IGNORE with the key mapped from SharePoint: a user deletes an item (the row is kept, entry
 * ITEM_DELETED), then adds it again by hand in SharePoint with the same key. The row the policy kept has no item;
 * the new item is its item now (as an item carrying its hidden key would be). It must not be refused for ever, also
 * when deletes.pull was switched away from IGNORE meanwhile (the row stays kept, docs/design.md I8).
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ deltaOrder: 'stable' });
});
afterAll(async () => h.close());

it.each([
  ['ra', 'IGNORE'],
  ['rb', 'PROPAGATE'],
] as const)(
  'an item added again by hand for a row kept under deletes.pull IGNORE pairs with that row (%s: %s when added)',
  async (ra, policy) => {
    await h.db.pool.query(`CREATE TABLE ${ra} (code text PRIMARY KEY, name text,
    updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO ${ra} (code, name) VALUES ('A', 'first')`);
    const define = (pull: 'IGNORE' | 'PROPAGATE') =>
      h.define({
        name: ra,
        source: { table: ra, key: ['code'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
        target: { site: SITE, list: ra },
        fields: [
          { source: 'code', target: 'Code' },
          { source: 'name', target: 'Title' },
        ],
        deletes: { push: 'PROPAGATE', pull },
      });
    await define('IGNORE');
    expect(await runPush(h.ctx, ra, { trigger: 'test' })).toMatchObject({ created: 1 });
    await runPull(h.ctx, ra, { trigger: 'test' });
    const [item] = await h.items(ra);
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${ra}/items/${item.id}`)).status).toBe(204);
    await runPull(h.ctx, ra, { trigger: 'test' });
    await define(policy);

    // Added again by hand: same key, a new title, no hidden key.
    const added = await h.asUser('POST', `/sites/${h.siteId}/lists/${ra}/items`, {
      fields: { Code: 'A', Title: 'first, added again' },
    });
    expect(added.status).toBe(201);
    const pulled = await runPull(h.ctx, ra, { trigger: 'test' });
    const parked = await h.db.pool.query<{ error: string }>(
      `SELECT last_error AS error FROM arcore.sync_failures f JOIN arcore.sync_definitions d ON d.id = f.definition_id
      WHERE f.status = 'PARKED' AND d.name = $1`,
      [ra],
    );
    const ledger = await h.db.pool.query<{ state: string; item: string }>(
      `SELECT state, sp_item_id AS item FROM arcore.sync_ledger l JOIN arcore.sync_definitions d
       ON d.id = l.definition_id WHERE d.name = $1`,
      [ra],
    );
    expect({
      failed: pulled.failed,
      parked: parked.rows.map((r) => r.error),
      rows: (await h.db.pool.query(`SELECT code, name FROM ${ra}`)).rows,
      ledger: ledger.rows,
    }).toEqual({
      failed: 0,
      parked: [],
      rows: [{ code: 'A', name: 'first, added again' }],
      ledger: [{ state: 'SYNCED', item: (added.body as { id: string }).id }],
    });
  },
);
