import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../../support/engineHarness';

/**
 * Under deletes.push SOFT or IGNORE a row deleted in Postgres leaves its item, and the ledger entry becomes ORPHANED
 * (push/deletes.ts). A row inserted again with the same key revives the pair (push/rows.ts): the push clears the
 * soft-delete flag (SOFT) and the entry is SYNCED again even when its values are unchanged, so the pull follows the
 * item again, its edits and its delete (I8, I3). Found by review.
 */
describe('I8 a row inserted again after a SOFT or IGNORE push delete revives its pair (docs/design.md, I8, I3)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  async function setUp(name: string, deletes: Record<string, unknown>, overlapSeconds?: number) {
    await createProjectsTable(h.db, name);
    await h.define(
      projectsDefinition(
        {
          name,
          source: {
            table: name,
            key: ['id'],
            cursor: { type: 'TIMESTAMP', column: 'updated_at' },
            ...(overlapSeconds === undefined ? {} : { overlapSeconds }),
          },
          deletes: deletes as never,
        },
        name,
      ),
    );
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10), (2, 'two', 20)`);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    const pull = () => runPull(h.ctx, name, { trigger: 'test' });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 2 });
    await pull();
    return { push, pull };
  }

  it('SOFT: the item of a row inserted again loses its soft-delete flag', async () => {
    const name = 'rv_soft';
    const { push } = await setUp(name, { push: 'SOFT', pushSoftColumn: 'ArcoreDeleted' });
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', deleted: 1 });
    expect((await h.items(name)).find((i) => i.fields.Title === 'one')?.fields.ArcoreDeleted).toBe(true);

    // The row comes back (restored, re-imported) with new values.
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one again', 12)`);
    const back = await push();
    expect(back).toMatchObject({ status: 'SUCCEEDED' });
    const item = (await h.items(name)).find((i) => i.fields.Title === 'one again');
    expect(item).toBeDefined();
    // The row lives: its item must not still say it is deleted.
    expect(item?.fields.ArcoreDeleted).not.toBe(true);
  });

  it('SOFT: an item edited while orphaned keeps its edit and loses its flag when its row comes back', async () => {
    const name = 'rv_soft_edit';
    const { push } = await setUp(name, { push: 'SOFT', pushSoftColumn: 'ArcoreDeleted' });
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', deleted: 1 });
    const item = (await h.items(name)).find((i) => i.fields.Title === 'one')!;
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
      Budget: 15,
    });
    expect(res.status).toBe(200);
    // Restored as it was: the revival's If-Match write meets the edit (412) and is settled as any pair.
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10)`);
    const back = await push();
    const after = (await h.items(name)).find((i) => i.id === item.id);
    const row = (await h.db.pool.query(`SELECT budget FROM ${name} WHERE id = 1`)).rows[0];
    const state = (
      await h.db.pool.query(
        `SELECT l.state FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
          WHERE d.name = $1 AND l.sp_item_id = $2`,
        [name, item.id],
      )
    ).rows[0]?.state;
    expect({
      status: back.status,
      flag: after?.fields.ArcoreDeleted,
      spBudget: after?.fields.Budget,
      pgBudget: row.budget,
      state,
    }).toEqual({ status: 'SUCCEEDED', flag: false, spBudget: 15, pgBudget: '15.00', state: 'SYNCED' });
  });

  it('IGNORE: a row inserted again with its old values is paired again and SharePoint edits are pulled', async () => {
    const name = 'rv_ignore';
    const { push, pull } = await setUp(name, { push: 'IGNORE' });
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    await push();
    // Restored as it was (an undo, a re-import of the same data).
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10)`);
    await push();
    await pull();

    const item = (await h.items(name)).find((i) => i.fields.Title === 'one')!;
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
      Budget: 99,
    });
    expect(res.status).toBe(200);
    await pull();
    await push();
    const state = (
      await h.db.pool.query(
        `SELECT l.state FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
          WHERE d.name = $1 AND l.sp_item_id = $2`,
        [name, item.id],
      )
    ).rows[0]?.state;
    const row = (await h.db.pool.query(`SELECT budget FROM ${name} WHERE id = 1`)).rows[0];
    expect({ state, budget: row.budget }).toEqual({ state: 'SYNCED', budget: '99.00' });
  });

  it('IGNORE: an item deleted in SharePoint after its row came back follows the pull delete policy', async () => {
    const name = 'rv_ignore_del';
    // overlapSeconds 0 stands for "the SharePoint delete comes more than overlapSeconds (300) after the row".
    const { push, pull } = await setUp(name, { push: 'IGNORE' }, 0);
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    await push();
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10)`);
    await push();
    // Later changes move the cursor on.
    await h.db.pool.query(`UPDATE ${name} SET budget = 21 WHERE id = 2`);
    await push();
    const item = (await h.items(name)).find((i) => i.fields.Title === 'one')!;
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${name}/items/${item.id}`)).status).toBe(204);
    await pull();
    await push();
    await push();
    const row = (await h.db.pool.query(`SELECT id FROM ${name} WHERE id = 1`)).rows[0];
    const inSharePoint = (await h.items(name)).some((i) => i.fields.Title === 'one');
    const pairs = Number(
      (
        await h.db.pool.query(
          `SELECT count(*) AS n FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
            WHERE d.name = $1`,
          [name],
        )
      ).rows[0].n,
    );
    // The pull's delete policy (PROPAGATE) removes the row, as for any pair.
    expect({ rowLives: row !== undefined, inSharePoint, pairs }).toEqual({
      rowLives: false,
      inSharePoint: false,
      pairs: 1,
    });
  });
});
