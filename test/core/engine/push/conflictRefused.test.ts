import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../../support/engineHarness';

/**
 * A push whose If-Match write meets a 412 settles the pair (push/conflicts.ts). When the decision writes SharePoint's
 * values into Postgres (an update, or a deleted row brought back) and Postgres refuses them (a varchar(10) column, a
 * CHECK, a NOT NULL), that row is parked naming the refusal; the page commits and later changes keep flowing
 * (I12, I5c, "never loop"). Found by review.
 */
describe('I12 a Postgres refusal while the push settles a 412 (docs/design.md, I12)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('parks the row and keeps pushing the rest of the table', async () => {
    const name = 'rv_refuse';
    await createProjectsTable(h.db, name);
    await h.db.pool.query(`ALTER TABLE ${name} ALTER COLUMN name TYPE varchar(10)`);
    await h.define(
      projectsDefinition(
        {
          name,
          source: {
            table: name,
            key: ['id'],
            cursor: { type: 'TIMESTAMP', column: 'updated_at' },
            pageSize: 1,
          },
        },
        name,
      ),
    );
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10), (2, 'two', 20), (3, 'three', 30)`,
    );
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    const pull = () => runPull(h.ctx, name, { trigger: 'test' });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 3 });
    await pull();

    // Ordinary two-way editing: a SharePoint user renames item 1 (SharePoint takes 255 characters), while
    // Postgres changes row 1's budget. Different fields: not even a conflict (I7, FIELD detection).
    const item1 = (await h.items(name)).find((i) => i.fields.Title === 'one')!;
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item1.id}/fields`, {
      Title: 'a much longer title',
    });
    expect(res.status).toBe(200);
    await h.db.pool.query(`UPDATE ${name} SET budget = 11 WHERE id = 1`);
    const first = await push();

    // Later, unrelated rows change in Postgres, one after the other.
    await h.db.pool.query(`UPDATE ${name} SET budget = 21 WHERE id = 2`);
    await h.db.pool.query(`UPDATE ${name} SET budget = 31 WHERE id = 3`);
    const second = await push();
    // A pull in between changes nothing: it parks item 1 (Postgres refuses the title) and leaves the pair as is.
    const pulled = await pull();
    const third = await push();
    const budgets = Object.fromEntries((await h.items(name)).map((i) => [i.id, i.fields.Budget]));

    // Expected (I12): row 1 is parked with Postgres's message, the rest of the table keeps flowing.
    expect({
      first: first.status,
      second: second.status,
      third: third.status,
      error: third.error,
      pull: pulled.status,
      budgets,
    }).toEqual({
      first: 'PARTIAL',
      second: expect.stringMatching(/SUCCEEDED|PARTIAL/),
      third: expect.stringMatching(/SUCCEEDED|PARTIAL/),
      error: null,
      pull: 'PARTIAL',
      budgets: { [item1.id]: 10, '2': 21, '3': 31 },
    });
    const parked = await h.db.pool.query<{ e: string }>(
      "SELECT last_error AS e FROM arcore.sync_failures WHERE direction = 'PUSH' AND status = 'PARKED'",
    );
    expect(parked.rows.map((r) => r.e)).toEqual([
      expect.stringMatching(/Postgres refuses the values decided for this row .*value too long/),
    ]);
  });

  it('a row deleted in Postgres whose edited item DESTINATION_WINS brings back, refused by Postgres, is held as one open conflict', async () => {
    const name = 'rv_refuse_del';
    await createProjectsTable(h.db, name);
    // A column the definition does not map, which the application always fills (NOT NULL, no default).
    await h.db.pool.query(`ALTER TABLE ${name} ADD COLUMN owner text NOT NULL DEFAULT 'app'`);
    await h.db.pool.query(`ALTER TABLE ${name} ALTER COLUMN owner DROP DEFAULT`);
    await h.define(
      projectsDefinition(
        {
          name,
          source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
          conflictPolicy: 'DESTINATION_WINS',
        },
        name,
      ),
    );
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name, budget, owner) VALUES (1, 'one', 10, 'ann'), (2, 'two', 20, 'bob')`,
    );
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 2 });
    const item1 = (await h.items(name)).find((i) => i.fields.Title === 'one')!;
    expect(
      (await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item1.id}/fields`, { Budget: 15 }))
        .status,
    ).toBe(200);
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    const runs = [await push(), await push(), await push()];
    const conflicts = await h.db.pool.query<{ status: string; reason: string }>(
      `SELECT c.status, c.reason FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = $1`,
      [name],
    );
    // I12: the row that cannot be brought back is held as one open conflict naming the refusal; runs go on; the
    // item (with its SharePoint edit) stays.
    expect({
      statuses: runs.map((r) => r.status),
      error: runs[2].error,
      conflicts: conflicts.rows,
      kept: (await h.items(name)).some((i) => i.id === item1.id),
    }).toEqual({
      statuses: [
        'PARTIAL',
        expect.stringMatching(/SUCCEEDED|PARTIAL/),
        expect.stringMatching(/SUCCEEDED|PARTIAL/),
      ],
      error: null,
      conflicts: [
        {
          status: 'OPEN',
          reason: expect.stringMatching(
            /Postgres refuses to bring the row back .*null value in column "owner"/,
          ),
        },
      ],
      kept: true,
    });
  });
});
