import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * Review r1: a full enumeration of the list (a first pull, or after a 410) that stops between pages keeps its
 * marker; the next run retries parked items first (feed.ts: `applyEntries(scope, retry, null, null)`, no
 * enumeration marker) and then resumes the enumeration. A new item Postgres refused on an early page and now
 * inserted by that retry gets a ledger entry not marked as seen by the enumeration, and the resumed enumeration does
 * not show it again (its page is behind). At the end, reconcileUnseen takes it for deleted in SharePoint: the row
 * just inserted is deleted and its pair dropped, while the item stays in SharePoint, never pulled again.
 */
describe('I5c/I8 a parked new item retried while an enumeration is resumed', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  it('keeps the row the retry inserted', async () => {
    await h.db.pool.query(`CREATE TABLE en (id serial PRIMARY KEY, name text,
      budget numeric(12,2) CONSTRAINT en_budget CHECK (budget >= 0), updated_at timestamptz NOT NULL DEFAULT now())`);
    await h.define({
      name: 'en',
      source: { table: 'en', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'en' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'budget', target: 'Budget' },
      ],
    });
    // Item 1, made in SharePoint, with a value Postgres refuses; then 200 rows pushed: the list's first enumeration
    // takes two pages (200 items a page), item 1 on the first.
    const base = `/sites/${h.siteId}/lists/en/items`;
    expect((await h.asUser('POST', base, { fields: { Title: 'from SharePoint', Budget: -5 } })).status).toBe(
      201,
    );
    await h.db.pool.query(
      "INSERT INTO en (name, budget) SELECT 'row ' || g, 1 FROM generate_series(1, 200) g",
    );
    expect(await runPush(h.ctx, 'en', { trigger: 'test' })).toMatchObject({ created: 200 });

    // The first pull runs out of time after its first page: item 1 refused and parked.
    const first = await runPull(h.ctx, 'en', { trigger: 'test', maxSeconds: 0.001 });
    expect(first).toMatchObject({ complete: false, failed: 1 });

    // The constraint is relaxed; the next pull retries item 1 (inserted) and finishes the enumeration.
    await h.db.pool.query('ALTER TABLE en DROP CONSTRAINT en_budget');
    const second = await runPull(h.ctx, 'en', { trigger: 'test' });
    expect(second).toMatchObject({ complete: true, failed: 0 });
    const { rows } = await h.db.pool.query("SELECT name, budget FROM en WHERE name = 'from SharePoint'");
    const { rows: pair } = await h.db.pool.query("SELECT 1 FROM arcore.sync_ledger WHERE sp_item_id = '1'");
    expect({
      second: { created: second.created, deleted: second.deleted },
      rows,
      paired: pair.length,
    }).toEqual({
      second: { created: 1, deleted: 0 },
      rows: [{ name: 'from SharePoint', budget: '-5.00' }],
      paired: 1,
    });
  });
});
