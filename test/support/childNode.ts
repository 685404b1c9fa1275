import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const REPO_ROOT = resolve(__dirname, '../..');
/** tsx's loader by path, so a child whose working directory is elsewhere still finds it. */
const TSX_LOADER = pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/**
 * The `node` arguments that run a TypeScript file of this repository in a child process: its copy in the jest run's
 * transpiled build (test/support/testBuild.js, made by the global setup), or the file itself through tsx when there
 * is no build (a test run outside jest's global setup).
 */
export function nodeArgsFor(tsFile: string): string[] {
  const build = process.env.ARCORE_TEST_BUILD;
  if (build) {
    const compiled = join(build, relative(REPO_ROOT, tsFile)).replace(/\.ts$/, '.js');
    if (existsSync(compiled)) return [compiled];
  }
  return ['--import', TSX_LOADER, tsFile];
}

/** What a child process printed, and how it ended. */
export interface ChildOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Collects a child's output (spawned with stdout and stderr piped) until it has ended. */
export function outputOf(child: ChildProcess): Promise<ChildOutput> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
