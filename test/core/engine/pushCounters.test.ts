import { runPush } from '../../../src/core/engine/push';
import { rememberedVersions } from '../../../src/core/engine/push/rows';
import { pushSinceCursor } from '../../../src/core/engine/push/timestamp';
import { withRun } from '../../../src/core/engine/runner';
import type { RunSummary } from '../../../src/core/engine/types';
import { projectsDefinition, startHarness, timestampSource, type Harness } from '../../support/engineHarness';

/** Every row a run considers is counted once, under exactly one outcome. */
function expectCountsAddUp(s: RunSummary): void {
  expect(s.processed).toBe(s.created + s.updated + s.deleted + s.skipped + s.conflicts + s.failed);
}

describe('push counters: processed = created + updated + deleted + skipped + conflicts + failed', () => {
  let h: Harness;
  const push = () => runPush(h.ctx, 'projects', { trigger: 'test' });

  beforeAll(async () => {
    h = await startHarness();
    await h.db.pool.query(
      'CREATE TABLE projects (id int PRIMARY KEY, name text, updated_at timestamptz NOT NULL DEFAULT now())',
    );
    await h.define(projectsDefinition({ fields: [{ source: 'name', target: 'Title' }] }));
  });
  afterAll(async () => h?.close());

  it('parked rows retried by the next run are counted once, not again when the overlap window re-reads them', async () => {
    // 22 rows, 9 of them with a Title SharePoint refuses (more than 255 characters).
    await h.db.pool.query(
      `INSERT INTO projects (id, name)
       SELECT g, CASE WHEN g % 2 = 0 AND g <= 18 THEN repeat('x', 300) ELSE 'row ' || g END
       FROM generate_series(1, 22) g`,
    );

    const first = await push();
    expect(first).toMatchObject({ processed: 22, created: 13, failed: 9 });
    expectCountsAddUp(first);

    // The retry reads the 9 parked rows; the overlap window then reads all 22 again: each is counted once.
    const second = await push();
    expect(second).toMatchObject({ processed: 22, created: 0, skipped: 13, failed: 9 });
    expectCountsAddUp(second);
    expect((await h.items('Projects')).length).toBe(13);
  });

  it('a fixed row, a deleted row and a conflict each count once', async () => {
    await h.db.pool.query("UPDATE projects SET name = 'fixed' WHERE id = 2");
    await h.db.pool.query('DELETE FROM projects WHERE id = 3');
    const item = (await h.items('Projects')).find((i) => i.fields.Title === 'row 5');
    expect(item).toBeDefined();
    const edited = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${item?.id}/fields`, {
      Title: 'from SharePoint',
    });
    expect(edited.status).toBe(200);
    await h.db.pool.query("UPDATE projects SET name = 'from Postgres' WHERE id = 5");

    const run = await push();

    expect(run).toMatchObject({ created: 1, deleted: 1, conflicts: 1, failed: 8 });
    expectCountsAddUp(run);
  });

  it('the page loop remembers no row version: what a run holds does not grow with the rows it pushes', async () => {
    await h.db.pool.query(
      'CREATE TABLE many (id int PRIMARY KEY, name text, updated_at timestamptz NOT NULL DEFAULT now())',
    );
    await h.define({
      ...projectsDefinition(
        { source: timestampSource('many', 20), fields: [{ source: 'name', target: 'Title' }] },
        'Many',
      ),
      name: 'many',
    });
    await h.db.pool.query("INSERT INTO many (id, name) SELECT g, 'row ' || g FROM generate_series(1, 120) g");

    let remembered: number | null = null;
    const run = await withRun(h.ctx, 'many', 'PUSH', { trigger: 'test' }, async (scope) => {
      await pushSinceCursor(scope);
      remembered = rememberedVersions(scope);
    });

    expect(run).toMatchObject({ status: 'SUCCEEDED', processed: 120, created: 120 });
    expect(remembered).toBe(0);
    expect((await h.items('Many')).length).toBe(120);
  });
});
