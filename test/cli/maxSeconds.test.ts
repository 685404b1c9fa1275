import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installCursorTrigger } from '../../src/core/source/postgres/PostgresSource';
import { startEmulator, type RunningEmulator } from '../../src/emulator';
import { freshDatabase, type TestDatabase } from '../support/db';
import { jsonOf, runCli, tempDir, writeJson, type CliEnv } from './cliHarness';

const SITE = 'contoso.sharepoint.com:/sites/demo';

/** I16 on the command line: a run with a time budget stops cleanly and says so; the next one finishes. */
describe('arcore-sync push --max-seconds', () => {
  let db: TestDatabase;
  let emulator: RunningEmulator;
  let env: CliEnv;

  beforeAll(async () => {
    db = await freshDatabase();
    await db.pool.query(
      'CREATE TABLE loads (id int PRIMARY KEY, name text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())',
    );
    await installCursorTrigger(db.pool, 'public', 'loads', 'updated_at');
    await db.pool.query("INSERT INTO loads (id, name) SELECT i, 'Load ' || i FROM generate_series(1, 60) i");
    emulator = await startEmulator({ throttling: { enabled: false }, notificationDelayMs: 0 });
    const dir = tempDir('arcore-cli-max-seconds-');
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, emulator.caCert);
    const file = writeJson(dir, 'definitions.json', {
      definitions: [
        {
          name: 'loads',
          source: { table: 'loads', key: ['id'], cursor: { column: 'updated_at' }, pageSize: 10 },
          target: { site: SITE, list: 'Loads' },
          fields: [{ source: 'name', target: 'Title' }],
        },
      ],
    });
    env = {
      DATABASE_URL: db.url,
      GRAPH_BASE_URL: emulator.baseUrl,
      GRAPH_TOKEN: emulator.appToken,
      GRAPH_CA_CERT_FILE: caFile,
      // 120 units for the 60 rows: far more than the burst plus one second of refill at this budget.
      GRAPH_RU_PER_MINUTE: '600',
    };
    for (const args of [['migrate'], ['apply', file], ['provision', 'loads']]) {
      const result = await runCli(args, env);
      if (result.code !== 0) throw new Error(`${args.join(' ')}: ${result.stderr}`);
    }
  }, 60_000);

  afterAll(async () => {
    await emulator?.stop();
    await db?.drop();
  });

  it('refuses a time budget that is not a positive integer (exit 2, naming the option)', async () => {
    const result = await runCli(['push', 'loads', '--max-seconds', '0'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--max-seconds must be a positive integer, got "0"');
  });

  it('stops at the budget with "complete": false and its work kept; the next run finishes it', async () => {
    const first = await runCli(['push', 'loads', '--json', '--max-seconds', '1'], env);
    expect(first.code).toBe(0);
    const partial = jsonOf(first);
    expect(partial).toMatchObject({ status: 'SUCCEEDED', complete: false });
    expect(partial.created).toBeGreaterThan(0);
    expect(partial.created).toBeLessThan(60);
    const human = await runCli(['status', 'loads'], env);
    expect(human.stdout).toMatch(/unfinished push: 1 run, [\d,]+ rows done, [\d,]+ left/);
    expect(human.stdout).toMatch(/budget \(app .*\): 600 RU\/min shared by every worker/);
    const rest = await runCli(['push', 'loads', '--json'], env);
    expect(rest.code).toBe(0);
    const done = jsonOf(rest);
    expect(done).toMatchObject({ status: 'SUCCEEDED', complete: true });
    expect(Number(partial.created) + Number(done.created)).toBe(60);
    expect(emulator.control.listItems(emulator.control.getSiteId(SITE), 'Loads')).toHaveLength(60);
  }, 60_000);
});
