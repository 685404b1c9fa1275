import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

const CHILD = join(__dirname, '..', '..', 'support', 'engineChild.ts');

/** Starts a push or pull in a child process and SIGKILLs it once `killWhen` is true. */
async function killMidRun(
  h: Harness,
  direction: 'push' | 'pull',
  killWhen: () => Promise<boolean>,
): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'arcore-crash-'));
  const ca = join(dir, 'ca.pem');
  writeFileSync(ca, h.emulator.caCert);
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, direction, 'projects'], {
    env: {
      ...process.env,
      DATABASE_URL: h.db.url,
      GRAPH_BASE_URL: h.emulator.baseUrl,
      GRAPH_TOKEN: h.emulator.appToken,
      GRAPH_CA_CERT_FILE: ca,
      GRAPH_RU_PER_MINUTE: '10000000',
      GRAPH_MAX_CONCURRENCY: '2',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let killed = false;
  for (let i = 0; i < 600 && child.exitCode === null; i++) {
    if (await killWhen()) {
      child.kill('SIGKILL');
      killed = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const code = await exited;
  if (!killed && code !== 0) throw new Error(`child failed (${code}): ${stderr}`);
  return killed;
}

describe('I6 crash safety (a real SIGKILL)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
    await h.define(
      projectsDefinition({
        source: {
          table: 'projects',
          key: ['id'],
          cursor: { type: 'TIMESTAMP', column: 'updated_at' },
          pageSize: 40,
        },
      }),
    );
  });
  afterEach(async () => h.close());

  it('a push killed mid-run leaves, after a rerun, exactly one item per row', async () => {
    await h.db.pool.query(
      "INSERT INTO projects (id, name) SELECT g, 'p' || g FROM generate_series(1, 400) g",
    );
    h.emulator.control.setLatency(40);
    const killed = await killMidRun(h, 'push', async () => (await h.items('Projects')).length >= 60);
    h.emulator.control.setLatency(0);
    expect(killed).toBe(true);
    const partial = (await h.items('Projects')).length;
    expect(partial).toBeLessThan(400);
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
    h.emulator.control.setLatency(60);
    const countEdited = async () =>
      Number((await h.db.pool.query("SELECT count(*) FROM projects WHERE name LIKE '%!'")).rows[0].count);
    const killed = await killMidRun(h, 'pull', async () => (await countEdited()) > 0);
    h.emulator.control.setLatency(0);
    expect(killed).toBe(true);
    expect(await countEdited()).toBeLessThan(300);
    const rerun = await runPull(h.ctx, 'projects', { trigger: 'test' });
    expect(rerun.failed).toBe(0);
    expect(await countEdited()).toBe(300);
    expect(Number((await h.db.pool.query('SELECT count(*) FROM projects')).rows[0].count)).toBe(300);
    const quiet = await runPush(h.ctx, 'projects', { trigger: 'test' });
    expect(quiet.created + quiet.updated).toBe(0);
  }, 120000);
});
