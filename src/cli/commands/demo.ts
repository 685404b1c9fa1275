import { resolve } from 'node:path';
import { MIN_DEMO_ROWS } from '../../demo/sampleData';
import { CliUsageError } from '../failures';
import { printJson } from '../output';
import { importWithoutTestModeWarnings } from '../quietImport';
import type { CliRuntime } from '../runtime';

export interface DemoCommandOptions {
  dataDir: string;
  rows: string;
  serve?: boolean;
  json?: boolean;
}

/** `arcore-sync demo` (= `npm start`): needs no settings; everything it uses it starts itself. */
export async function runDemoCommand(rt: CliRuntime, opts: DemoCommandOptions): Promise<void> {
  const rows = Number(opts.rows);
  if (!Number.isInteger(rows) || rows < MIN_DEMO_ROWS) {
    throw new CliUsageError(`--rows must be an integer of at least ${MIN_DEMO_ROWS}, got "${opts.rows}"`);
  }
  const { runDemo } = await importWithoutTestModeWarnings(() => import('../../demo/index.js'));
  const result = await runDemo({
    dataDir: resolve(rt.deps.cwd, opts.dataDir),
    rows,
    serve: Boolean(opts.serve),
    json: Boolean(opts.json),
    verbose: rt.options.verbose,
    io: rt.io,
    reporter: rt.reporter,
  });
  if (opts.json) printJson(rt.io, result);
}
