/**
 * Review of I13 for views across pages (engine/identity.ts splitSharedKeys, pull/applyPage.ts) and of the push
 * page loop's slices (engine/slices.ts): defects found, each proven here.
 */
import { runPull } from '../../src/core/engine/pull';
import { runPush } from '../../src/core/engine/push';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../support/engineHarness';

describe('I13 views across pages (review)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('a table: an edit of a paired item pulled with a copy of it on one page is applied, not parked as a key two rows hold', async () => {
    const name = 'copyedit';
    await createProjectsTable(h.db, name);
    await h.define(
      projectsDefinition(
        { name, source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } } },
        name,
      ),
    );
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'orig', 10)`);
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 1 });
    await runPull(h.ctx, name, { trigger: 'test' });
    const [original] = await h.items(name);
    const items = `/sites/${h.siteId}/lists/${name}/items`;
    // A flow copies the item as it is edited: both are in the pull's one delta page.
    expect((await h.asUser('PATCH', `${items}/${original.id}/fields`, { Title: 'edited' })).status).toBe(200);
    const copy = await h.asUser('POST', items, {
      fields: { Title: 'copied', ArcoreKey: original.fields.ArcoreKey },
    });
    expect(copy.status).toBe(201);

    expect(await runPull(h.ctx, name, { trigger: 'test' })).toMatchObject({
      updated: 1,
      conflicts: 1,
      failed: 0,
    });
    const { rows } = await h.db.pool.query(`SELECT name FROM ${name} WHERE id = 1`);
    expect(rows).toEqual([{ name: 'edited' }]);
  });
});
