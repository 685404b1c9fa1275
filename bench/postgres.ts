/**
 * The benchmark's Postgres: DATABASE_URL when set (an admin connection on a server we may create databases
 * on), otherwise an embedded Postgres 18 started for the run, as the jest global setup does.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../src/core/db/embeddedPostgres';

export class BenchPostgresError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BenchPostgresError';
  }
}

export interface BenchPostgres {
  /** Admin connection string; scenario databases are created next to it. */
  adminUrl: string;
  /** 'embedded' or 'DATABASE_URL'. */
  origin: 'embedded' | 'DATABASE_URL';
  stop(): Promise<void>;
}

export async function startBenchPostgres(env: NodeJS.ProcessEnv = process.env): Promise<BenchPostgres> {
  const existing = env.DATABASE_URL?.trim();
  if (existing) return { adminUrl: existing, origin: 'DATABASE_URL', stop: async () => undefined };
  try {
    // Durability is not what we measure; the same flags as the test harness.
    const server = await startEmbeddedPostgres({
      // wal_level=logical for the change data capture scenarios (replication slots).
      postgresFlags: [
        '-c',
        'max_connections=200',
        '-c',
        'fsync=off',
        '-c',
        'wal_level=logical',
        '-c',
        'max_replication_slots=16',
        '-c',
        'max_wal_senders=16',
      ],
    });
    return { adminUrl: server.adminUrl, origin: 'embedded', stop: () => server.stop() };
  } catch (err) {
    throw new BenchPostgresError(`embedded Postgres did not start: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** A new empty database on the server of `adminUrl`; returns its URL and a function that drops it. */
export async function createScenarioDatabase(
  adminUrl: string,
  label: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `bench_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
