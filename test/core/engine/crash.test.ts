import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { killWhen, lockReleased, spawnEngineChild } from '../../support/engineChild';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../../support/engineHarness';

describe('I6 crash safety (a real SIGKILL)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
    await h.define(projectsDefinition({ source: timestampSource('projects', 40) }));
  });
  afterEach(async () => h.close());

  it('a push killed mid-run leaves, after a rerun, exactly one item per row', async () => {
    await h.db.pool.query(
      "INSERT INTO projects (id, name) SELECT g, 'p' || g FROM generate_series(1, 400) g",
    );
    h.emulator.control.setLatency(40);
    const killed = await killWhen(
      spawnEngineChild(h, ['push', 'projects']),
      async () => (await h.items('Projects')).length >= 60,
    );
    h.emulator.control.setLatency(0);
    expect(killed).toBe(true);
    const partial = (await h.items('Projects')).length;
    expect(partial).toBeLessThan(400);
    await lockReleased(h, 'projects');
    const rerun = await runPush(h.ctx, 'projects', { trigger: 'test' });
    expect(rerun.failed).toBe(0);
    const items = await h.items('Projects');
    expect(items).toHaveLength(400);
    expect(new Set(items.map((i) => i.fields.Title)).size).toBe(400);
    expect((await runPush(h.ctx, 'projects', { trigger: 'test' })).created).toBe(0);
  }, 120000);

  it('a pull killed in the middle of a delta feed loses and duplicates nothing', async () => {
    await h.db.pool.query(
      "INSERT INTO projects (id, name) SELECT g, 'p' || g FROM generate_series(1, 300) g",
    );
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    await runPull(h.ctx, 'projects', { trigger: 'test' });
    const items = await h.items('Projects');
    for (const item of items) {
      const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${item.id}/fields`, {
        Title: `${String(item.fields.Title)}!`,
      });
      expect(res.status).toBe(200);
    }
    // The feed is two pages (200 items each at most): the first is answered at once, the second only after 5 s, so
    // the kill lands between the first page's commit and the second's however loaded the machine (a uniform latency
    // left a window of one request, which a pipelined pull could close before the test's poll saw the first page).
    const delta = { method: 'GET', pathPattern: '/items/delta$', count: 1 };
    h.emulator.control.injectFault({ ...delta, latencyMs: 0 });
    h.emulator.control.injectFault({ ...delta, latencyMs: 5_000 });
    const countEdited = async () =>
      Number((await h.db.pool.query("SELECT count(*) FROM projects WHERE name LIKE '%!'")).rows[0].count);
    const killed = await killWhen(
      spawnEngineChild(h, ['pull', 'projects']),
      async () => (await countEdited()) > 0,
    );
    h.emulator.control.clearFaults();
    expect(killed).toBe(true);
    expect(await countEdited()).toBeLessThan(300);
    await lockReleased(h, 'projects');
    const rerun = await runPull(h.ctx, 'projects', { trigger: 'test' });
    expect(rerun.failed).toBe(0);
    expect(await countEdited()).toBe(300);
    expect(Number((await h.db.pool.query('SELECT count(*) FROM projects')).rows[0].count)).toBe(300);
    const quiet = await runPush(h.ctx, 'projects', { trigger: 'test' });
    expect(quiet.created + quiet.updated).toBe(0);
  }, 120000);
});
