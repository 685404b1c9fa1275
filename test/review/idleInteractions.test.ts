/**
 * Review of the idle probe (I18) against the runs recorded beside pushes: a probe must never call idle a push
 * that would do something.
 */
import { probeIdle } from '../../src/core/engine/idle';
import { runPull } from '../../src/core/engine/pull';
import { runPush } from '../../src/core/engine/push';
import { resolveConflict } from '../../src/core/engine/resolve';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../support/engineHarness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

describe('idle probe and `resolve` (recorded as a PUSH run)', () => {
  it('a full delete comparison a stopped push left owed is continued after a conflict is resolved', async () => {
    const name = 'owed';
    await createProjectsTable(h.db, name);
    await h.define(
      projectsDefinition(
        {
          name,
          source: {
            table: name,
            key: ['id'],
            cursor: { type: 'TIMESTAMP', column: 'updated_at' },
            overlapSeconds: 0,
          },
          conflictPolicy: 'MANUAL',
          // No delete capture: the sweep runs on the first push, then not again today.
          deletes: { push: 'PROPAGATE', pull: 'PROPAGATE', truncate: 'PARK', checkIntervalSeconds: 86400 },
        },
        name,
      ),
    );
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name) SELECT g, 'row ' || g FROM generate_series(1, 3) g`,
    );
    const push = (trigger: 'test' | 'queue') => runPush(h.ctx, name, { trigger });
    const pull = () => runPull(h.ctx, name, { trigger: 'test' });
    expect(await push('test')).toMatchObject({ status: 'SUCCEEDED', created: 3 });
    await pull();
    // An open MANUAL conflict on row 1.
    const itemOf = async (title: string) =>
      (await h.items(name)).find((i) => i.fields.Title === title)?.id as string;
    const itemId = await itemOf('row 1');
    await h.db.pool.query(`UPDATE ${name} SET name = 'pg' WHERE id = 1`);
    const patched = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`, {
      Title: 'sp',
    });
    expect(patched.status).toBe(200);
    expect((await pull()).conflicts).toBe(1);
    expect(await push('test')).toMatchObject({ status: 'SUCCEEDED', created: 0, updated: 0 });
    const { rows: conflicts } = await h.db.pool.query<{ id: string }>(
      `SELECT c.id::text AS id FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = $1 AND c.status = 'OPEN'`,
      [name],
    );
    expect(conflicts).toHaveLength(1);

    // Row 3 goes, and a push stops by its time budget inside the full comparison for deletes (I8, I16): the
    // comparison is owed (deletes_full_position) and the run is recorded incomplete, as continueFullComparison
    // leaves them.
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 3`);
    await h.db.pool.query(
      `UPDATE arcore.sync_cursors c SET deletes_full_position = '' FROM arcore.sync_definitions d
        WHERE d.id = c.definition_id AND d.name = $1 AND c.scope = 'SOURCE'`,
      [name],
    );
    await h.db.pool.query(
      `UPDATE arcore.sync_runs SET details = coalesce(details, '{}'::jsonb)
              || '{"incomplete": "time budget spent comparing the ledger with the table for deletes"}'::jsonb
        WHERE id = (SELECT r.id FROM arcore.sync_runs r JOIN arcore.sync_definitions d ON d.id = r.definition_id
                     WHERE d.name = $1 AND r.run_type = 'PUSH' ORDER BY r.started_at DESC LIMIT 1)`,
      [name],
    );
    expect((await probeIdle(h.ctx, name))?.busy).toContain('last push not a recent success');

    // Resolving the conflict records a PUSH run (trigger resolve) that compares nothing.
    await resolveConflict(h.ctx, conflicts[0].id, { take: 'postgres' }, 'test');
    expect((await probeIdle(h.ctx, name))?.busy).toEqual([
      'last push not a recent success',
      'delete comparison owed',
    ]);
    const continued = await push('queue');
    expect(continued.idle).toBeUndefined();
    expect(continued).toMatchObject({ status: 'SUCCEEDED', deleted: 1 });
    expect((await h.items(name)).map((i) => String(i.fields.Title)).sort()).toEqual(['pg', 'row 2']);
  });
});
