/**
 * A push, pull or backfill in a child process, so that tests can SIGKILL it mid-run (I6).
 *
 * Tests call `spawnEngineChild`, `killWhen` and, before a rerun, `lockReleased`. Run as a script, this file is the child itself:
 *   node --import tsx test/support/engineChild.ts push|pull <definition>
 *   node --import tsx test/support/engineChild.ts backfill <definition> <field,field…>
 * Settings come from the environment (DATABASE_URL, GRAPH_BASE_URL, GRAPH_TOKEN, GRAPH_CA_CERT_FILE).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadSettings } from '../../src/config/settings';
import { createEngineContext } from '../../src/core/engine/context';
import { runBackfill } from '../../src/core/engine/backfill';
import { runPull } from '../../src/core/engine/pull';
import { runPush } from '../../src/core/engine/push';
import type { RunSummary } from '../../src/core/engine/types';
import { definitionLockHeldSql } from '../../src/core/store/locks';
import type { Harness } from './engineHarness';
import { nodeArgsFor } from './childNode';
import { eventually } from './eventually';

/** A running engine child: its process, how it exited, and what it wrote to stderr so far. */
export interface EngineChild {
  process: ChildProcess;
  /** The exit code (null when killed by a signal), once the child has exited. */
  exited: Promise<number | null>;
  stderr(): string;
  /** The run's summary, the child's last line, once it has exited; rejects when it failed or printed none. */
  summary(): Promise<RunSummary>;
}

export interface EngineChildOptions {
  /** GRAPH_MAX_CONCURRENCY for the child (default 2: a kill then lands between batches); null: the app's default. */
  maxConcurrency?: number | null;
  /** Further settings for the child (GRAPH_RU_PER_MINUTE, RUN_MAX_SECONDS…), over the defaults. */
  env?: Record<string, string>;
}

/**
 * Starts `node --import tsx engineChild.ts …args` against the harness's database and emulator (its CA in a
 * temporary file), with an unlimited resource-unit budget.
 */
export function spawnEngineChild(
  h: Harness,
  args: [kind: 'push' | 'pull', definition: string] | [kind: 'backfill', definition: string, fields: string],
  options: EngineChildOptions = {},
): EngineChild {
  const { maxConcurrency = 2, env = {} } = options;
  const ca = join(mkdtempSync(join(tmpdir(), 'arcore-engine-child-')), 'ca.pem');
  writeFileSync(ca, h.emulator.caCert);
  const child = spawn(process.execPath, [...nodeArgsFor(__filename), ...args], {
    env: {
      ...process.env,
      DATABASE_URL: h.db.url,
      GRAPH_BASE_URL: h.emulator.baseUrl,
      GRAPH_TOKEN: h.emulator.appToken,
      GRAPH_CA_CERT_FILE: ca,
      GRAPH_RU_PER_MINUTE: '10000000',
      ...(maxConcurrency === null ? {} : { GRAPH_MAX_CONCURRENCY: String(maxConcurrency) }),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (d) => (stderr += String(d)));
  // Read as it comes (progress lines, then the summary): a full pipe would block the child's writes.
  child.stdout?.on('data', (d) => (stdout += String(d)));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const summary = async (): Promise<RunSummary> => {
    const code = await exited;
    const last = stdout.trim().split('\n').pop() ?? '';
    if (code !== 0 || !last.startsWith('{'))
      throw new Error(`engine child ${args.join(' ')} exited ${code}: ${stderr}`);
    return JSON.parse(last) as RunSummary;
  };
  return { process: child, exited, stderr: () => stderr, summary };
}

/**
 * SIGKILLs the child once `condition` holds (polled every 20 ms); true when it was killed, false when it ended
 * first. A child that ends with a failure, or a condition not met within `timeoutMs`, fails the test.
 */
export async function killWhen(
  child: EngineChild,
  condition: () => Promise<boolean>,
  what = 'the kill point',
  timeoutMs = 30_000,
): Promise<boolean> {
  const proc = child.process;
  let killed = false;
  try {
    await eventually(
      what,
      async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return true;
        if (!(await condition())) return false;
        proc.kill('SIGKILL');
        killed = true;
        return true;
      },
      timeoutMs,
      20,
    );
  } finally {
    if (!killed && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
  const code = await child.exited;
  if (!killed && code !== 0) throw new Error(`engine child failed (exit ${code}): ${child.stderr()}`);
  return killed;
}

/**
 * Waits until no session holds the lock of `definition` (I11). A killed child's session, and its lock, outlive
 * the kill by a moment (longer while the session waits on a lock): a rerun before then is SKIPPED, and a
 * skipped rerun must not be read as one that found nothing left to do.
 */
export async function lockReleased(h: Harness, definition: string): Promise<void> {
  const held = definitionLockHeldSql('(SELECT id FROM arcore.sync_definitions WHERE name = $1)');
  await eventually(`the killed run's lock of ${definition} to be released`, async () => {
    const { rows } = await h.db.pool.query<{ held: boolean }>(`SELECT ${held} AS held`, [definition]);
    return !rows[0].held;
  });
}

async function main(): Promise<void> {
  const [direction, name, fields] = process.argv.slice(2);
  const { ctx, close } = await createEngineContext(loadSettings(process.env), {
    onProgress: (p) => process.stdout.write(`progress ${p.done}\n`),
  });
  const summary =
    direction === 'backfill'
      ? await runBackfill(ctx, name, { fields: fields.split(','), trigger: 'test' })
      : direction === 'pull'
        ? await runPull(ctx, name, { trigger: 'test' })
        : await runPush(ctx, name, { trigger: 'test' });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  await close();
}

// Imported by a test, this file only provides the helpers above.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === __filename) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(3);
  });
}
