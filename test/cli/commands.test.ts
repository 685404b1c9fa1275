import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { runCli as runCliInProcess } from '../../src/cli/index';
import { installCursorTrigger } from '../../src/core/source/postgres/PostgresSource';
import { startEmulator, type RunningEmulator } from '../../src/emulator';
import { freshDatabase, type TestDatabase } from '../support/db';
import { exitOf, jsonOf, runCli, spawnCli, tempDir, waitForLine, writeJson, type CliEnv } from './cliHarness';

const SITE = 'contoso.sharepoint.com:/sites/demo';

const definitionsFile = {
  definitions: [
    {
      name: 'projects',
      source: { table: 'projects', key: ['id'], cursor: { column: 'updated_at' } },
      target: { site: SITE, list: 'Projects' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'budget', target: 'Budget' },
      ],
      conflictPolicy: 'SOURCE_WINS',
    },
    {
      name: 'tasks',
      source: { table: 'tasks', key: ['id'], cursor: { column: 'updated_at' } },
      target: { site: SITE, list: 'Tasks' },
      fields: [{ source: 'title', target: 'Title' }],
      conflictPolicy: 'MANUAL',
    },
  ],
};

/**
 * Every command as a real child process against one embedded Postgres database and one emulator,
 * in the order a user meets them: migrate, validate, apply, provision, push, pull, sync, failures,
 * conflicts and resolve, status, runs, reset-cursor; then the long-running emulator and serve.
 */
// A test here starts the command up to eight times, each a node process that loads the CLI and connects to
// Postgres: well under 60 s on a quiet machine, but on two cores shared with other jobs (load 15+) a start can take
// 8 s and two tests ran past 60 s. Nothing is timed; the limit only has to let eight starts finish.
jest.setTimeout(180_000);

