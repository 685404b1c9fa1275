import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import { eventually } from '../../support/eventually';

/**
 * Review r1: a pull page writes a Postgres edit back to SharePoint after it commits (writeBacks.ts). When the item
 * is deleted in SharePoint between the page's delta read and that write-back, the write-back answers 404 and
 * flushWriteBacks drops the pair (`remove.push(o.ref)`) while the row stays in Postgres. The delete's tombstone,
 * read by the next pull, then meets no pair ("never synced: nothing to delete") and the row, which the page itself
 * wrote (its cursor moved), is pushed as a brand-new item: the SharePoint delete is lost and the item comes back
 * under a new id, whatever the conflict policy says (here DESTINATION_WINS: SharePoint's delete should win, I7/I8).
 */
describe('I8 a SharePoint delete racing a pull write-back', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable', batchAmbiguous503Rate: 0 });
  });
  afterAll(async () => h.close());

  it('is decided by the policy (the row deleted), not lost and the item re-created', async () => {
    await h.db.pool.query(`CREATE TABLE wb404 (id integer PRIMARY KEY, name text, budget numeric(12,2),
      updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO wb404 (id, name, budget) VALUES (1, 'one', 10)`);
    await h.define({
      name: 'wb404',
      source: { table: 'wb404', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'wb404' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'budget', target: 'Budget' },
      ],
      conflictPolicy: 'DESTINATION_WINS',
    });
    await runPush(h.ctx, 'wb404', { trigger: 'test' });
    await runPull(h.ctx, 'wb404', { trigger: 'test' });
    const [item] = await h.items('wb404');
    const base = `/sites/${h.siteId}/lists/wb404/items`;

    // Two different fields edited on the two sides: the pull takes Title and writes Budget back.
    await h.db.pool.query('UPDATE wb404 SET budget = 20, updated_at = now() WHERE id = 1');
    expect((await h.asUser('PATCH', `${base}/${item.id}/fields`, { Title: 'one, edited' })).status).toBe(200);

    // The write-back is slow to arrive; the user deletes the item meanwhile (after the page was read and committed).
    h.emulator.control.injectFault({ method: 'PATCH', pathPattern: '/fields$', count: 1, latencyMs: 1500 });
    const pulling = runPull(h.ctx, 'wb404', { trigger: 'test' });
    await eventually('the page committed, its write-back waiting', async () => {
      const { rows } = await h.db.pool.query(
        "SELECT 1 FROM arcore.sync_failures WHERE status = 'PARKED' AND last_error LIKE 'write-back%not confirmed%'",
      );
      return rows.length > 0;
    });
    expect((await h.asUser('DELETE', `${base}/${item.id}`)).status).toBe(204);
    await pulling;
    h.emulator.control.clearFaults();

    // The next runs see the delete: SharePoint's delete wins (DESTINATION_WINS), nothing comes back.
    await runPull(h.ctx, 'wb404', { trigger: 'test' });
    await runPush(h.ctx, 'wb404', { trigger: 'test' });
    await runPull(h.ctx, 'wb404', { trigger: 'test' });
    const rows = (await h.db.pool.query('SELECT id FROM wb404')).rows;
    const items = (await h.items('wb404')).map((i) => ({ id: i.id, title: i.fields.Title }));
    expect({ rows, items }).toEqual({ rows: [], items: [] });
  });
});
