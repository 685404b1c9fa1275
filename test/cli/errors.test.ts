import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDefinition } from '../../src/core/definition/parse';
import { upsertDefinitions } from '../../src/core/store/definitions';
import { migrate } from '../../src/core/store/migrate';
import { startEmulator, type RunningEmulator } from '../../src/emulator';
import { freshDatabase, type TestDatabase } from '../support/db';
import { closedPort, runCli, tempDir, writeJson, type CliEnv } from './cliHarness';

/**
 * Bad input and unreachable dependencies, each as a real `arcore-sync` child process: the exit code
 * (2 invalid, 3 unreachable or runtime) and a message that names the path, the definition or the side.
 */
describe('arcore-sync exit codes and messages for bad input (I12)', () => {
  let db: TestDatabase;
  let emulator: RunningEmulator;
  let dir: string;
  let env: CliEnv;

  beforeAll(async () => {
    db = await freshDatabase();
    await migrate(db.pool);
    await db.pool.query(
      'CREATE TABLE items (id int PRIMARY KEY, title text, updated_at timestamptz NOT NULL DEFAULT now())',
    );
    await upsertDefinitions(db.pool, [
      parseDefinition({
        name: 'items',
        source: { table: 'items', key: ['id'], cursor: { column: 'updated_at' } },
        target: { site: 'contoso.sharepoint.com:/sites/demo', list: 'Items' },
        fields: [{ source: 'title', target: 'Title' }],
      }),
    ]);
    emulator = await startEmulator({ throttling: { enabled: false } });
    dir = tempDir('arcore-cli-errors-');
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, emulator.caCert);
    env = {
      DATABASE_URL: db.url,
      GRAPH_BASE_URL: emulator.baseUrl,
      GRAPH_TOKEN: emulator.appToken,
      GRAPH_CA_CERT_FILE: caFile,
    };
  });

  afterAll(async () => {
    await emulator?.stop();
    await db?.drop();
  });

  it('an invalid definitions file exits 2 naming the file, the path and the problem', async () => {
    const file = writeJson(dir, 'bad.json', {
      definitions: [
        {
          name: 'bad',
          source: { table: 'items', key: [], cursor: { column: 'updated_at' } },
          target: { site: 'contoso.sharepoint.com:/sites/demo', list: 'Bad' },
          fields: [{ source: 'title', target: 'Title' }],
        },
      ],
    });
    const notJson = writeJson(dir, 'broken.json', '{"definitions": [');
    const [validate, apply, broken] = await Promise.all([
      runCli(['validate', file], env),
      runCli(['apply', file], env),
      runCli(['validate', notJson], env),
    ]);
    for (const r of [validate, apply]) {
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(file);
      expect(r.stderr).toContain('definitions[0].source.key: must name at least one key column');
    }
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain(`${notJson}: invalid sync definitions`);
    expect(broken.stderr).toContain('is not valid JSON');
    const { rows } = await db.pool.query("SELECT 1 FROM arcore.sync_definitions WHERE name = 'bad'");
    expect(rows).toHaveLength(0);
  });

  it('a definition that does not match the live table exits 2 and saves nothing', async () => {
    const file = writeJson(dir, 'mismatch.json', {
      definitions: [
        {
          name: 'mismatch',
          source: { table: 'items', key: ['id'], cursor: { column: 'updated_at' } },
          target: { site: 'contoso.sharepoint.com:/sites/demo', list: 'Mismatch' },
          fields: [{ source: 'nope', target: 'Title' }],
        },
      ],
    });
    const r = await runCli(['apply', file], env);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(
      'error   fields[0].source: mapped column "nope" does not exist in "public.items"',
    );
    expect(r.stderr).toContain(file);
    const { rows } = await db.pool.query("SELECT 1 FROM arcore.sync_definitions WHERE name = 'mismatch'");
    expect(rows).toHaveLength(0);
  });

  it('an unknown definition exits 2 (runs, provisioning, ops commands)', async () => {
    const commands = [
      ['push', 'nope'],
      ['sync', 'nope'],
      ['provision', 'nope'],
      ['status', 'nope'],
      ['failures', 'nope', '--retry'],
      ['reset-cursor', 'nope'],
    ];
    const results = await Promise.all(commands.map((args) => runCli(args, env)));
    results.forEach((r, i) => {
      expect({ command: commands[i][0], code: r.code }).toEqual({ command: commands[i][0], code: 2 });
      expect(r.stderr).toContain('No sync definition named "nope"');
    });
  });

  it('usage errors exit 2: unknown command, missing argument, bad option value, unknown conflict', async () => {
    const [unknown, missing, badScope, noChoice, badId, unknownConflict, badLimit] = await Promise.all([
      runCli(['frobnicate'], env),
      runCli(['push'], env),
      runCli(['reset-cursor', 'items', '--scope', 'sideways'], env),
      runCli(['resolve', '1'], env),
      runCli(['resolve', 'abc', '--take', 'postgres'], env),
      runCli(['resolve', '999', '--take', 'postgres'], env),
      runCli(['runs', 'items', '--limit', '0'], env),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'name'");
    expect(badScope.code).toBe(2);
    expect(badScope.stderr).toContain('Allowed choices are source, target, all');
    expect(noChoice.code).toBe(2);
    expect(noChoice.stderr).toContain('--take postgres|sharepoint or --values JSON');
    expect(badId.code).toBe(2);
    expect(badId.stderr).toContain('conflict id must be a positive integer, got "abc"');
    expect(unknownConflict.code).toBe(2);
    expect(unknownConflict.stderr).toContain('No conflict with id 999');
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toContain('--limit must be a positive integer, got "0"');
  });

  it('a definition whose list does not exist exits 2 and says how to create it', async () => {
    const r = await runCli(['push', 'items'], env);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('push items: FAILED');
    expect(r.stderr).toContain('list "Items" not found on site "contoso.sharepoint.com:/sites/demo"');
    expect(r.stderr).toContain('arcore-sync provision items');
  });

  it('provision of a site that does not exist exits 2 naming target.site, as push does', async () => {
    await upsertDefinitions(db.pool, [
      parseDefinition({
        name: 'nosite',
        source: { table: 'items', key: ['id'], cursor: { column: 'updated_at' } },
        target: { site: 'contoso.sharepoint.com:/sites/nope', list: 'NoSite' },
        fields: [{ source: 'title', target: 'Title' }],
      }),
    ]);
    const r = await runCli(['provision', 'nosite', '--json'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Definition "nosite": site "contoso.sharepoint.com:/sites/nope" not found');
    expect(r.stderr).toContain('next step: check target.site');
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { kind: 'not_found' }, exitCode: 2 });
  });

  it('provision of a list named by a GUID no list has is refused: no list is created under that GUID', async () => {
    const guid = '11111111-2222-3333-4444-555555555555';
    await upsertDefinitions(db.pool, [
      parseDefinition({
        name: 'byid',
        source: { table: 'items', key: ['id'], cursor: { column: 'updated_at' } },
        target: { site: 'contoso.sharepoint.com:/sites/demo', list: guid },
        fields: [{ source: 'title', target: 'Title' }],
      }),
    ]);
    const [provision, push] = [await runCli(['provision', 'byid'], env), await runCli(['push', 'byid'], env)];
    for (const r of [provision, push]) {
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`list "${guid}" not found on site "contoso.sharepoint.com:/sites/demo"`);
      expect(r.stderr).toContain('no list has this id');
      expect(r.stderr).not.toContain('create the list with');
    }
    const site = emulator.control.getSiteId('contoso.sharepoint.com:/sites/demo');
    expect(() => emulator.control.listItems(site, guid)).toThrow(`No list '${guid}'`);
  });

  it('missing settings exit 2 and name the setting', async () => {
    const r = await runCli(['status'], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('DATABASE_URL is required');
  });

  it('an unreachable Postgres exits 3 naming host and port, never the password', async () => {
    const port = await closedPort();
    const r = await runCli(['status'], {
      ...env,
      DATABASE_URL: `postgres://sync:S3cretPassw0rd@127.0.0.1:${port}/arcore`,
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`cannot reach Postgres at 127.0.0.1:${port}/arcore`);
    expect(r.stderr).toContain('ECONNREFUSED');
    expect(r.stderr).not.toContain('S3cretPassw0rd');
  });

  it('a database that does not exist exits 2 naming it and the setting, not "check the server is up"', async () => {
    const url = new URL(db.url);
    url.pathname = '/no_such_db';
    const r = await runCli(['status', '--json'], { ...env, DATABASE_URL: url.toString() });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { kind: 'not_found' }, exitCode: 2 });
    expect(r.stderr).toContain(`has no database "no_such_db"`);
    expect(r.stderr).toContain('DATABASE_URL');
    expect(r.stderr).not.toContain('check that the server is up');
  });

  it('an unreachable Graph exits 3 naming Microsoft Graph and the URL', async () => {
    const port = await closedPort();
    const graph = { ...env, GRAPH_BASE_URL: `https://127.0.0.1:${port}/v1.0` };
    const [push, provision] = await Promise.all([
      runCli(['push', 'items', '--json'], graph),
      runCli(['provision', 'items'], graph),
    ]);
    for (const r of [push, provision]) {
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(
        new RegExp(`cannot reach Microsoft Graph(: GET| at) https://127\\.0\\.0\\.1:${port}/v1\\.0`),
      );
      expect(r.stderr).not.toContain('not found');
    }
    // The failed run is still recorded and printed: --json keeps stdout one object, error and run together.
    expect(JSON.parse(push.stdout)).toMatchObject({
      error: { kind: 'unreachable' },
      exitCode: 3,
      run: { definition: 'items', status: 'FAILED' },
    });
  });

  it('settings come from local.settings.json when the environment does not set them', async () => {
    const cwd = tempDir('arcore-cli-local-settings-');
    writeJson(cwd, 'local.settings.json', {
      IsEncrypted: false,
      Values: { ...env, FUNCTIONS_WORKER_RUNTIME: 'node' },
    });
    const fromFile = await runCli(['status', 'items', '--json'], {}, cwd);
    expect(fromFile.code).toBe(0);
    expect(JSON.parse(fromFile.stdout)).toMatchObject({ name: 'items', ledgerSize: 0 });
    const port = await closedPort();
    const envWins = await runCli(['status'], { DATABASE_URL: `postgres://x@127.0.0.1:${port}/db` }, cwd);
    expect(envWins.code).toBe(3);
    expect(envWins.stderr).toContain(`127.0.0.1:${port}`);
  });
});
