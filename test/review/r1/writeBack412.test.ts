import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import { eventually } from '../../support/eventually';

/**
 * Review r1: a pull page writes SharePoint's edit of one field into Postgres and sends Postgres's edit of another
 * field back (writeBacks.ts). The page commits the row but leaves the pair's synced values as they were until the
 * write-back is confirmed (settle.ts saves them early only for key edits). When the user saves the item again
 * before the write-back lands (a second edit of the same field: a typo fix), the write-back meets a 412 and is
 * parked. The next run then compares Postgres's row, which now holds the first SharePoint edit the pull itself
 * wrote, with the old base: the field looks edited on both sides, a (false) conflict, and under the default policy
 * SOURCE_WINS the pull's own write wins over the user's second edit, which is overwritten in SharePoint.
 */
describe('I7 a pulled field, edited again in SharePoint while the page write-back is in flight', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable', batchAmbiguous503Rate: 0 });
  });
  afterAll(async () => h.close());

  it("keeps the user's second edit (no conflict with the pull's own write)", async () => {
    await h.db.pool.query(`CREATE TABLE wb412 (id integer PRIMARY KEY, name text, budget numeric(12,2),
      updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO wb412 (id, name, budget) VALUES (1, 'v0', 10)`);
    await h.define({
      name: 'wb412',
      source: { table: 'wb412', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'wb412' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'budget', target: 'Budget' },
      ],
    });
    await runPush(h.ctx, 'wb412', { trigger: 'test' });
    await runPull(h.ctx, 'wb412', { trigger: 'test' });
    const [item] = await h.items('wb412');
    const fields = `/sites/${h.siteId}/lists/wb412/items/${item.id}/fields`;

    // Different fields edited on the two sides: the pull takes Title and writes Budget back.
    await h.db.pool.query('UPDATE wb412 SET budget = 20 WHERE id = 1');
    expect((await h.asUser('PATCH', fields, { Title: 'v1' })).status).toBe(200);

    // The write-back's $batch is slow; the user fixes a typo in the Title meanwhile.
    h.emulator.control.injectFault({ method: 'POST', pathPattern: '\\$batch', count: 1, latencyMs: 1500 });
    const pulling = runPull(h.ctx, 'wb412', { trigger: 'test' });
    await eventually('the page committed, its write-back waiting', async () => {
      const { rows } = await h.db.pool.query(
        "SELECT 1 FROM arcore.sync_failures WHERE status = 'PARKED' AND last_error LIKE 'write-back%not confirmed%'",
      );
      return rows.length > 0;
    });
    expect((await h.asUser('PATCH', fields, { Title: 'v2' })).status).toBe(200);
    expect(await pulling).toMatchObject({ failed: 1 }); // the write-back's 412
    h.emulator.control.clearFaults();

    await runPull(h.ctx, 'wb412', { trigger: 'test' });
    await runPush(h.ctx, 'wb412', { trigger: 'test' });
    await runPull(h.ctx, 'wb412', { trigger: 'test' });
    const row = (await h.db.pool.query('SELECT name, budget FROM wb412')).rows[0];
    const [now] = await h.items('wb412');
    const conflicts = (await h.db.pool.query('SELECT reason FROM arcore.sync_conflicts')).rows;
    expect({ row, title: now.fields.Title, budget: now.fields.Budget, conflicts }).toEqual({
      row: { name: 'v2', budget: '20.00' },
      title: 'v2',
      budget: 20,
      conflicts: [],
    });
  });
});
