/**
 * r6: a definition whose source table changes (`apply`, "source-changed") keeps matching rows to items by key,
 * and says the next push writes "rows of the new source that differ from what was last synced". The new table's
 * rows are read from the old table's cursor position, so a row whose cursor value is older is never read.
 */
import { parseDefinition } from '../../../src/core/definition/parse';
import { applyDefinitions } from '../../../src/core/engine/apply';
import { provisionList } from '../../../src/core/engine/provision';
import { runPush } from '../../../src/core/engine/push';
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

describe('I14 a changed source table', () => {
  it('pushes the rows of the new table that differ from what was last synced', async () => {
    await createProjectsTable(h.db);
    const before = projectsDefinition({ fields: [{ source: 'name', target: 'Title' }] });
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
    expect(applied.definitions[0].changes.map((c) => c.kind)).toContain('source-changed');
    await provisionList(h.ctx, 'projects');

    const run = await runPush(h.ctx, 'projects', { trigger: 'test' });
    expect(run.status).toBe('SUCCEEDED');
    const titles = (await h.items('Projects')).map((i) => i.fields.Title).sort();
    expect(titles).toEqual(['a', 'b corrected', 'c']);
  });
});
