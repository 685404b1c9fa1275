/** The demo's world (Postgres, emulator, engine, local host) and the helpers its chapters use to act on it and wait for it. */
import type { Pool } from 'pg';
import type { EngineContext, RunSummary } from '../core/engine/types';
import { listRuns, type RunRecord } from '../core/ops';
import { type RunningEmulator } from '../emulator';
import { type LocalHost } from '../serve';
import { GraphSession } from './graphAsUser';
import { runLabel } from './narrator';
import { type DemoPostgres } from './postgres';
import { DEMO_DEFINITION_NAME } from './sampleData';

/** The sample rows the story edits (the table must have at least MIN_DEMO_ROWS rows). */
export const ROW = {
  aliceStatus: 17,
  aliceBudget: 42,
  aliceTags: 99,
  postgresEdit: 7,
  conflict: 100,
  pgDelete: 200,
  spDelete: 300,
};
export const WEBHOOK_TIMEOUT_MS = 30_000;
/**
 * How soon the local host tries a webhook pull again that found the definition locked by one of the story's own
 * runs (they last a second or two). The host's default, 30 s as in Azure, made such a step wait 30 s, and under
 * load outlast WEBHOOK_TIMEOUT_MS: the demo then failed on a host that was only waiting.
 */
export const DEMO_BUSY_RETRY_MS = 1_000;
/** The emulator batches notifications this long before delivering them (Graph: seconds to minutes). */
export const NOTIFICATION_DELAY_MS = 300;

/** A step of the story did not have the effect it should have had (e.g. no webhook pull arrived). */
export class DemoStepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoStepError';
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything the story touches, so it can be closed in one place whatever step failed. */
export class DemoWorld {
  pg: DemoPostgres | undefined;
  emulator: RunningEmulator | undefined;
  engine: { ctx: EngineContext; close(): Promise<void> } | undefined;
  host: LocalHost | undefined;
  aliceSession: GraphSession | undefined;
  appSession: GraphSession | undefined;
  siteId = '';
  listId = '';

  private static need<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new Error(`demo: ${what} is not started yet`);
    return value;
  }

  get ctx(): EngineContext {
    return DemoWorld.need(this.engine, 'the engine').ctx;
  }

  /** Graph as the user alice: edits "in SharePoint". */
  get alice(): GraphSession {
    return DemoWorld.need(this.aliceSession, "alice's Graph session");
  }

  /** Graph as the app: reads the list back for the narration and the final check. */
  get app(): GraphSession {
    return DemoWorld.need(this.appSession, "the app's Graph session");
  }

  get localHost(): LocalHost {
    return DemoWorld.need(this.host, 'the local host');
  }

  get meta(): Pool {
    return this.ctx.meta;
  }

  async close(): Promise<void> {
    await this.host?.stop().catch(() => undefined);
    await this.aliceSession?.close().catch(() => undefined);
    await this.appSession?.close().catch(() => undefined);
    await this.engine?.close().catch(() => undefined);
    await this.emulator?.stop().catch(() => undefined);
    await this.pg?.stop().catch(() => undefined);
  }
}

export function requireSucceeded(summary: RunSummary): void {
  if (summary.status !== 'SUCCEEDED') {
    throw new DemoStepError(
      `${runLabel(summary)} ended ${summary.status}${summary.error ? `: ${summary.error}` : ''}` +
        (summary.failed > 0
          ? ` (${summary.failed} failed; see "arcore-sync failures ${summary.definition}")`
          : ''),
    );
  }
}

/** Runs an engine run, retrying while the local host's own run of the definition holds the lock. */
export async function whenFree(world: DemoWorld, run: () => Promise<RunSummary>): Promise<RunSummary> {
  for (let attempt = 0; attempt < 40; attempt++) {
    await world.host?.idle();
    const summary = await run();
    if (summary.status !== 'SKIPPED') return summary;
    await sleep(250);
  }
  throw new DemoStepError('the definition stayed locked by another run for 10 seconds');
}

export async function itemIdOf(meta: Pool, rowId: number): Promise<string> {
  const { rows } = await meta.query<{ sp_item_id: string }>(
    `SELECT l.sp_item_id FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
      WHERE d.name = $1 AND l.source_identity->>'id' = $2`,
    [DEMO_DEFINITION_NAME, String(rowId)],
  );
  if (rows.length === 0) throw new DemoStepError(`row ${rowId} has no SharePoint item in the ledger`);
  return rows[0].sp_item_id;
}

