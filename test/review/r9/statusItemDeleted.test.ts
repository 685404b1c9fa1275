import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { definitionStatus } from '../../../src/core/ops';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * Review r9: under deletes.pull IGNORE the pull keeps the row of an item deleted in SharePoint as ITEM_DELETED
 * (migration 027). `status` counts that entry in `ledgerSize`, which docs/cli.md says "counts only synced pairs"
 * and the CLI prints as "ledger: N synced pairs": the operator is told the item is synced while it is gone from
 * SharePoint, and nothing in status says that rows wait for `backfill --strategy full_resync` to get their item back.
 */
describe('status: rows kept by deletes.pull IGNORE (ITEM_DELETED)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  it('are not counted as synced pairs', async () => {
    await h.db.pool.query(`CREATE TABLE ignst (id integer PRIMARY KEY, name text,
      updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO ignst (id, name) VALUES (1, 'one'), (2, 'two')`);
    await h.define({
      name: 'ignst',
      source: { table: 'ignst', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'ignst' },
      fields: [{ source: 'name', target: 'Title' }],
      deletes: { push: 'PROPAGATE', pull: 'IGNORE' },
    });
    await runPush(h.ctx, 'ignst', { trigger: 'test' });
    await runPull(h.ctx, 'ignst', { trigger: 'test' });
    const item = (await h.items('ignst')).find((i) => i.fields.Title === 'one');
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/ignst/items/${item?.id}`)).status).toBe(204);
    await runPull(h.ctx, 'ignst', { trigger: 'test' });
    // The row is kept, its entry ITEM_DELETED (the engine behaves as documented).
    const { rows } = await h.db.pool.query<{ state: string }>(
      'SELECT state FROM arcore.sync_ledger ORDER BY state',
    );
    expect(rows.map((r) => r.state)).toEqual(['ITEM_DELETED', 'SYNCED']);

    const [status] = await definitionStatus(h.db.pool, 'ignst');
    // One synced pair: the other row's item is deleted in SharePoint.
    expect(status.ledgerSize).toBe(1);
  });
});