describe('arcore-sync commands against Postgres and the emulator', () => {
  let db: TestDatabase;
  let emulator: RunningEmulator;
  let dispatcher: Agent;
  let dir: string;
  let env: CliEnv;
  let file: string;

  async function asAlice(method: string, path: string, body?: unknown): Promise<number> {
    const response = await fetch(`${emulator.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${emulator.userToken('alice')}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher,
    } as RequestInit);
    await response.text();
    return response.status;
  }

  async function itemPath(definition: string, rowId: number): Promise<string> {
    const { rows } = await db.pool.query<{ sp_list_id: string; sp_item_id: string }>(
      `SELECT l.sp_list_id, l.sp_item_id FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
        WHERE d.name = $1 AND l.source_identity->>'id' = $2`,
      [definition, String(rowId)],
    );
    return `/sites/${emulator.control.getSiteId(SITE)}/lists/${rows[0].sp_list_id}/items/${rows[0].sp_item_id}`;
  }

  beforeAll(async () => {
    db = await freshDatabase();
    await db.pool.query(`CREATE TABLE projects (id int PRIMARY KEY, name text NOT NULL, budget numeric(12,2),
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await db.pool.query(`CREATE TABLE tasks (id int PRIMARY KEY, title text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(db.pool, 'public', 'projects', 'updated_at');
    await installCursorTrigger(db.pool, 'public', 'tasks', 'updated_at');
    await db.pool.query(
      `INSERT INTO projects (id, name, budget) SELECT i, 'Project ' || i, i * 100.5 FROM generate_series(1, 20) i`,
    );
    await db.pool.query(`INSERT INTO tasks (id, title) SELECT i, 'Task ' || i FROM generate_series(1, 5) i`);
    emulator = await startEmulator({ throttling: { enabled: false }, notificationDelayMs: 0 });
    dispatcher = new Agent({ connect: { ca: emulator.caCert } });
    dir = tempDir('arcore-cli-commands-');
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, emulator.caCert);
    file = writeJson(dir, 'definitions.json', definitionsFile);
    env = {
      DATABASE_URL: db.url,
      GRAPH_BASE_URL: emulator.baseUrl,
      GRAPH_TOKEN: emulator.appToken,
      GRAPH_CA_CERT_FILE: caFile,
      GRAPH_RU_PER_MINUTE: '1000000',
    };
  });

  afterAll(async () => {
    await dispatcher?.close();
    await emulator?.stop();
    await db?.drop();
  });

  it('has --help on every command', async () => {
    const commands = [
      'migrate',
      'validate',
      'apply',
      'provision',
      'push',
      'pull',
      'sync',
      'status',
      'runs',
      'conflicts',
      'resolve',
      'failures',
      'reset-cursor',
      'truncate-decide',
      'verify',
      'remove',
      'install-cursor',
      'emulator',
      'serve',
      'demo',
    ];
    for (const command of commands) {
      let out = '';
      const code = await runCliInProcess([command, '--help'], {
        io: { out: (t) => (out += t), err: (t) => (out += t) },
        env: {},
        cwd: dir,
        interactive: false,
        progressStream: process.stderr,
      });
      expect({ command, code }).toEqual({ command, code: 0 });
      expect(out).toContain(`Usage: arcore-sync ${command}`);
    }
    const child = await runCli(['sync', '--help'], {});
    expect(child.code).toBe(0);
    expect(child.stdout).toContain('One pull, then one push');
  });

  it('migrate creates the metadata store once', async () => {
    const first = await runCli(['migrate'], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/applied migrations? 1/);
    const again = await runCli(['migrate', '--json'], env);
    expect(again.code).toBe(0);
    expect(jsonOf(again)).toMatchObject({ applied: [] });
  });

  it('validate checks the file against the live tables and apply saves it by name', async () => {
    const validate = await runCli(['validate', file], env);
    expect(validate.code).toBe(0);
    expect(validate.stdout).toContain('projects: ok');
    expect(validate.stdout).toContain('tasks: ok');
    // No index on (updated_at, id): a warning with the DDL, not an error.
    expect(validate.stdout).toContain('CREATE INDEX ON "public"."projects" ("updated_at", "id");');
    const apply = await runCli(['apply', file], env);
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain('created projects, tasks');
    const again = await runCli(['apply', file, '--json'], env);
    expect(jsonOf(again)).toMatchObject({ valid: true, applied: { unchanged: ['projects', 'tasks'] } });
  });

  it('provision creates the lists with their columns', async () => {
    const [projects, tasks] = await Promise.all([
      runCli(['provision', 'projects'], env),
      runCli(['provision', 'tasks', '--json'], env),
    ]);
    expect(projects.code).toBe(0);
    expect(projects.stdout).toMatch(/projects: list \S+ created; columns added: Budget, ArcoreKey/);
    expect(jsonOf(tasks)).toMatchObject({
      definition: 'tasks',
      listCreated: true,
      columnsAdded: ['ArcoreKey'],
    });
  });

  it('push --json prints the run summary as one object', async () => {
    const push = await runCli(['push', 'projects', '--json'], env);
    expect(push.code).toBe(0);
    const summary = jsonOf(push);
    for (const key of [
      'runId',
      'status',
      'processed',
      'created',
      'updated',
      'deleted',
      'skipped',
      'conflicts',
      'failed',
    ]) {
      expect(summary).toHaveProperty(key);
    }
    expect(summary).toMatchObject({ status: 'SUCCEEDED', created: 20, failed: 0 });
    const human = await runCli(['push', 'tasks'], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/push tasks: SUCCEEDED in [\d.]+s \(run \d+\)/);
    expect(human.stdout).toContain('created 5');
    expect(emulator.control.listItems(emulator.control.getSiteId(SITE), 'Projects')).toHaveLength(20);
  });

  it('pull brings a SharePoint edit into Postgres; sync is one pull then one push', async () => {
    expect(
      await asAlice('PATCH', `${await itemPath('projects', 1)}/fields`, { Title: 'Renamed by Alice' }),
    ).toBe(200);
    const pull = await runCli(['pull', 'projects', '--json'], env);
    expect(pull.code).toBe(0);
    expect(jsonOf(pull)).toMatchObject({ runType: 'PULL', status: 'SUCCEEDED', updated: 1 });
    const { rows } = await db.pool.query('SELECT name FROM projects WHERE id = 1');
    expect(rows[0].name).toBe('Renamed by Alice');

    await db.pool.query('UPDATE projects SET budget = 4242 WHERE id = 2');
    const sync = await runCli(['sync', 'projects', '--json'], env);
    expect(sync.code).toBe(0);
    const summary = jsonOf(sync);
    expect(summary).toMatchObject({ definition: 'projects', status: 'SUCCEEDED', updated: 1 });
    expect(summary.pull).toMatchObject({ runType: 'PULL' });
    expect(summary.push).toMatchObject({ runType: 'PUSH', updated: 1 });
    expect(summary.runIds).toHaveLength(2);
  });

  it('a pull with nothing new in SharePoint is idle; pull --full runs anyway', async () => {
    // The sync's push wrote an item: the first pull reads that echo, the next finds the feed empty.
    expect(jsonOf(await runCli(['pull', 'projects', '--json'], env))).toMatchObject({ status: 'SUCCEEDED' });
    const idle = await runCli(['pull', 'projects'], env);
    expect(idle.code).toBe(0);
    expect(idle.stdout).toMatch(
      /^pull projects: idle, nothing to pull \(checked in \d+ ms with 1 delta request; no run recorded; --full runs it anyway\)$/m,
    );
    const full = jsonOf(await runCli(['pull', 'projects', '--full', '--json'], env));
    expect(full).toMatchObject({ runType: 'PULL', status: 'SUCCEEDED' });
    expect(full.runId).not.toBeNull();
    expect(full.idle).toBeUndefined();
  });

  it('a run that parks a failure exits 0 and says so; failures lists, retries and discards it', async () => {
    emulator.control.injectFault({
      method: 'PATCH',
      pathPattern: '/items/[^/]+/fields$',
      count: 1,
      status: 400,
    });
    await db.pool.query("UPDATE projects SET name = 'Will fail once' WHERE id = 3");
    const push = await runCli(['push', 'projects'], env);
    expect(push.code).toBe(0);
    expect(push.stdout).toContain('failed 1');
    expect(push.stdout).toContain('attention: 1 failure parked this run (arcore-sync failures projects)');

    // The table names the row by its key, as conflicts does, not by the hash of it alone.
    const table = await runCli(['failures', 'projects'], env);
    expect(table.stdout).toMatch(/^ID +STATUS +DIRECTION +ROW +ITEM +ATTEMPTS/);
    expect(table.stdout).toContain('{"id":3}');
    const listed = jsonOf(await runCli(['failures', 'projects', '--json'], env));
    const failures = listed.failures as { failureId: string; direction: string; status: string }[];
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ direction: 'PUSH', status: 'PARKED' });
    const id = failures[0].failureId;

    const retried = await runCli(['failures', 'projects', '--retry'], env);
    expect(retried.code).toBe(0);
    expect(retried.stdout).toContain(`1 failure(s) due now (${id})`);
    const stray = await runCli(['failures', 'projects', '--discard', '99999'], env);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain('has no parked failure with id 99999');
    const discarded = await runCli(['failures', 'projects', '--discard', id, '--json'], env);
    expect(jsonOf(discarded)).toMatchObject({ action: 'discard', failureIds: [id] });
    const none = await runCli(['failures', 'projects'], env);
    expect(none.stdout).toContain('projects: no parked failures');
  });

  it('a MANUAL conflict is parked by pull, listed by conflicts and resolved by resolve --take', async () => {
    await db.pool.query("UPDATE tasks SET title = 'Postgres title' WHERE id = 1");
    expect(
      await asAlice('PATCH', `${await itemPath('tasks', 1)}/fields`, { Title: 'SharePoint title' }),
    ).toBe(200);
    const pull = await runCli(['pull', 'tasks'], env);
    expect(pull.code).toBe(0);
    expect(pull.stdout).toContain('attention: 1 conflict open (arcore-sync conflicts tasks)');

    const listed = jsonOf(await runCli(['conflicts', 'tasks', '--json'], env));
    const conflicts = listed.conflicts as { conflictId: string; status: string; policy: string }[];
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toMatchObject({ status: 'OPEN', policy: 'MANUAL' });
    const table = await runCli(['conflicts', 'tasks'], env);
    expect(table.stdout).toMatch(new RegExp(`^${conflicts[0].conflictId}\\s+OPEN\\s+PULL\\s+MANUAL`, 'm'));

    const resolve = await runCli(
      ['resolve', conflicts[0].conflictId, '--take', 'sharepoint', '--by', 'cli-test'],
      env,
    );
    expect(resolve.code).toBe(0);
    expect(resolve.stdout).toContain(
      `conflict ${conflicts[0].conflictId} RESOLVED: the SharePoint values are now on both sides`,
    );
    const { rows } = await db.pool.query('SELECT title FROM tasks WHERE id = 1');
    expect(rows[0].title).toBe('SharePoint title');
    const again = await runCli(['resolve', conflicts[0].conflictId, '--take', 'postgres'], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('is already resolved');
    expect((await runCli(['conflicts', 'tasks'], env)).stdout).toContain('tasks: no open conflicts');
  });

  it('status, runs and reset-cursor report and change where a definition stands', async () => {
    const all = jsonOf(await runCli(['status', '--json'], env));
    const projects = (all.definitions as Record<string, unknown>[]).find((d) => d.name === 'projects');
    expect(projects).toMatchObject({ ledgerSize: 20, parkedFailures: 0, openConflicts: 0 });
    expect(projects?.cursors).toMatchObject({
      source: { value: expect.any(String) },
      target: { linkPresent: true },
    });
    // A row kept by deletes.pull IGNORE after its item was deleted in SharePoint is no synced pair (I8).
    const kept = `UPDATE arcore.sync_ledger SET state = $1 WHERE ctid =
      (SELECT l.ctid FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
        WHERE d.name = 'projects' ORDER BY l.source_identity_hash LIMIT 1)`;
    await db.pool.query(kept, ['ITEM_DELETED']);
    const human = await runCli(['status', 'projects'], env).finally(() => db.pool.query(kept, ['SYNCED']));
    expect(human.stdout).toContain('ledger: 19 synced pairs; parked failures: 0; open conflicts: 0');
    // The definition's deletes.pull is PROPAGATE now: the row stays kept, and status says so with the next step.
    expect(human.stdout).toContain(
      '  item deleted in SharePoint: 1 row whose item was deleted in SharePoint while deletes.pull was IGNORE is ' +
        'still kept: the new policy (PROPAGATE) applies to deletes from now on',
    );
    expect(human.stdout).toContain(
      '    next step: "arcore-sync backfill projects --fields Title,Budget --strategy full_resync" re-creates its item',
    );

    const runs = jsonOf(await runCli(['runs', 'projects', '--limit', '2', '--json'], env));
    expect(runs.runs).toHaveLength(2);
    const runsTable = await runCli(['runs', 'projects'], env);
    expect(runsTable.stdout).toMatch(/^RUN\s+TYPE\s+TRIGGER\s+STATUS/m);
    expect(runsTable.stdout).toMatch(/\s+PUSH\s+cli\s+SUCCEEDED\s/);

    const reset = await runCli(['reset-cursor', 'projects', '--scope', 'source'], env);
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain('projects: push (source) cursor reset');
    const after = jsonOf(await runCli(['status', 'projects', '--json'], env));
    expect(after.cursors).toMatchObject({ source: null, target: { linkPresent: true } });
    // A full re-read creates nothing (the ledger pairs every row, I1/I3); the one row whose failed change was
    // discarded above differs from its item, so it is the only write.
    const push = jsonOf(await runCli(['push', 'projects', '--json'], env));
    expect(push).toMatchObject({ processed: 20, created: 0, updated: 1, skipped: 19 });
  });

  it('truncate-decide needs one decision and says when no TRUNCATE is parked', async () => {
    const neither = await runCli(['truncate-decide', 'projects'], env);
    expect(neither.code).not.toBe(0);
    expect(neither.stderr).toContain('give exactly one of --propagate or --ignore');
    const none = await runCli(['truncate-decide', 'projects', '--ignore'], env);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('has no TRUNCATE waiting for a decision');
  });

  it('emulator prints GRAPH_BASE_URL first, writes emulator.env and stops on SIGTERM', async () => {
    const stateDir = join(dir, 'emulator-state');
    const child = spawnCli(['emulator', '--port', '0', '--state-dir', stateDir, '--no-throttling'], {});
    const firstLine = new Promise<string>((resolve) =>
      child.stdout?.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8').split('\n')[0])),
    );
    const line = await waitForLine(child, /^GRAPH_BASE_URL=/);
    expect(await firstLine).toBe(line);
    expect(line).toMatch(/^GRAPH_BASE_URL=https:\/\/127\.0\.0\.1:\d+\/v1\.0$/);
    const envFile = readFileSync(join(stateDir, 'emulator.env'), 'utf8');
    expect(envFile).toContain(line);
    expect(envFile).toMatch(/^GRAPH_TOKEN=\S+/m);
    expect(existsSync(join(stateDir, 'emulator-cert.pem'))).toBe(true);
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
  });

  it('serve runs the local host with the ops API until SIGTERM', async () => {
    const child = spawnCli(['serve', '--port', '0'], env);
    const line = await waitForLine(child, /^local host listening at http:\/\/127\.0\.0\.1:\d+$/);
    const url = line.replace('local host listening at ', '');
    const response = await fetch(`${url}/api/ops/definitions/projects`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ name: 'projects', ledgerSize: 20 });
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
  });
});
