import { runPush } from '../../../src/core/engine/push';
import { installCursorFor } from '../../../src/core/ops';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';
import { parseDefinition } from '../../../src/core/definition/parse';

/**
 * Review r5: under LAST_WRITER_WINS, a row deleted in Postgres after its item was edited in SharePoint meets a 412,
 * and push/conflicts.ts settleDeleteConflict decides without the delete's time (no postgresModifiedAt), so
 * conflict/resolve.ts lastWriter always has "Postgres has no modification time" and SharePoint wins: the row the
 * user deleted last comes back. The delete-capture tombstone records when the row was deleted (deleted_at).
 */
describe('I7/I8 LAST_WRITER_WINS: a delete made after the SharePoint edit wins', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('deletes the item instead of bringing the row back', async () => {
    const name = 'r5lww';
    await createProjectsTable(h.db, name);
    const input = projectsDefinition(
      {
        name,
        source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
        conflictPolicy: 'LAST_WRITER_WINS',
      },
      name,
    );
    await h.define(input);
    await installCursorFor(parseDefinition(input), h.db.pool);
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10)`);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    const item = (await h.items(name))[0];

    // SharePoint edits the item first; then, later, Postgres deletes the row.
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
      Budget: 15,
    });
    expect(edit.status).toBe(200);
    const [edited] = h.emulator.control.listItems(h.siteId, name);
    const modified = edited.lastModifiedDateTime;
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    const { rows: deleted } = await h.db.pool.query<{ later: boolean }>(
      `SELECT max(deleted_at) >= $1::timestamptz AS later FROM arcore_${name}_deleted`,
      [modified],
    );
    expect(deleted[0].later).toBe(true);

    const run = await push();
    const { rows } = await h.db.pool.query(`SELECT id FROM ${name}`);
    const { rows: recorded } = await h.db.pool.query<{ reason: string }>(
      `SELECT c.reason FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = $1`,
      [name],
    );
    expect({
      conflicts: run.conflicts,
      reason: recorded[0]?.reason,
      rows: rows.length,
      items: (await h.items(name)).length,
    }).toEqual({
      conflicts: 1,
      reason: expect.stringContaining('Postgres was modified last'),
      rows: 0,
      items: 0,
    });
  });
});
