import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/index';
import { runBackfill } from '../../src/core/engine/backfill';
import { runPull } from '../../src/core/engine/pull';
import { runPush } from '../../src/core/engine/push';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../support/engineHarness';

/** `arcore-sync backfill` in process, against Postgres and the emulator (issue #22). */
describe('arcore-sync backfill', () => {
  let h: Harness;
  let env: Record<string, string>;
  let dir: string;

  async function cli(args: string[]) {
    let stdout = '';
    let stderr = '';
    let progress = '';
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => (progress += chunk.toString('utf8')));
    const code = await runCli(args, {
      io: { out: (t) => (stdout += `${t}\n`), err: (t) => (stderr += `${t}\n`) },
      env,
      cwd: dir,
      interactive: false,
      progressStream: stream,
    });
    return { code, stdout, stderr, progress };
  }

  beforeAll(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), 'arcore-backfill-cli-'));
    writeFileSync(join(dir, 'ca.pem'), h.emulator.caCert);
    env = {
      DATABASE_URL: h.db.url,
      GRAPH_BASE_URL: h.emulator.baseUrl,
      GRAPH_TOKEN: h.emulator.appToken,
      GRAPH_CA_CERT_FILE: join(dir, 'ca.pem'),
      GRAPH_RU_PER_MINUTE: '10000000',
    };
    await createProjectsTable(h.db);
    await h.define(projectsDefinition());
    await h.db.pool.query(
      "INSERT INTO projects (id, name, budget) SELECT i, 'p' || i, i FROM generate_series(1, 5) i",
    );
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    await runPull(h.ctx, 'projects', { trigger: 'test' });
    await h.db.pool.query('ALTER TABLE projects DISABLE TRIGGER USER');
    await h.db.pool.query('UPDATE projects SET budget = budget * 10 WHERE id <= 2');
    await h.db.pool.query('ALTER TABLE projects ENABLE TRIGGER USER');
  });
  afterAll(async () => h.close());

  it('exits 2 naming an unknown field and listing the valid ones; --fields is required', async () => {
    const bad = await cli(['backfill', 'projects', '--fields', 'Budget,Colour']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('maps no field "Colour"');
    expect(bad.stderr).toContain('valid fields: Title (column name), Budget (column budget)');
    const json = await cli(['backfill', 'projects', '--fields', 'Colour', '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { kind: 'invalid_input' }, exitCode: 2 });
    expect((await cli(['backfill', 'projects'])).code).toBe(2);
    expect((await cli(['backfill', 'projects', '--fields', 'budget', '--strategy', 'all'])).code).toBe(2);
  });

  it('--dry-run prints what would change; a run writes it, shows progress and counts; runs lists it', async () => {
    const dry = await cli(['backfill', 'projects', '--fields', 'budget', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('dry run: nothing was written');
    expect(dry.stdout).toContain('planned changes: 2');

    const run = await cli(['backfill', 'projects', '--fields', 'budget']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^backfill projects \(Budget; update_only, push\): SUCCEEDED in [\d.]+s \(run \d+\)$/m,
    );
    expect(run.stdout).toContain(
      'examined 5  updated 2  equal 3  skipped 0  created 0  conflicts 0  failed 0',
    );
    expect(run.progress).toContain('backfill projects');

    const json = await cli(['backfill', 'projects', '--fields', 'Budget', '--json', '--max-seconds', '60']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      runType: 'BACKFILL',
      complete: true,
      fields: ['Budget'],
      strategy: 'update_only',
      direction: 'push',
      examined: 5,
      updated: 0,
      equal: 5,
      created: 0,
      conflicts: 0,
      failed: 0,
    });
    const runs = await cli(['runs', 'projects', '--json']);
    expect((JSON.parse(runs.stdout) as { runs: { runType: string }[] }).runs[0].runType).toBe('BACKFILL');
  });
  it('status shows an unfinished backfill: fields, strategy, direction, progress, start, and how to continue or start over', async () => {
    // Batches of 2 rows, and a time budget spent after the first.
    await h.define(projectsDefinition({ source: timestampSource('projects', 2) }));
    const stopped = await runBackfill(h.ctx, 'projects', {
      fields: ['Title', 'budget'],
      strategy: 'full_resync',
      maxSeconds: 0.001,
      trigger: 'test',
    });
    expect(stopped).toMatchObject({ complete: false, examined: 2 });
    const json = await cli(['status', 'projects', '--json']);
    const command =
      'arcore-sync backfill projects --fields Title,Budget --strategy full_resync --direction push';
    expect(JSON.parse(json.stdout).backfill).toEqual({
      fields: ['Title', 'Budget'],
      strategy: 'full_resync',
      direction: 'push',
      done: 2,
      total: 5,
      counts: { examined: 2, updated: 0, equal: 2, skipped: 0, created: 0, conflicts: 0, failed: 0 },
      runs: 1,
      startedAt: expect.any(String),
      lastProgressAt: expect.any(String),
      waiting: 0,
      resume: command,
      restart: `${command} --restart`,
    });
    const text = await cli(['status', 'projects']);
    expect(text.stdout).toMatch(
      /^ {2}backfill unfinished: Title, Budget \(full_resync, push\), 2\/5 rows \(40%\), 1 run\(s\) since \S+, last progress \S+$/m,
    );
    expect(text.stdout).toContain(`    continue: ${command}\n    start over: ${command} --restart`);

    // Continued to the end, it is no longer shown.
    expect((await cli(command.split(' ').slice(1))).code).toBe(0);
    expect(JSON.parse((await cli(['status', 'projects', '--json'])).stdout).backfill).toBeNull();
    expect((await cli(['status', 'projects'])).stdout).not.toContain('backfill unfinished');
  });
});
