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
