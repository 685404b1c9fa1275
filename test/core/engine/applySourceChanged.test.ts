/**
 * I5, I14 (docs/design.md, "Definitions evolve safely"; found by review r6): a definition whose source table (or
 * cursor column) changes keeps matching rows to items by key, and `apply` says the next push writes the rows that
 * differ from what was last synced. The stored keyset cursor is a position in the old table's column: read from
 * it, the new table's rows whose cursor value is older would never be read. `apply` restarts the cursor.
 */
import { parseDefinition } from '../../../src/core/definition/parse';
import { applyDefinitions, DefinitionBusyForApplyError } from '../../../src/core/engine/apply';
import { errorKindOf, hintFor } from '../../../src/core/errors/classify';
import { exitCodeOf } from '../../../src/cli/failures';
import { provisionList } from '../../../src/core/engine/provision';
import { runPush } from '../../../src/core/engine/push';
import { tryLockDefinition } from '../../../src/core/store/locks';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../../support/engineHarness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

const titles = async () => (await h.items('Projects')).map((i) => i.fields.Title).sort();

describe('I5/I14 (docs/design.md) a changed source table or cursor column', () => {
  const before = projectsDefinition({ fields: [{ source: 'name', target: 'Title' }] });

  it('pushes the rows of the new table that differ from what was last synced', async () => {
    await createProjectsTable(h.db);
    await h.define(before);
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'a'), (2, 'b')");
    expect((await runPush(h.ctx, 'projects', { trigger: 'test' })).created).toBe(2);

    // The application moves to a new table (copied with its timestamps, one row corrected on the way, one row
    // that only the new table has); the definition follows it.
    await h.db.pool.query('CREATE TABLE projects_v2 (LIKE projects INCLUDING ALL)');
    await h.db.pool.query(
      `INSERT INTO projects_v2 (id, name, updated_at) VALUES
         (1, 'a', now() - interval '1 day'), (2, 'b corrected', now() - interval '1 day'),
         (3, 'c', now() - interval '1 day')`,
    );
    const after = parseDefinition({ ...before, source: timestampSource('projects_v2') });
    const applied = await applyDefinitions(h.db.pool, [after]);
    const changed = applied.definitions[0].changes.find((c) => c.kind === 'source-changed');
    expect(changed?.effect).toMatch(/reads every row of the source again/);
    await provisionList(h.ctx, 'projects');

    const run = await runPush(h.ctx, 'projects', { trigger: 'test' });
    expect(run.status).toBe('SUCCEEDED');
    expect(await titles()).toEqual(['a', 'b corrected', 'c']);
    // The unchanged row is an echo of the ledger (I3): one update, one create, nothing else written.
    expect({ created: run.created, updated: run.updated }).toEqual({ created: 1, updated: 1 });
  });

  it('a cursor column change re-reads too; apply waits for a run in progress', async () => {
    // A second timestamp column, older than the stored cursor's position minus the overlap window.
    await h.db.pool.query(
      "ALTER TABLE projects_v2 ADD COLUMN changed_at timestamptz NOT NULL DEFAULT now() - interval '2 days'",
    );
    await h.db.pool.query(
      "UPDATE projects_v2 SET name = 'c corrected', changed_at = now() - interval '2 days' WHERE id = 3",
    );
    const after = parseDefinition({
      ...before,
      source: { table: 'projects_v2', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'changed_at' } },
    });
    const { rows } = await h.db.pool.query<{ id: string }>(
      "SELECT id::text AS id FROM arcore.sync_definitions WHERE name = 'projects'",
    );
    const lock = await tryLockDefinition(h.db.pool, rows[0].id);
    let busy: unknown;
    try {
      busy = await applyDefinitions(h.db.pool, [after]).catch((err: unknown) => err);
    } finally {
      await lock?.release();
    }
    expect(busy).toBeInstanceOf(DefinitionBusyForApplyError);
    // I16 (docs/design.md): being busy is never a failure: exit 3 (the ops API 409) with a busy next step, not
    // `internal` with "this is unexpected" (found by review r9).
    expect({ kind: errorKindOf(busy), exit: exitCodeOf(errorKindOf(busy)) }).toEqual({
      kind: 'busy',
      exit: 3,
    });
    expect(hintFor(busy)).toMatch(/apply again once the run has ended/);
    const applied = await applyDefinitions(h.db.pool, [after]);
    const changed = applied.definitions[0].changes.find((c) => c.path === 'source.cursor');
    expect(changed?.effect).toMatch(/reads every row of the source again/);

    expect((await runPush(h.ctx, 'projects', { trigger: 'test' })).updated).toBe(1);
    expect(await titles()).toEqual(['a', 'b corrected', 'c corrected']);
  });
});
