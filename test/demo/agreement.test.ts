import { parseDefinition } from '../../src/core/definition/parse';
import { validateAgainstDatabase } from '../../src/core/definition/validateLive';
import { runPush } from '../../src/core/engine/push';
import { compareSides, describeDisagreement } from '../../src/demo/agreement';
import { createSampleTable, demoDefinition } from '../../src/demo/sampleData';
import { startHarness, type Harness } from '../support/engineHarness';

/** The demo's final check is the engine's verify: it must find real differences, not only report agreement. */
describe('demo sample table and field-by-field agreement check', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
    await createSampleTable(h.db.pool, 3);
    await h.define(demoDefinition());
    expect(await runPush(h.ctx, 'projects', { trigger: 'test' })).toMatchObject({ created: 3, failed: 0 });
  });
  afterAll(async () => h.close());

  it('creates a table the demo definition passes the live check against', async () => {
    const report = await validateAgainstDatabase(parseDefinition(demoDefinition()), h.db.pool);
    expect(report.errors).toEqual([]);
    const { rows } = await h.db.pool.query(
      'SELECT count(*)::int AS n, bool_and(updated_at IS NOT NULL) AS stamped FROM projects',
    );
    expect(rows[0]).toEqual({ n: 3, stamped: true });
  });

  it('agrees when every field matches (numbers as numbers, dates as days, tags as sets)', async () => {
    const report = await compareSides(h.ctx, 'projects');
    expect(report).toMatchObject({ rows: 3, items: 3, paired: 3, fieldsCompared: 18, agree: true });
  });

  it('names each differing field', async () => {
    const item = (await h.items('Projects'))[0];
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${item.id}/fields`, {
      Status: 'Done',
    });
    expect(edit.status).toBe(200);
    const report = await compareSides(h.ctx, 'projects');
    expect(report).toMatchObject({ agree: false, differences: 1, unpaired: 0 });
    expect(report.sample.differences[0]).toMatchObject({ field: 'Status', sharepoint: 'Done' });
    expect(describeDisagreement(report).join('\n')).toContain(`item ${item.id} Status:`);
  });
});
