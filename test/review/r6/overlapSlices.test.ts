/**
 * r6: I5b and I16 together. Each push re-reads the overlap window behind the stored cursor, and a page inside the
 * window does not move the cursor. A run whose time budget is spent within the window (a bulk update put many rows
 * in it, or a small RUN_MAX_SECONDS) stops there; its continuation starts from the same cursor, re-reads the same
 * window and stops again: rows after it are never pushed, and every continuation reports `complete: false`.
 */
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

describe('I5b, I16 time-sliced pushes and the overlap window', () => {
  it('continuations make progress past the overlap window', async () => {
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
    const titles = (await h.items('Projects')).map((i) => i.fields.Title).sort();
    expect({ titles, someRunCompleted: runs.some((r) => r.complete) }).toEqual({
      titles: ['a', 'b', 'c', 'd'],
      someRunCompleted: true,
    });
  });
});
