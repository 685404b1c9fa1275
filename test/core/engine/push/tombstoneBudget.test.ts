import { parseDefinition } from '../../../../src/core/definition/parse';
import { runPush } from '../../../../src/core/engine/push';
import { installCursorFor } from '../../../../src/core/ops';
import { tombstoneTableName } from '../../../../src/core/source/postgres/tombstones';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../../support/engineHarness';

/**
 * I16: the page loop, the full delete comparison and the tombstones all stop at the run's time budget
 * (push/deletes.ts consumeTombstones): a mass delete (a purge of N rows) is applied a chunk of tombstones at a time,
 * the run says it is incomplete and the next push applies the rest, instead of one run writing them all far past
 * RUN_MAX_SECONDS while holding the definition's lock. Found by review.
 */
describe('I16 tombstones are consumed within the run time budget (docs/design.md, I8, I16)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('a run whose budget is spent applies at most one chunk of tombstones and says it is incomplete', async () => {
    const name = 'rv_tbud';
    await createProjectsTable(h.db, name);
    const input = projectsDefinition(
      { name, source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } } },
      name,
    );
    await h.define(input);
    await installCursorFor(parseDefinition(input), h.db.pool);
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name) SELECT g, 'r' || g FROM generate_series(1, 1100) g`,
    );
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      created: 1100,
    });

    await h.db.pool.query(`DELETE FROM ${name}`);
    // A run whose time budget is spent from the start (as after a long page loop).
    const run = await runPush(h.ctx, name, { trigger: 'test', maxSeconds: 0.001 });
    const left = Number(
      (await h.db.pool.query(`SELECT count(*) AS n FROM ${tombstoneTableName(name)}`)).rows[0].n,
    );
    expect({
      complete: run.complete,
      deletedAtMost1000: run.deleted <= 1000,
      tombstonesLeft: left > 0,
    }).toEqual({
      complete: false,
      deletedAtMost1000: true,
      tombstonesLeft: true,
    });
  });
});
