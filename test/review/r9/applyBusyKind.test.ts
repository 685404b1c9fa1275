import { parseDefinition } from '../../../src/core/definition/parse';
import { applyDefinitions } from '../../../src/core/engine/apply';
import { runPush } from '../../../src/core/engine/push';
import { errorKindOf, hintFor } from '../../../src/core/errors/classify';
import { tryLockDefinition } from '../../../src/core/store/locks';
import { exitCodeOf } from '../../../src/cli/failures';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../../support/engineHarness';

/**
 * Review r9: `apply` of a source-table change (or a realigned field, a routes change) while a run holds the
 * definition throws DefinitionBusyForApplyError. It declares no error kind and classify.ts does not name it, so it
 * is classified `internal`: `--json` says `"kind": "internal"` and the CLI's next step reads "this is unexpected:
 * run again with -v and report the message with the run id" for what docs/cli.md's table calls `busy` ("something
 * must end first … run again once it ended").
 */
describe('apply while a run holds the definition', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('fails as busy, with the next step of a busy failure', async () => {
    const before = projectsDefinition({ fields: [{ source: 'name', target: 'Title' }] });
    await createProjectsTable(h.db);
    await h.define(before);
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'a')");
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    await h.db.pool.query('CREATE TABLE projects_v2 (LIKE projects INCLUDING ALL)');
    const after = parseDefinition({ ...before, source: timestampSource('projects_v2') });

    const { rows } = await h.db.pool.query<{ id: string }>(
      "SELECT id::text AS id FROM arcore.sync_definitions WHERE name = 'projects'",
    );
    const lock = await tryLockDefinition(h.db.pool, rows[0].id);
    let thrown: unknown;
    try {
      await applyDefinitions(h.db.pool, [after]).catch((err: unknown) => (thrown = err));
    } finally {
      await lock?.release();
    }
    expect((thrown as Error).name).toBe('DefinitionBusyForApplyError');
    expect({ kind: errorKindOf(thrown), exit: exitCodeOf(errorKindOf(thrown)) }).toEqual({
      kind: 'busy',
      exit: 3,
    });
    expect(hintFor(thrown)).not.toMatch(/unexpected/);
  });
});
