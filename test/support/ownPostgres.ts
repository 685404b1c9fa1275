import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { nodeArgsFor } from './childNode';

const CHILD = join(__dirname, 'postgresServerChild.ts');

/** A Postgres server of a test's own, which the test may stop and start (see postgresServerChild.ts). */
export interface OwnPostgres {
  port: number;
  adminUrl: string;
  /** `pg_ctl stop -m fast|immediate`, keeping the data directory. */
  halt(mode: 'fast' | 'immediate'): Promise<void>;
  /** Starts the halted server again on the same data directory and port. */
  resume(): Promise<void>;
  /** Resumes the server if a test left it halted (a failed test must not fail the ones after it). */
  ensureRunning(): Promise<void>;
  /** Stops the server, removes its data and ends the controlling process. */
  stop(): Promise<void>;
}

function nextLine(
  lines: Interface,
  child: ChildProcessWithoutNullStreams,
  stderr: () => string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const onLine = (line: string) => {
      child.off('exit', onExit);
      resolve(line);
    };
    const onExit = (code: number | null) => {
      lines.off('line', onLine);
      reject(new Error(`the Postgres controller exited (${code}): ${stderr()}`));
    };
    lines.once('line', onLine);
    child.once('exit', onExit);
  });
}

/** `settings`: server settings the server starts with (wal_level, synchronous_standby_names…). */
export async function startOwnPostgres(settings: Record<string, string> = {}): Promise<OwnPostgres> {
  const child = spawn(process.execPath, [...nodeArgsFor(CHILD), JSON.stringify(settings)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const lines = createInterface({ input: child.stdout });
  const started = JSON.parse(await nextLine(lines, child, () => stderr)) as {
    port: number;
    adminUrl: string;
  };
  // One command at a time: each waits for the answer to the one before.
  let queue: Promise<unknown> = Promise.resolve();
  const command = (text: string): Promise<void> => {
    const answered = queue.then(async () => {
      const answer = nextLine(lines, child, () => stderr);
      child.stdin.write(`${text}\n`);
      const line = await answer;
      if (line !== `ok ${text}`) throw new Error(`Postgres controller: "${text}" answered "${line}"`);
    });
    queue = answered.catch(() => undefined);
    return answered;
  };
  let halted = false;
  const resume = async () => {
    await command('resume');
    halted = false;
  };
  return {
    port: started.port,
    adminUrl: started.adminUrl,
    async halt(mode) {
      halted = true;
      await command(`halt ${mode}`);
    },
    resume,
    async ensureRunning() {
      if (halted) await resume();
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await command('stop').catch(() => undefined);
      child.stdin.end();
      await exited;
    },
  };
}
