import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { startHarness, type Harness } from '../../../support/engineHarness';
import { pushedTwoProjects } from '../../../support/projects';

/**
 * Review: under deletes.push IGNORE a row deleted in Postgres leaves its item and an ORPHANED entry. The item is then
 * deleted in SharePoint, and the row is inserted again. The revival's If-Match write
 * meets a 404 (no pull ran in between) and is settled (push/conflicts.ts settleConflicts) as a SharePoint delete of a live pair: the row a
 * user just inserted is deleted from Postgres (data loss), instead of being synced as a new item.
 */
describe('I8 a row inserted again for an ORPHANED entry whose item was deleted meanwhile (docs/design.md, I8)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it.each([['IGNORE'], ['SOFT']])('%s: keeps the row and gives it an item', async (policy) => {
    const name = `rv_orph_${policy.toLowerCase()}`;
    await pushedTwoProjects(h, name, {
      definition: {
        deletes: (policy === 'SOFT'
          ? { push: 'SOFT', pushSoftColumn: 'ArcoreDeleted' }
          : { push: 'IGNORE' }) as never,
      },
    });
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    await runPull(h.ctx, name, { trigger: 'test' });
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    await push();
    const item = (await h.items(name)).find((i) => i.fields.Title === 'one')!;
    // Someone cleans up the orphaned item in SharePoint.
    const del = await h.asUser('DELETE', `/sites/${h.siteId}/lists/${name}/items/${item.id}`);
    expect(del.status).toBe(204);
    // No pull runs before the row is back (a push-only definition, or the pull not due yet).
    // The row comes back (restored as it was).
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10)`);
    const back = await push();
    const again = await push();
    const rows = (await h.db.pool.query(`SELECT id FROM ${name} ORDER BY id`)).rows.map((r) => Number(r.id));
    const titles = (await h.items(name)).map((i) => i.fields.Title).sort();
    expect(back).toMatchObject({ status: 'SUCCEEDED', failed: 0 });
    expect(again).toMatchObject({ created: 1 });
    expect({ rows, titles }).toEqual({ rows: [1, 2], titles: ['one', 'two'] });
  });
});
