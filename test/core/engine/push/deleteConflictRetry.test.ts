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
 * A Postgres delete found by its tombstone whose If-Match delete meets a 412 is settled by settleDeleteConflict
 * (push/conflicts.ts). When that settle's own delete fails too, the entry is parked and its tombstone kept; the next
 * push's retry of the parked row finds it gone and deletes its item (push.ts): the delete stays owed until it
 * applies (I8, I5c). Found by review.
 */
describe('I8 a delete found by its tombstone whose retry after a 412 fails stays owed (docs/design.md, I8, I5c)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('is retried until the item is deleted', async () => {
    const name = 'rv_delc';
    await createProjectsTable(h.db, name);
    const input = projectsDefinition(
      { name, source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } } },
      name,
    );
    await h.define(input);
    await installCursorFor(parseDefinition(input), h.db.pool);
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10), (2, 'two', 20)`);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 2 });

    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    // The item keeps changing in SharePoint while the push deletes it: the If-Match delete and the settle's
    // delete after reading the item both meet a 412 (as SharePoint answers for an item edited meanwhile).
    h.emulator.control.injectFault({ method: 'DELETE', count: 2, status: 412 });
    const first = await push();
    expect(first.status).toBe('PARTIAL'); // the delete failed and was parked
    const second = await push();
    const third = await push();

    const titles = (await h.items(name)).map((i) => i.fields.Title).sort();
    const tombstones = Number(
      (await h.db.pool.query(`SELECT count(*) AS n FROM ${tombstoneTableName(name)}`)).rows[0].n,
    );
    const parked = Number(
      (await h.db.pool.query(`SELECT count(*) AS n FROM arcore.sync_failures WHERE status = 'PARKED'`))
        .rows[0].n,
    );
    // The row is gone, so a later push deletes its item; nothing stays owed after that.
    expect({ titles, deletedLater: second.deleted + third.deleted, tombstones, parked }).toEqual({
      titles: ['two'],
      deletedLater: 1,
      tombstones: 0,
      parked: 0,
    });
  });
});
