import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { nodeArgsFor, outputOf, type ChildOutput } from '../support/childNode';

/** The repository root and the CLI's TypeScript entry (run as test/support/childNode.ts says: no build needed). */
export const REPO_ROOT = resolve(__dirname, '../..');
const CLI_ENTRY = join(REPO_ROOT, 'src/cli/index.ts');

export type CliResult = ChildOutput;

/** Settings only: the child gets these plus PATH and HOME, never the test process's own environment. */
export type CliEnv = Record<string, string>;

function childEnv(env: CliEnv): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), ...env };
}

/** Starts `arcore-sync <args>` as a child process. */
export function spawnCli(args: string[], env: CliEnv, cwd: string = tmpdir()): ChildProcess {
  return spawn(process.execPath, [...nodeArgsFor(CLI_ENTRY), ...args], {
    cwd,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs `arcore-sync <args>` to completion. */
export function runCli(args: string[], env: CliEnv, cwd?: string): Promise<CliResult> {
  return outputOf(spawnCli(args, env, cwd));
}

/** Reads a child's stdout until a line matches, then resolves with that line (the child keeps running). */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let buffered = '';
    let stderr = '';
    const timer = setTimeout(
      () => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; stderr: ${stderr}`)),
      timeoutMs,
    );
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const line = buffered.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolvePromise(line);
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(
        new Error(`exited with ${code} before printing ${pattern}; stdout: ${buffered}; stderr: ${stderr}`),
      );
    });
  });
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolvePromise) => {
    if (child.exitCode !== null) resolvePromise(child.exitCode);
    else child.on('close', (code) => resolvePromise(code));
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeJson(dir: string, name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return path;
}

/** A port nothing listens on (bound, read, released). */
export function closedPort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePromise(port));
    });
  });
}

/** The single JSON object a `--json` command printed. */
export function jsonOf(result: CliResult): Record<string, unknown> {
  try {
    return JSON.parse(result.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(
      `stdout is not one JSON object (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
  }
}
