/**
 * I5b, I16 together (docs/design.md; found by review r6). Each push re-reads the overlap window behind its stored
 * cursor, and a page inside the window does not move the cursor. A run whose time budget is spent before it gets
 * past that window (a bulk update put many rows in it, or a small RUN_MAX_SECONDS) used to leave its continuation
 * only the same cursor: every continuation re-read the same window and stopped again, rows after it never pushed.
 * The continuation now goes on where the stopped run got to (push/resumePosition.ts); a run after one that ended
 * reads the whole window again, from where the stopped run's began, so late commits are still caught.
 */
import { runPush } from '../../../../src/core/engine/push';
import { cursorTriggerName } from '../../../../src/core/source/postgres/PostgresSource';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../../../support/engineHarness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

const titles = async () => (await h.items('Projects')).map((i) => i.fields.Title).sort();
const progress = async () =>
  (
    await h.db.pool.query<{ progress: string | null }>(
      "SELECT progress FROM arcore.sync_cursors WHERE scope = 'SOURCE'",
    )
  ).rows[0].progress;

describe('I5b/I16 (docs/design.md) time-sliced pushes and the overlap window', () => {
  it('continuations make progress past the overlap window; the next full run re-reads it for late commits', async () => {
    await createProjectsTable(h.db);
    await h.define(
      projectsDefinition({
        source: { ...timestampSource('projects', 1), overlapSeconds: 3600 },
        fields: [{ source: 'name', target: 'Title' }],
      }),
    );
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    expect((await runPush(h.ctx, 'projects', { trigger: 'test' })).created).toBe(3);

    // A new row, then pushes whose time budget is spent after one page each (continuations, as the worker sends).
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (4, 'd')");
    const runs = [];
    for (let i = 0; i < 6; i++)
      runs.push(await runPush(h.ctx, 'projects', { trigger: 'test', maxSeconds: 0.001 }));
    expect(runs.map((r) => r.status)).toEqual(Array(6).fill('SUCCEEDED'));
    expect({ titles: await titles(), someRunCompleted: runs.some((r) => r.complete) }).toEqual({
      titles: ['a', 'b', 'c', 'd'],
      someRunCompleted: true,
    });
    // The runs after the one that ended began a new pass over the window and stopped in it: it is kept.
    expect(await progress()).toMatch(/"resume"/);

    // A late commit: a row whose cursor value lies inside the window, behind where that pass got to.
    const trigger = cursorTriggerName('updated_at');
    await h.db.pool.query(`ALTER TABLE projects DISABLE TRIGGER ${trigger}`);
    await h.db.pool.query(
      "INSERT INTO projects (id, name, updated_at) VALUES (5, 'late', now() - interval '10 minutes')",
    );
    await h.db.pool.query(`ALTER TABLE projects ENABLE TRIGGER ${trigger}`);
    // The continuation ends the pass: the kept position goes, the window start the stopped pass began with stays
    // owed (resumeWindow.test.ts); the next run reads the whole window again and clears it.
    const ends = await runPush(h.ctx, 'projects', { trigger: 'test' });
    expect(await progress()).toMatch(/^(?!.*"resume").*"from"/);
    const next = await runPush(h.ctx, 'projects', { trigger: 'test' });
    expect(await progress()).toBeNull();
    expect(ends.created + next.created).toBe(1);
    expect(await titles()).toEqual(['a', 'b', 'c', 'd', 'late']);
  });
});
