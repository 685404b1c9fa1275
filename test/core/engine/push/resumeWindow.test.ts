/**
 * I5b across time-sliced runs (docs/design.md, I5b; found by review C). A transaction stamps its row (the cursor
 * trigger's clock_timestamp()) and commits a few seconds later, well within `overlapSeconds`. A push stopped by its
 * time budget (run A) read the overlap window while the row was still invisible and kept the position it got to,
 * past the row. Its continuation (B) went on after that position, so it never read the row though it had
 * committed, moved the cursor to newer rows and dropped the kept position; the run after it re-read only the window
 * behind the new cursor. The row was never pushed and every run said SUCCEEDED. The window start of the cursor the
 * stopped run began with is now kept until a run has read from it again (push/resumePosition.ts). The stamps are
 * set by hand (what each transaction stamped), so the case does not depend on the machine's speed.
 */
import { probeIdle } from '../../../../src/core/engine/idle';
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

const titles = async (list = 'Projects') => (await h.items(list)).map((i) => i.fields.Title).sort();
const progress = async (name: string) =>
  (
    await h.db.pool.query<{ progress: string | null }>(
      `SELECT c.progress FROM arcore.sync_cursors c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = $1 AND c.scope = 'SOURCE'`,
      [name],
    )
  ).rows[0].progress;

describe('I5b (docs/design.md) late commits behind where a time-sliced run stopped', () => {
  it('a continuation stopped after it moved the cursor on keeps the owed window with the new cursor', async () => {
    await createProjectsTable(h.db, 'tasks');
    await h.define(
      projectsDefinition(
        {
          name: 'tasks',
          source: { ...timestampSource('tasks', 1), overlapSeconds: 60 },
          fields: [{ source: 'name', target: 'Title' }],
        },
        'Tasks',
      ),
    );
    // Stamps set by hand (the trigger off), seconds before now: what each transaction stamped.
    await h.db.pool.query(`ALTER TABLE tasks DISABLE TRIGGER ${cursorTriggerName('updated_at')}`);
    const insert = (id: number, name: string, secondsAgo: number) =>
      h.db.pool.query(
        `INSERT INTO tasks (id, name, updated_at) VALUES ($1, $2, now() - make_interval(secs => $3))`,
        [id, name, secondsAgo],
      );
    await insert(1, 'a', 1000);
    await insert(2, 'b', 999);
    await insert(3, 'c', 998);
    expect((await runPush(h.ctx, 'tasks', { trigger: 'test' })).created).toBe(3);
    // Run A: stopped after its first page of the window (from 1058 s ago), at row a.
    expect((await runPush(h.ctx, 'tasks', { trigger: 'test', maxSeconds: 0.001 })).complete).toBe(false);
    const keptAfterA = await progress('tasks');
    // A late commit behind where A got to, though inside its window; then newer rows, past the cursor's window.
    await insert(100, 'late', 1030);
    await insert(4, 'd', 500);
    await insert(5, 'e', 499);
    // Continuations, one page each: b, c (behind the cursor or at it), then d, which moves the cursor on.
    for (let i = 0; i < 3; i++)
      expect((await runPush(h.ctx, 'tasks', { trigger: 'test', maxSeconds: 0.001 })).complete).toBe(false);
    const keptAfterD = await progress('tasks');
    expect(await titles('Tasks')).toEqual(['a', 'b', 'c', 'd']);
    // Quiet table or not, the idle probe lets the next push run while a window re-read is owed.
    expect((await probeIdle(h.ctx, 'tasks'))?.busy).toEqual(expect.arrayContaining(['window re-read owed']));
    // The next run reads from the window A began with, not from d's (500 s ago, 530 s after the late row).
    const next = await runPush(h.ctx, 'tasks', { trigger: 'test' });
    expect({ status: next.status, complete: next.complete, titles: await titles('Tasks') }).toEqual({
      status: 'SUCCEEDED',
      complete: true,
      titles: ['a', 'b', 'c', 'd', 'e', 'late'],
    });
    // A kept its position and window start; the continuation that moved the cursor to d kept that window start
    // with it (no position: the next run does not continue); the run that read from it cleared it.
    const parse = (p: string | null) =>
      JSON.parse(String(p)) as { resume?: unknown; from?: string; cursor: string };
    const [a, d] = [parse(keptAfterA), parse(keptAfterD)];
    expect({
      a: { resume: a.resume !== undefined, from: a.from !== undefined },
      d: { resume: d.resume, from: d.from, key: (JSON.parse(d.cursor) as { key: unknown[] }).key },
      after: await progress('tasks'),
    }).toEqual({
      a: { resume: true, from: true },
      d: { resume: undefined, from: a.from, key: [4] },
      after: null,
    });
  }, 60_000);
});
