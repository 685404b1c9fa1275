import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { previewPull, previewPush } from '../../../src/core/engine/dryRun';
import { resolveConflict } from '../../../src/core/engine/resolve';
import { getConflict } from '../../../src/core/ops';
import { startHarness, type Harness } from '../../support/engineHarness';
import { defineProjects } from '../../support/projects';

/**
 * Review r21: every run skips a pair an open (MANUAL) conflict holds, so its record kept the values of when it was
 * detected. `conflicts show` offered the operator values no longer there, while `resolve` takes each side as it is
 * now: a row deleted meanwhile was shown as a live row, and `--take postgres`, chosen to keep its values, deleted
 * the item. The runs that skip a held pair record what they read of their side (refreshOpenConflicts).
 */
describe('I7 an open conflict shows both sides as the runs last read them', () => {
  let h: Harness;
  let n = 0;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  /** A MANUAL definition whose row 1 is held by an open conflict on Title ("pg" / "sp"). */
  async function held() {
    n++;
    const name = `oc${n}`;
    await defineProjects(h, name, { definition: { conflictPolicy: 'MANUAL' } });
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'T0', 10)`);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    const pull = () => runPull(h.ctx, name, { trigger: 'test' });
    await push();
    await pull();
    const itemId = (await h.items(name))[0].id;
    const spEdit = async (fields: Record<string, unknown>) => {
      const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`, fields);
      expect(res.status).toBe(200);
    };
    await h.db.pool.query(`UPDATE ${name} SET name = 'pg' WHERE id = 1`);
    await spEdit({ Title: 'sp' });
    expect((await pull()).conflicts).toBe(1);
    const { rows } = await h.db.pool.query<{ id: string }>(
      `SELECT c.id FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = $1`,
      [name],
    );
    expect(rows).toHaveLength(1);
    const conflictId = rows[0].id;
    /** Push and pull, three times: a held pair writes nothing (I4). */
    const quiet = async () => {
      for (let i = 0; i < 3; i++)
        expect([await push(), await pull()].map((s) => s.created + s.updated + s.deleted)).toEqual([0, 0]);
    };
    return { name, itemId, spEdit, conflictId, quiet, shown: () => getConflict(h.ctx.meta, conflictId) };
  }

  it('edits made while it is open: the record shows them, and resolve takes what it showed', async () => {
    const c = await held();
    await h.db.pool.query(`UPDATE ${c.name} SET name = 'pg 2', budget = 20 WHERE id = 1`);
    await c.spEdit({ Title: 'sp 2' });
    await c.quiet();
    const shown = await c.shown();
    expect(shown).toMatchObject({ status: 'OPEN', deleted: null, fields: ['Title'] });
    expect(shown.postgresValues).toMatchObject({ Title: 'pg 2', Budget: 20 });
    expect(shown.sharepointValues).toMatchObject({ Title: 'sp 2', Budget: 10 });
    await resolveConflict(h.ctx, c.conflictId, { take: 'sharepoint' }, 'test');
    expect((await h.db.pool.query(`SELECT name, budget FROM ${c.name}`)).rows).toEqual([
      { name: 'sp 2', budget: '20.00' },
    ]);
  });

  it('a row deleted while it is open shows as deleted in Postgres, and as live again once inserted again', async () => {
    const c = await held();
    await h.db.pool.query(`DELETE FROM ${c.name} WHERE id = 1`);
    await c.quiet();
    expect(await c.shown()).toMatchObject({ deleted: 'POSTGRES', postgresValues: null });
    await h.db.pool.query(`INSERT INTO ${c.name} (id, name, budget) VALUES (1, 'back', 10)`);
    await c.quiet();
    const shown = await c.shown();
    expect(shown.deleted).toBeNull();
    expect(shown.postgresValues).toMatchObject({ Title: 'back' });
  });

  it('an item deleted while it is open shows as deleted in SharePoint', async () => {
    const c = await held();
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${c.name}/items/${c.itemId}`)).status).toBe(
      204,
    );
    await c.quiet();
    expect(await c.shown()).toMatchObject({ deleted: 'SHAREPOINT', sharepointValues: null });
    expect((await h.db.pool.query(`SELECT name FROM ${c.name}`)).rows).toEqual([{ name: 'pg' }]);
  });

  it('a dry run leaves the record as it was (it writes nothing anywhere)', async () => {
    const c = await held();
    await h.db.pool.query(`UPDATE ${c.name} SET name = 'pg 2' WHERE id = 1`);
    await h.db.pool.query(`DELETE FROM ${c.name} WHERE id = 1`);
    await c.spEdit({ Title: 'sp 2' });
    await previewPush(h.ctx, c.name, { trigger: 'test' });
    await previewPull(h.ctx, c.name, { trigger: 'test' });
    const shown = await c.shown();
    expect(shown.postgresValues).toMatchObject({ Title: 'pg' });
    expect(shown.sharepointValues).toMatchObject({ Title: 'sp' });
  });
});
