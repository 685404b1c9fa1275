import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installCursorTrigger } from '../../src/core/source/postgres/PostgresSource';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator';
import { freshDatabase, type TestDatabase } from '../support/db';
import { runCli, tempDir, writeJson, type CliEnv } from './cliHarness';

export const SITE = 'contoso.sharepoint.com:/sites/demo';

export interface LoadsFixtureOptions {
  rows: number;
  pageSize: number;
  /** GRAPH_RU_PER_MINUTE: the pacing the test depends on. */
  ruPerMinute: number;
  /** Prefix of the temporary directory that holds the CA file and definitions.json. */
  tempPrefix: string;
  emulator: EmulatorOptions;
}

export interface LoadsFixture {
  db: TestDatabase;
  emulator: RunningEmulator;
  /** The environment `runCli` needs to reach this database and emulator. */
  env: CliEnv;
  stop(): Promise<void>;
}

/**
 * A `loads` table of `rows` rows with a cursor trigger, and a `loads` definition to the list Loads,
 * migrated, applied and provisioned through the CLI itself, so that a test starts at its first push.
 */
export async function startLoadsFixture(options: LoadsFixtureOptions): Promise<LoadsFixture> {
  const db = await freshDatabase();
  let emulator: RunningEmulator | undefined;
  const stop = async (): Promise<void> => {
    await emulator?.stop();
    await db.drop();
  };
  try {
    await db.pool.query(
      'CREATE TABLE loads (id int PRIMARY KEY, name text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())',
    );
    await installCursorTrigger(db.pool, 'public', 'loads', 'updated_at');
    await db.pool.query(
      "INSERT INTO loads (id, name) SELECT i, 'Load ' || i FROM generate_series(1, $1::int) i",
      [options.rows],
    );
    emulator = await startEmulator(options.emulator);
    const dir = tempDir(options.tempPrefix);
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, emulator.caCert);
    const file = writeJson(dir, 'definitions.json', {
      definitions: [
        {
          name: 'loads',
          source: {
            table: 'loads',
            key: ['id'],
            cursor: { column: 'updated_at' },
            pageSize: options.pageSize,
          },
          target: { site: SITE, list: 'Loads' },
          fields: [{ source: 'name', target: 'Title' }],
        },
      ],
    });
    const env: CliEnv = {
      DATABASE_URL: db.url,
      GRAPH_BASE_URL: emulator.baseUrl,
      GRAPH_TOKEN: emulator.appToken,
      GRAPH_CA_CERT_FILE: caFile,
      GRAPH_RU_PER_MINUTE: String(options.ruPerMinute),
    };
    for (const args of [['migrate'], ['apply', file], ['provision', 'loads']]) {
      const result = await runCli(args, env);
      if (result.code !== 0) throw new Error(`${args.join(' ')}: ${result.stderr}`);
    }
    return { db, emulator, env, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
