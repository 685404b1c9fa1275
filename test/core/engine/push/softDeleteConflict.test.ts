import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../../support/engineHarness';

/**
 * Under deletes.push SOFT the push flags the item of a deleted row with an If-Match update (push/deletes.ts). When
 * that update meets a 412 (the item changed in SharePoint since the last sync), the settle (push/conflicts.ts
 * settleDeleteConflict) still applies the push delete policy: the item is flagged, never hard-deleted (I8). An
 * eTag moved by an unmapped column is no conflict. Found by review.
 */
describe('I8 a SOFT or IGNORE push delete meeting an edited item keeps it (docs/design.md, I8)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('keeps the item and flags it, whatever changed in SharePoint', async () => {
    const name = 'rv_softc';
    await createProjectsTable(h.db, name);
    await h.define(
      projectsDefinition(
        {
          name,
          source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
          deletes: { push: 'SOFT', pushSoftColumn: 'ArcoreDeleted' } as never,
        },
        name,
      ),
    );
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10), (2, 'two', 20)`);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 2 });
    await runPull(h.ctx, name, { trigger: 'test' });

    // Someone works on the item in SharePoint (here: a mapped field), and the row is deleted in Postgres.
    const item = (await h.items(name)).find((i) => i.fields.Title === 'one')!;
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
      Budget: 15,
    });
    expect(res.status).toBe(200);
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    const run = await push();

    const after = (await h.items(name)).find((i) => i.id === item.id);
    // SOFT never deletes an item: it is kept, flagged, with its SharePoint edit; the conflict is recorded.
    expect({
      status: run.status,
      conflicts: run.conflicts,
      kept: after !== undefined,
      flag: after?.fields.ArcoreDeleted,
      budget: after?.fields.Budget,
    }).toEqual({
      status: 'SUCCEEDED',
      conflicts: 1,
      kept: true,
      flag: true,
      budget: 15,
    });
  });

  it('keeps the item when only its eTag moved (an edit of a column the definition does not map)', async () => {
    const name = 'rv_softu';
    await createProjectsTable(h.db, name);
    await h.define(
      projectsDefinition(
        {
          name,
          source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
          fields: [{ source: 'name', target: 'Title' }],
          deletes: { push: 'SOFT', pushSoftColumn: 'ArcoreDeleted' } as never,
        },
        name,
      ),
    );
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10)`);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    const item = (await h.items(name))[0];
    // A SharePoint user fills in a column only SharePoint has (not mapped: nothing to sync).
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
      ArcoreDeleted: false,
    });
    expect(res.status).toBe(200);
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    const run = await push();
    const after = (await h.items(name)).find((i) => i.id === item.id);
    const recorded = Number(
      (
        await h.db.pool.query(
          `SELECT count(*) AS n FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
            WHERE d.name = $1`,
          [name],
        )
      ).rows[0].n,
    );
    expect({
      status: run.status,
      conflicts: run.conflicts,
      deleted: run.deleted,
      recorded,
      kept: after !== undefined,
      flag: after?.fields.ArcoreDeleted,
    }).toEqual({
      status: 'SUCCEEDED',
      conflicts: 0,
      deleted: 1,
      recorded: 0,
      kept: true,
      flag: true,
    });
  });
});
