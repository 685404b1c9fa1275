/**
 * I5 cursor safety needs the cursor column to move on every update (docs/design.md, "Decisions worth knowing":
 * install-cursor's trigger). After that trigger was dropped or disabled (a migration tool re-creating the table's
 * triggers, a restore), updates stopped reaching SharePoint while every run said SUCCEEDED with no warning. The
 * trigger's function outlives it, so a push (in the query that already reads the delete capture), the idle probe
 * (in its one statement, I18), `status` and `validate` now say so and name `install-cursor`, which puts the trigger
 * back and makes the next push read the table again for the updates made meanwhile.
 */
import { parseDefinition } from '../../../../src/core/definition/parse';
import { validateAgainstDatabase } from '../../../../src/core/definition/validateLive';
import { probeIdle } from '../../../../src/core/engine/idle';
import { runPush } from '../../../../src/core/engine/push';
import { definitionStatus, installCursor } from '../../../../src/core/ops';
import { formatRunSummary } from '../../../../src/cli/output';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../../support/engineHarness';

describe('I5 the cursor trigger install-cursor put on the table is gone or disabled', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
  });
  afterEach(async () => h.close());

  const input = () =>
    projectsDefinition({
      source: {
        table: 'projects',
        key: ['id'],
        cursor: { type: 'TIMESTAMP', column: 'updated_at' },
        overlapSeconds: 0,
      },
      fields: [{ source: 'name', target: 'Title' }],
    });
  const push = (full = true) => runPush(h.ctx, 'projects', { trigger: 'cli', full });
  const titles = async () => (await h.items('Projects')).map((i) => i.fields.Title).sort();

  it('an update after the trigger was dropped: the run, status and validate warn; install-cursor recovers it', async () => {
    await h.define(input());
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'a'), (2, 'b')");
    const first = await push();
    expect(first).toMatchObject({ status: 'SUCCEEDED', created: 2 });
    expect(first.warnings).toBeUndefined();
    expect((await probeIdle(h.ctx, 'projects'))?.busy).not.toContain('cursor trigger changed');

    await h.db.pool.query('DROP TRIGGER arcore_touch_updated_at ON projects');
    // The probe hands over to a run, which says what it found (no extra statement: the same one).
    expect((await probeIdle(h.ctx, 'projects'))?.busy).toContain('cursor trigger changed');
    await h.db.pool.query("UPDATE projects SET name = 'a edited' WHERE id = 1");
    const blind = await push();
    expect(blind.status).toBe('SUCCEEDED');
    expect(blind.warnings).toEqual([
      expect.stringMatching(
        /arcore_touch_updated_at\) is missing or disabled: updates no longer move the column.*Next step: "arcore-sync install-cursor projects"/,
      ),
    ]);
    expect(formatRunSummary(blind)).toContain('  warning: the trigger keeping cursor column "updated_at"');
    const { rows } = await h.db.pool.query('SELECT details FROM arcore.sync_runs WHERE id = $1', [
      blind.runId,
    ]);
    expect(rows[0].details.sourceWarnings).toEqual(blind.warnings);
    const [status] = await definitionStatus(h.db.pool, 'projects');
    expect(status.sourceWarnings).toEqual(blind.warnings);
    const live = await validateAgainstDatabase(parseDefinition(input()), h.db.pool);
    expect(live.warnings).toEqual([
      expect.objectContaining({
        path: 'source.cursor.column',
        message: expect.stringContaining('Next step: "arcore-sync install-cursor projects"'),
      }),
    ]);
    expect(await titles()).toEqual(['a', 'b']);

    // install-cursor puts the trigger back and the next push reads the table again: the update arrives.
    const installed = await installCursor(h.db.pool, () => h.db.pool, 'projects');
    expect(installed.parts.find((p) => p.part === 'trigger')?.status).toBe('added');
    expect(installed.rereading).toEqual(['projects']);
    const recovered = await push();
    expect(recovered).toMatchObject({ status: 'SUCCEEDED', updated: 1 });
    expect(recovered.warnings).toBeUndefined();
    expect(await titles()).toEqual(['a edited', 'b']);
    expect((await definitionStatus(h.db.pool, 'projects'))[0].sourceWarnings).toEqual([]);
    expect((await validateAgainstDatabase(parseDefinition(input()), h.db.pool)).warnings).toEqual([]);
  }, 60_000);

  it('a disabled trigger (or one firing for replicas only) counts as gone', async () => {
    await h.define(input());
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'a')");
    await push();
    await h.db.pool.query('ALTER TABLE projects DISABLE TRIGGER arcore_touch_updated_at');
    expect((await push()).warnings).toHaveLength(1);
    await h.db.pool.query('ALTER TABLE projects ENABLE REPLICA TRIGGER arcore_touch_updated_at');
    expect((await push()).warnings).toHaveLength(1);
    await h.db.pool.query('ALTER TABLE projects ENABLE TRIGGER arcore_touch_updated_at');
    expect((await push()).warnings).toBeUndefined();
  }, 60_000);

  it('a table whose cursor column its own trigger keeps (no function of install-cursor) is not warned about', async () => {
    await h.db.pool.query('DROP TRIGGER arcore_touch_updated_at ON projects');
    await h.db.pool.query('DROP FUNCTION arcore_touch_projects_updated_at()');
    await h.define(input());
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'a')");
    expect((await push()).warnings).toBeUndefined();
  });
});
