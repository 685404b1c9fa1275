import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { parseDefinition } from '../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../src/core/definition/schema';
import { upsertDefinitions } from '../../src/core/store/definitions';
import { migrate } from '../../src/core/store/migrate';
import { startEmulator, type RunningEmulator } from '../../src/emulator';
import { freshDatabase, type TestDatabase } from '../support/db';
import { jsonOf, runCli, tempDir, writeJson, type CliEnv } from './cliHarness';

const SITE = 'contoso.sharepoint.com:/sites/demo';

function definition(name: string, table: string, list: string): SyncDefinitionInput {
  return {
    name,
    source: { table, key: ['id'], cursor: { column: 'updated_at' } },
    target: { site: SITE, list },
    fields: [{ source: 'title', target: 'Title' }],
  };
}

/**
 * One classification of failures (src/core/errors): each failure has a kind, the kind decides the exit
 * code, and `--json` prints one object on stdout whatever happened. Real child processes, real Postgres,
 * the emulator over HTTPS.
 */
describe('arcore-sync failure kinds, exit codes and --json failures', () => {
  let db: TestDatabase;
  let emulator: RunningEmulator;
  let dir: string;
  let env: CliEnv;

  const itemCount = async (list: string) =>
    (await emulator.control.listItems(emulator.control.getSiteId(SITE), list)).length;

  beforeAll(async () => {
    db = await freshDatabase();
    await migrate(db.pool);
    for (const table of ['drift', 'pairs']) {
      await db.pool.query(
        `CREATE TABLE ${table} (id int PRIMARY KEY, title text, updated_at timestamptz NOT NULL DEFAULT now())`,
      );
      await db.pool.query(`INSERT INTO ${table} (id, title) VALUES (1, 'one'), (2, 'two')`);
    }
    emulator = await startEmulator({ throttling: { enabled: false } });
    dir = tempDir('arcore-cli-kinds-');
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, emulator.caCert);
    env = {
      DATABASE_URL: db.url,
      GRAPH_BASE_URL: emulator.baseUrl,
      GRAPH_TOKEN: emulator.appToken,
      GRAPH_CA_CERT_FILE: caFile,
    };
    await upsertDefinitions(db.pool, [parseDefinition(definition('drift', 'drift', 'Drift'))]);
  });

  afterAll(async () => {
    await emulator?.stop();
    await db?.drop();
  });

  describe('13.4 one list, one definition (names compared case-insensitively, lists by resolved id)', () => {
    it('validate and apply refuse two definitions whose list names differ only in case (exit 2)', async () => {
      const file = writeJson(dir, 'case.json', {
        definitions: [definition('upper', 'pairs', 'P1'), definition('lower', 'pairs', 'p1')],
      });
      const [validate, apply, applyJson] = await Promise.all([
        runCli(['validate', file], env),
        runCli(['apply', file], env),
        runCli(['apply', file, '--json'], env),
      ]);
      for (const r of [validate, apply]) {
        expect(r.code).toBe(2);
        expect(r.stdout).toContain(
          `error   target.list: list "p1" on "${SITE}" is already the target of definition "upper" (as "P1")`,
        );
      }
      expect(applyJson.code).toBe(2);
      expect(jsonOf(applyJson)).toMatchObject({
        error: { kind: 'invalid_definition' },
        exitCode: 2,
        report: { valid: false, applied: null },
      });
      const { rows } = await db.pool.query(
        "SELECT 1 FROM arcore.sync_definitions WHERE name IN ('upper', 'lower')",
      );
      expect(rows).toHaveLength(0);
    });

    it('a run refuses a list that another definition already syncs, however it is spelled (exit 2)', async () => {
      // Saved without validation (as an older version could have): both resolve to one list.
      await upsertDefinitions(db.pool, [
        parseDefinition(definition('upper', 'pairs', 'P1')),
        parseDefinition(definition('lower', 'pairs', 'p1')),
      ]);
      expect((await runCli(['provision', 'upper'], env)).code).toBe(0);
      const first = await runCli(['push', 'upper'], env);
      expect(first.code).toBe(0);
      expect(await itemCount('P1')).toBe(2);

      const second = await runCli(['push', 'lower', '--json'], env);

      expect(second.code).toBe(2);
      expect(jsonOf(second)).toMatchObject({
        error: {
          kind: 'invalid_definition',
          message: expect.stringContaining('is already synced by definition "upper"'),
        },
        exitCode: 2,
        run: { definition: 'lower', status: 'FAILED', created: 0 },
      });
      expect(await itemCount('P1')).toBe(2);
      await db.pool.query("DELETE FROM arcore.sync_definitions WHERE name IN ('upper', 'lower')");
    });
  });

  describe('13.9 / 18.1 exit codes come from error kinds, not from message text', () => {
    it('type drift of a mapped column fails the run with exit 2 naming the column', async () => {
      expect((await runCli(['provision', 'drift'], env)).code).toBe(0);
      expect((await runCli(['push', 'drift'], env)).code).toBe(0);
      await db.pool.query('ALTER TABLE drift ALTER COLUMN title TYPE integer USING length(title)');
      try {
        // One after the other: a second run at the same time would find the lock taken (SKIPPED).
        const text = await runCli(['push', 'drift'], env);
        const json = await runCli(['push', 'drift', '--json'], env);
        expect(text.code).toBe(2);
        expect(text.stderr).toContain('cannot map Postgres column title (integer');
        expect(json.code).toBe(2);
        expect(jsonOf(json)).toMatchObject({
          error: { kind: 'invalid_definition', hint: expect.stringContaining('validate') },
          exitCode: 2,
          run: { status: 'FAILED' },
        });
      } finally {
        await db.pool.query('ALTER TABLE drift ALTER COLUMN title TYPE text');
      }
    });

    it('a FAILED run prints its error once and never says that it succeeded', async () => {
      await db.pool.query('ALTER TABLE drift ALTER COLUMN title TYPE integer USING length(title)');
      try {
        const r = await runCli(['push', 'drift'], env);
        expect(r.code).toBe(2);
        expect(r.stdout).toContain('push drift: FAILED');
        const output = r.stdout + r.stderr;
        expect(output.split('cannot map Postgres column title').length - 1).toBe(1);
        expect(output).not.toContain('succeeded');
        expect(r.stderr).toContain('next step: ');
      } finally {
        await db.pool.query('ALTER TABLE drift ALTER COLUMN title TYPE text');
      }
    });

    it('an untrusted certificate is a TLS failure (exit 3) that names GRAPH_CA_CERT_FILE, not a missing list', async () => {
      const untrusted = { ...env, GRAPH_CA_CERT_FILE: '' };
      const r = await runCli(['push', 'drift', '--json'], untrusted);
      expect(r.code).toBe(3);
      const out = jsonOf(r);
      expect(out).toMatchObject({
        error: {
          kind: 'tls',
          message: expect.stringContaining('cannot connect securely to Microsoft Graph'),
          hint: expect.stringContaining('GRAPH_CA_CERT_FILE'),
        },
        exitCode: 3,
        // One attempt: a certificate that is not trusted is not a transient failure worth retrying.
        run: { status: 'FAILED', graphRequests: 1 },
      });
      expect(JSON.stringify(out)).not.toContain('not found');
      expect(r.stderr).toContain('GRAPH_CA_CERT_FILE');
    });

    it('refused credentials are an authentication failure (exit 3), not a missing list', async () => {
      const r = await runCli(['push', 'drift', '--json'], { ...env, GRAPH_TOKEN: 'not-a-valid-token' });
      expect(r.code).toBe(3);
      const out = jsonOf(r);
      expect(out).toMatchObject({ error: { kind: 'authentication' }, exitCode: 3 });
      expect(JSON.stringify(out)).not.toContain('not found');
    });

    it('a list without the hidden key column is refused before anything is written (exit 2, names provision)', async () => {
      await db.pool.query(
        'CREATE TABLE bare (id int PRIMARY KEY, title text, updated_at timestamptz NOT NULL DEFAULT now())',
      );
      await db.pool.query("INSERT INTO bare (id, title) VALUES (1, 'one'), (2, 'two')");
      await upsertDefinitions(db.pool, [parseDefinition(definition('bare', 'bare', 'Bare'))]);
      // A list made by hand in SharePoint, never provisioned: it has Title but no ArcoreKey.
      const siteId = emulator.control.getSiteId(SITE);
      const dispatcher = new Agent({ connect: { ca: emulator.caCert } });
      const created = await fetch(`${emulator.baseUrl}/sites/${siteId}/lists`, {
        method: 'POST',
        headers: { authorization: `Bearer ${emulator.appToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ displayName: 'Bare', list: { template: 'genericList' } }),
        dispatcher,
      });
      await dispatcher.close();
      expect(created.status).toBe(201);

      const r = await runCli(['push', 'bare', '--json'], env);

      expect(r.code).toBe(2);
      expect(jsonOf(r)).toMatchObject({
        error: {
          kind: 'invalid_definition',
          message: expect.stringContaining('list "Bare" has no column "ArcoreKey"'),
          hint: 'add the column with "arcore-sync provision bare", then run again',
        },
        exitCode: 2,
        run: { status: 'FAILED', processed: 0, failed: 0 },
      });
      expect(await itemCount('Bare')).toBe(0);
      const { rows } = await db.pool.query("SELECT 1 FROM arcore.sync_failures WHERE status = 'PARKED'");
      expect(rows).toHaveLength(0);
    });

    it('a definitions file that starts with a UTF-8 byte order mark is read like any other', async () => {
      const file = join(dir, 'bom.json');
      writeFileSync(
        file,
        `\uFEFF${JSON.stringify({ definitions: [definition('drift', 'drift', 'Drift')] })}`,
      );
      const r = await runCli(['validate', file], env);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('drift: ok');
    });

    it('--json failures without a run print only the error object', async () => {
      const [unknown, usage] = await Promise.all([
        runCli(['push', 'nope', '--json'], env),
        runCli(['push', '--json'], env),
      ]);
      expect(unknown.code).toBe(2);
      expect(jsonOf(unknown)).toEqual({
        error: {
          kind: 'not_found',
          message: expect.stringContaining('No sync definition named "nope"'),
          hint: expect.any(String),
        },
        exitCode: 2,
      });
      expect(usage.code).toBe(2);
      expect(jsonOf(usage)).toMatchObject({ error: { kind: 'invalid_input' }, exitCode: 2 });
    });
  });
});