export interface ProjectRow {
  id: number;
  name: string;
  budget: string | null;
  due: string | null;
  status: string;
  tags: string[];
  owner: string | null;
}

export async function projectRow(meta: Pool, id: number): Promise<ProjectRow | null> {
  const { rows } = await meta.query<ProjectRow>(
    'SELECT id, name, budget::text AS budget, due::text AS due, status, tags, owner FROM public.projects WHERE id = $1',
    [id],
  );
  return rows[0] ?? null;
}

/**
 * Waits until the local host has nothing left to do: no queued or running work, no pull pending, no run
 * in progress, and no notification still on its way (the emulator delivers them after a short delay).
 * Returns the moment from which new runs belong to the next step of the story.
 */
export async function settled(world: DemoWorld): Promise<Date> {
  const deadline = Date.now() + WEBHOOK_TIMEOUT_MS;
  let quietChecks = 0;
  while (quietChecks < 2) {
    const idle = world.host?.idle() ?? Promise.resolve();
    const left = deadline - Date.now();
    const timedOut =
      left <= 0 ||
      (await Promise.race([
        idle.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), left).unref()),
      ]));
    if (timedOut)
      throw new DemoStepError(`the local host did not become idle within 30s: ${await busyWith(world)}`);
    const { rows } = await world.meta.query<{ busy: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM arcore.pending_pulls)
           OR EXISTS (SELECT 1 FROM arcore.sync_runs WHERE status = 'RUNNING') AS busy`,
    );
    quietChecks = rows[0].busy ? 0 : quietChecks + 1;
    await sleep(NOTIFICATION_DELAY_MS + 100);
  }
  return new Date();
}

/** What keeps the local host busy: its queue, the pulls wanted and the runs in progress. */
async function busyWith(world: DemoWorld): Promise<string> {
  const parts: string[] = [];
  const work = world.host?.pendingWork();
  if (work) {
    if (work.running.length > 0) parts.push(`running ${work.running.join(', ')}`);
    if (work.queued.length > 0) parts.push(`queued ${work.queued.join(', ')}`);
    if (work.delayed.length > 0) parts.push(`waiting ${work.delayed.join(', ')}`);
    if (work.tracked > 0) parts.push(`${work.tracked} timer tick(s) in progress`);
  }
  const pulls = await world.meta.query<{ reason: string; message_sent: boolean; age: string }>(
    `SELECT reason, message_sent, round(extract(epoch FROM now() - requested_at))::text AS age FROM arcore.pending_pulls`,
  );
  for (const p of pulls.rows)
    parts.push(`a pull wanted ${p.age}s ago (${p.reason}; message ${p.message_sent ? 'sent' : 'owed'})`);
  const runs = await world.meta.query<{ id: string; run_type: string; trigger: string; age: string }>(
    `SELECT id::text, run_type, trigger, round(extract(epoch FROM now() - started_at))::text AS age
       FROM arcore.sync_runs WHERE status = 'RUNNING'`,
  );
  for (const r of runs.rows)
    parts.push(`${r.run_type.toLowerCase()} #${r.id} (${r.trigger}) running for ${r.age}s`);
  return parts.length > 0 ? parts.join('; ') : 'nothing left by the time this was checked';
}

/**
 * Waits until `done()` holds, checking after each webhook-driven run the local host completes, and
 * returns the pulls that ran since `since`. Fails naming `what` after WEBHOOK_TIMEOUT_MS.
 */
export async function afterWebhook(
  world: DemoWorld,
  since: Date,
  what: string,
  done: () => Promise<boolean>,
): Promise<RunRecord[]> {
  const deadline = Date.now() + WEBHOOK_TIMEOUT_MS;
  for (;;) {
    await sleep(200);
    await world.host?.idle();
    if (await done()) break;
    if (Date.now() > deadline) {
      throw new DemoStepError(
        `${what} did not happen within ${WEBHOOK_TIMEOUT_MS / 1000}s: no notification reached ${world.host?.notificationUrl}, ` +
          'or the pull it started failed (run with --verbose to see the local host log)',
      );
    }
  }
  const runs = await listRuns(world.meta, DEMO_DEFINITION_NAME, 50);
  return runs
    .filter(
      (r) =>
        r.runType === 'PULL' &&
        r.status !== 'RUNNING' &&
        r.status !== 'SKIPPED' &&
        new Date(r.startedAt) >= since,
    )
    .reverse();
}
