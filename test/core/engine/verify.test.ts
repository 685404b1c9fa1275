import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { describeDifferences, verifyDefinition } from '../../../src/core/engine/verify';
import { UnknownDefinitionError } from '../../../src/core/store/definitions';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../../support/engineHarness';

const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

describe('verify', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
  });
  afterEach(async () => h.close());

  const verify = () => verifyDefinition(h.ctx, 'projects');
  const itemOf = async (title: string) => (await h.items('Projects')).find((i) => i.fields.Title === title)!;

  async function seed(overrides = {}) {
    await h.define(projectsDefinition(overrides));
    await h.db.pool.query(
      `INSERT INTO projects (id, name, budget, due, done, tags) VALUES
         (1, 'one', 10.5, '2026-03-01', true, '{b,a}'),
         (2, 'two', 20, null, false, '{}'),
         (3, 'three', null, '2026-12-31', null, null)`,
    );
    expect(await runPush(h.ctx, 'projects', { trigger: 'test' })).toMatchObject({ created: 3, failed: 0 });
    await runPull(h.ctx, 'projects', { trigger: 'test' });
  }

  it('agrees after a sync, comparing values canonically, and only reads SharePoint', async () => {
    await seed();
    h.emulator.control.clearRequestLog();
    const report = await verify();
    expect(report).toMatchObject({
      definition: 'projects',
      agree: true,
      rows: 3,
      items: 3,
      paired: 3,
      fieldsCompared: 15,
      differences: 0,
      unpaired: 0,
      fields: ['Title', 'Budget', 'Due', 'Done', 'Tags'],
    });
    expect(report.graphRequests).toBeGreaterThan(0);
    const log = h.emulator.control.requestLog();
    expect(log.filter((e) => WRITE_METHODS.has(e.method))).toEqual([]);
    // The list enumeration the target adapter offers (paged), not per-item reads.
    expect(log.some((e) => e.method === 'GET' && /\/lists\/[^/]+\/items$/.test(e.path))).toBe(true);
    expect(log.some((e) => /\/items\/[^/]+$/.test(e.path))).toBe(false);
  });

  it('names each differing field with both values and the key, and counts unpaired rows and items', async () => {
    await seed();
    const one = await itemOf('one');
    expect(
      (await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${one.id}/fields`, { Title: 'uno' }))
        .status,
    ).toBe(200);
    await h.db.pool.query('UPDATE projects SET budget = 99 WHERE id = 2');
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (4, 'four')");
    const created = await h.asUser('POST', `/sites/${h.siteId}/lists/Projects/items`, {
      fields: { Title: 'stray' },
    });
    expect(created.status).toBe(201);
    const strayId = (created.body as { id: string }).id;

    const report = await verify();
    expect(report).toMatchObject({
      agree: false,
      rows: 4,
      items: 4,
      paired: 3,
      fieldsCompared: 15,
      differences: 2,
      unpaired: 2,
      rowsWithoutItem: 1,
      itemsWithoutRow: 1,
    });
    expect(report.sample.differences).toEqual(
      expect.arrayContaining([
        {
          key: { id: 1 },
          itemId: one.id,
          field: 'Title',
          column: 'name',
          postgres: 'one',
          sharepoint: 'uno',
        },
        expect.objectContaining({ key: { id: 2 }, field: 'Budget', postgres: 99, sharepoint: 20 }),
      ]),
    );
    expect(report.sample.rowsWithoutItem).toEqual([{ id: 4 }]);
    expect(report.sample.itemsWithoutRow).toEqual([strayId]);
    const text = describeDifferences(report).join('\n');
    expect(text).toContain(`row {"id":1} / item ${one.id} Title: Postgres "one" ≠ SharePoint "uno"`);
    expect(text).toContain('rows without an item (1): {"id":4}');

    // Synced both ways, the edits and the new row agree; the stray item stays unpaired (its row cannot be
    // inserted: the key is not mapped from SharePoint, so the pull parks it).
    await runPull(h.ctx, 'projects', { trigger: 'test' });
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    expect(await verify()).toMatchObject({
      agree: false,
      rows: 4,
      items: 5,
      paired: 4,
      differences: 0,
      unpaired: 1,
      sample: { itemsWithoutRow: [strayId] },
    });
  });

  it('keeps items the push delete policy orphans on purpose out of the unpaired count', async () => {
    await seed({ deletes: { push: 'IGNORE', pull: 'PROPAGATE' } });
    await h.db.pool.query('DELETE FROM projects WHERE id = 3');
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    expect(await verify()).toMatchObject({
      agree: true,
      rows: 2,
      items: 3,
      paired: 2,
      orphanedItems: 1,
      unpaired: 0,
    });
  });

  it('reads both sides page by page (keyset pages in Postgres, nextLink pages in SharePoint)', async () => {
    await h.define(projectsDefinition({ source: timestampSource('projects', 2) }));
    await h.db.pool.query("INSERT INTO projects (id, name) SELECT i, 'n' || i FROM generate_series(1, 7) i");
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    await h.db.pool.query("UPDATE projects SET name = 'late' WHERE id = 6");
    h.emulator.control.clearRequestLog();
    expect(await verify()).toMatchObject({ rows: 7, items: 7, paired: 7, differences: 1, unpaired: 0 });
    const listReads = h.emulator.control.requestLog().filter((e) => /\/lists\/[^/]+\/items$/.test(e.path));
    expect(listReads).toHaveLength(4);
    expect(listReads[0].query).toContain('top=2');
  });

  it('fails with UnknownDefinitionError for a name that is not defined', async () => {
    await expect(verifyDefinition(h.ctx, 'nope')).rejects.toBeInstanceOf(UnknownDefinitionError);
  });
});
