import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Pool } from 'pg';
import { cliLogger, formatTable, type CliIo } from '../cli/output';
import type { ProgressReporter } from '../cli/progress';
import { untilStopped } from '../cli/signals';
import { loadSettings } from '../config/settings';
import { parseDefinitionsText } from '../core/definition/parse';
import { validateAgainstDatabase } from '../core/definition/validateLive';
import { createEngineContext } from '../core/engine/context';
import { provisionList } from '../core/engine/provision';
import { runPull } from '../core/engine/pull';
import { runPush } from '../core/engine/push';
import type { EngineContext, Logger, RunSummary } from '../core/engine/types';
import { listRuns, type RunRecord } from '../core/ops';
import { upsertDefinitions } from '../core/store/definitions';
import { migrate } from '../core/store/migrate';
import { startEmulator, writeEmulatorEnv, type RunningEmulator } from '../emulator';
import { CERT_FILE } from '../emulator/certificate';
import { startLocalHost, type LocalHost } from '../serve';
import { prepareDataDir } from './dataDir';
import { compareSides, describeDisagreement, type AgreementReport } from './agreement';
import { GraphSession } from './graphAsUser';
import { Narrator, plural, runLabel, runResult, type DemoStep } from './narrator';
import { startDemoPostgres, type DemoPostgres } from './postgres';
import {
  createSampleTable,
  DEMO_DEFINITION_NAME,
  DEMO_LIST,
  DEMO_SITE,
  demoDefinition,
  MIN_DEMO_ROWS,
  STATUSES,
} from './sampleData';

/** A real small tenant's budget (0–1k licences) and the demo's, scaled so 10,000 creates take seconds. */
export const SMALL_TENANT_RU_PER_MINUTE = 1_250;
export const DEMO_RU_PER_MINUTE = 60_000;
/** The sample rows the story edits (the table must have at least MIN_DEMO_ROWS rows). */
const ROW = {
  aliceStatus: 17,
  aliceBudget: 42,
  aliceTags: 99,
  postgresEdit: 7,
  conflict: 100,
  pgDelete: 200,
  spDelete: 300,
};
const WEBHOOK_TIMEOUT_MS = 30_000;
/** The emulator batches notifications this long before delivering them (Graph: seconds to minutes). */
const NOTIFICATION_DELAY_MS = 300;
const CHAPTERS = 9;

export interface DemoOptions {
  dataDir: string;
  rows: number;
  /** Leave everything running after the story and print how to reach it. */
  serve: boolean;
  /** Narrate on stderr; the caller prints the result as JSON. */
  json: boolean;
  verbose: boolean;
  io: CliIo;
  reporter: ProgressReporter;
}

export interface DemoResult {
  dataDir: string;
  databaseUrl: string;
  graphBaseUrl: string;
  steps: DemoStep[];
  agreement: AgreementReport;
  durationMs: number;
}

/** The demo ran, but Postgres and SharePoint do not agree at the end: names what differs. */
export class DemoDisagreementError extends Error {
  constructor(readonly report: AgreementReport) {
    super(`Postgres and SharePoint disagree after the demo:\n  ${describeDisagreement(report).join('\n  ')}`);
    this.name = 'DemoDisagreementError';
  }
}

/** A step of the story did not have the effect it should have had (e.g. no webhook pull arrived). */
export class DemoStepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoStepError';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything the story touches, so it can be closed in one place whatever step failed. */
class DemoWorld {
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

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  if (!Number.isInteger(options.rows) || options.rows < MIN_DEMO_ROWS) {
    throw new DemoStepError(`--rows must be an integer of at least ${MIN_DEMO_ROWS}, got ${options.rows}`);
  }
  const started = Date.now();
  const dataDir = resolve(options.dataDir);
  const io: CliIo = options.json ? { out: options.io.err, err: options.io.err } : options.io;
  const say = new Narrator(io, options.reporter, CHAPTERS);
  const log = cliLogger(options.reporter, options.verbose);
  const world = new DemoWorld();
  try {
    say.say('ArcoreSyncBridge demo: a Postgres table and a SharePoint list, kept in two-way sync.');
    say.say(`Everything runs on this machine; files go to ${dataDir} (emptied first).`);
    prepareDataDir(dataDir);

    say.heading('Starting Postgres (embedded, logical WAL)');
    let t = Date.now();
    world.pg = await startDemoPostgres(dataDir);
    say.line(`ready at 127.0.0.1:${world.pg.port}, data in ${world.pg.dataDir} (${seconds(t)})`);
    if (world.pg.relocatedBecause) say.line(`(not under ${dataDir}: ${world.pg.relocatedBecause})`);

    say.heading('Starting the SharePoint emulator (Microsoft Graph v1.0 over HTTPS)');
    const emulatorDir = join(dataDir, 'emulator');
    world.emulator = await startEmulator({
      port: 0,
      stateDir: emulatorDir,
      throttling: { enabled: true, resourceUnitsPerMinute: DEMO_RU_PER_MINUTE },
      notificationDelayMs: NOTIFICATION_DELAY_MS,
    });
    const emulator = world.emulator;
    const envFile = await writeEmulatorEnv(emulatorDir, emulator);
    const certFile = join(emulatorDir, CERT_FILE);
    say.line(`${emulator.baseUrl}, site ${DEMO_SITE}; users alice and bob; settings in ${envFile}`);
    say.line(
      `throttling on: ${DEMO_RU_PER_MINUTE.toLocaleString('en-US')} resource units a minute, ` +
        `${DEMO_RU_PER_MINUTE / SMALL_TENANT_RU_PER_MINUTE}× a small tenant's ${SMALL_TENANT_RU_PER_MINUTE.toLocaleString('en-US')} ` +
        'so the demo stays fast; the engine paces itself under it',
    );

    const settings = loadSettings({
      DATABASE_URL: world.pg.url,
      GRAPH_BASE_URL: emulator.baseUrl,
      GRAPH_TOKEN: emulator.appToken,
      GRAPH_CA_CERT_FILE: certFile,
      GRAPH_RU_PER_MINUTE: String(DEMO_RU_PER_MINUTE),
      GRAPH_MAX_CONCURRENCY: '8',
    });
    world.engine = await createEngineContext(settings, {
      log,
      onProgress: (event) => options.reporter.onProgress(event),
      caCert: emulator.caCert,
    });
    world.aliceSession = new GraphSession(emulator.baseUrl, emulator.caCert, emulator.userToken('alice'));
    world.appSession = new GraphSession(emulator.baseUrl, emulator.caCert, emulator.appToken);

    say.heading(`Creating the metadata store and the sample table (${plural(options.rows, 'row')})`);
    t = Date.now();
    const migrated = await migrate(world.meta);
    await createSampleTable(world.meta, options.rows);
    say.line(`schema arcore: migrations ${migrated.applied.join(', ')} applied`);
    say.line(
      'public.projects: name text, budget numeric(12,2), due date, status (choice), tags text[] (multi-choice), ' +
        `owner text, updated_at kept current by a trigger (${seconds(t)})`,
    );

    say.heading(`Saving definition "${DEMO_DEFINITION_NAME}" and provisioning the list "${DEMO_LIST}"`);
    const definitionsFile = join(dataDir, 'definitions.json');
    const definitionsText = `${JSON.stringify({ definitions: [demoDefinition()] }, null, 2)}\n`;
    writeFileSync(definitionsFile, definitionsText);
    const defs = parseDefinitionsText(definitionsText, definitionsFile).definitions;
    const live = await validateAgainstDatabase(defs[0], world.meta);
    if (live.errors.length > 0) {
      throw new DemoStepError(
        `the demo definition failed its live check: ${live.errors.map((e) => e.message).join('; ')}`,
      );
    }
    await upsertDefinitions(world.meta, defs);
    say.line(
      `${definitionsFile}: every column mapped both ways, conflicts MERGE (per field), deletes propagated`,
    );
    const provisioned = await provisionList(world.ctx, DEMO_DEFINITION_NAME);
    world.listId = provisioned.listId;
    world.siteId = await world.app.siteId(DEMO_SITE);
    say.line(
      `list ${provisioned.listCreated ? 'created' : 'found'} with columns ${provisioned.columnsAdded.join(', ')} ` +
        '(types from the Postgres columns; ArcoreKey is the hidden indexed identity column)',
    );

    say.heading(`Initial push: ${plural(options.rows, 'row')} → SharePoint`);
    const firstPush = await runPush(world.ctx, DEMO_DEFINITION_NAME, { trigger: 'demo' });
    requireSucceeded(firstPush);
    say.line(
      `${runLabel(firstPush)}: ${runResult(firstPush)}; ${firstPush.graphRequests.toLocaleString('en-US')} Graph requests ` +
        `($batch of 20), ${firstPush.resourceUnits.toLocaleString('en-US')} resource units, ` +
        `${(firstPush.throttleWaitMs / 1000).toFixed(1)}s waiting on throttling`,
    );
    say.line(
      `at a real small tenant's ${SMALL_TENANT_RU_PER_MINUTE.toLocaleString('en-US')} units a minute this push would take ` +
        `about ${Math.ceil(firstPush.resourceUnits / SMALL_TENANT_RU_PER_MINUTE)} minutes`,
    );
    say.record({
      step: 'Initial push',
      direction: 'Postgres → SharePoint',
      run: runLabel(firstPush),
      result: runResult(firstPush),
    });
    const firstPull = await runPull(world.ctx, DEMO_DEFINITION_NAME, { trigger: 'demo' });
    requireSucceeded(firstPull);
    say.line(
      `${runLabel(firstPull)}: the first pull reads the whole list through Graph delta: ${runResult(firstPull)}; ` +
        'every item is our own write (its values equal the ledger), so nothing goes back to Postgres',
    );
    say.record({
      step: 'First pull (delta link)',
      direction: 'SharePoint → Postgres',
      run: runLabel(firstPull),
      result: runResult(firstPull),
    });

    // A webhook pull that meets one of our runs is deferred and retried (I11): expected, so not a warning here.
    const hostLog: Logger = {
      info: log.info,
      warn: options.verbose ? log.warn : () => undefined,
      error: log.error,
    };
    await aliceEditsThroughWebhook(world, say, hostLog);
    await postgresEditPushed(world, say);
    await conflictUnderPolicy(world, say);
    await deletesBothWays(world, say);

    // Final check: one more pull and push must find nothing to do (I4), then compare field by field.
    await world.host?.idle();
    const finalPull = await whenFree(world, () =>
      runPull(world.ctx, DEMO_DEFINITION_NAME, { trigger: 'demo' }),
    );
    const finalPush = await whenFree(world, () =>
      runPush(world.ctx, DEMO_DEFINITION_NAME, { trigger: 'demo' }),
    );
    requireSucceeded(finalPull);
    requireSucceeded(finalPush);
    say.record({
      step: 'Quiet sync (nothing left)',
      direction: 'both',
      run: `${runLabel(finalPull)}, ${runLabel(finalPush)}`,
      result: `pull ${writesOf(finalPull)}, push ${writesOf(finalPush)}`,
    });
    const agreement = await compareSides(world.ctx, DEMO_DEFINITION_NAME);

    say.say('');
    say.say('What happened:');
    say.say(
      indent(
        formatTable(
          ['STEP', 'DIRECTION', 'RUN', 'RESULT'],
          say.steps.map((s) => [s.step, s.direction, s.run, s.result]),
        ),
      ),
    );
    say.say('');
    say.say('Both sides, compared row by row and field by field (read back through Graph):');
    say.say(
      indent(
        formatTable(
          ['POSTGRES ROWS', 'SHAREPOINT ITEMS', 'PAIRED', 'FIELDS COMPARED', 'DIFFERENCES', 'UNPAIRED'],
          [
            [
              agreement.rows,
              agreement.items,
              agreement.paired,
              agreement.fieldsCompared,
              agreement.differences,
              agreement.unpaired,
            ],
          ],
        ),
      ),
    );
    if (!agreement.agree) throw new DemoDisagreementError(agreement);
    say.say('');
    say.say(`Both sides agree. Demo finished in ${seconds(started)}.`);

    const result: DemoResult = {
      dataDir,
      databaseUrl: world.pg.url,
      graphBaseUrl: emulator.baseUrl,
      steps: say.steps,
      agreement,
      durationMs: Date.now() - started,
    };
    if (options.serve) {
      await serveUntilStopped(world, say, {
        dataDir,
        databaseUrl: world.pg.url,
        emulator,
        certFile,
        envFile,
        log: hostLog,
      });
    }
    return result;
  } finally {
    options.reporter.finish();
    await world.close();
  }
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)}s`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

function writesOf(s: RunSummary): string {
  const writes = s.created + s.updated + s.deleted;
  return writes === 0 ? 'wrote nothing' : `wrote ${writes}`;
}

function requireSucceeded(summary: RunSummary): void {
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
async function whenFree(world: DemoWorld, run: () => Promise<RunSummary>): Promise<RunSummary> {
  for (let attempt = 0; attempt < 40; attempt++) {
    await world.host?.idle();
    const summary = await run();
    if (summary.status !== 'SKIPPED') return summary;
    await sleep(250);
  }
  throw new DemoStepError('the definition stayed locked by another run for 10 seconds');
}

async function itemIdOf(meta: Pool, rowId: number): Promise<string> {
  const { rows } = await meta.query<{ sp_item_id: string }>(
    `SELECT l.sp_item_id FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
      WHERE d.name = $1 AND l.source_identity->>'id' = $2`,
    [DEMO_DEFINITION_NAME, String(rowId)],
  );
  if (rows.length === 0) throw new DemoStepError(`row ${rowId} has no SharePoint item in the ledger`);
  return rows[0].sp_item_id;
}

interface ProjectRow {
  id: number;
  name: string;
  budget: string | null;
  due: string | null;
  status: string;
  tags: string[];
  owner: string | null;
}

async function projectRow(meta: Pool, id: number): Promise<ProjectRow | null> {
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
async function settled(world: DemoWorld): Promise<Date> {
  const deadline = Date.now() + WEBHOOK_TIMEOUT_MS;
  let quietChecks = 0;
  while (quietChecks < 2) {
    if (Date.now() > deadline) throw new DemoStepError('the local host did not become idle within 30s');
    await world.host?.idle();
    const { rows } = await world.meta.query<{ busy: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM arcore.pending_pulls)
           OR EXISTS (SELECT 1 FROM arcore.sync_runs WHERE status = 'RUNNING') AS busy`,
    );
    quietChecks = rows[0].busy ? 0 : quietChecks + 1;
    await sleep(NOTIFICATION_DELAY_MS + 100);
  }
  return new Date();
}

/**
 * Waits until `done()` holds, checking after each webhook-driven run the local host completes, and
 * returns the pulls that ran since `since`. Fails naming `what` after WEBHOOK_TIMEOUT_MS.
 */
async function afterWebhook(
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
        r.runType === 'INGRESS' &&
        r.status !== 'RUNNING' &&
        r.status !== 'SKIPPED' &&
        new Date(r.startedAt) >= since,
    )
    .reverse();
}

function pullsLabel(runs: RunRecord[]): string {
  return runs.length === 0 ? 'pull' : runs.map((r) => `pull #${r.runId}`).join(', ');
}

function pullsResult(runs: RunRecord[]): string {
  const sum = (k: 'updated' | 'created' | 'deleted' | 'skipped' | 'conflicts' | 'failed') =>
    runs.reduce((a, r) => a + r[k], 0);
  const parts = (['updated', 'created', 'deleted', 'skipped', 'conflicts', 'failed'] as const)
    .filter((k) => sum(k) > 0)
    .map((k) => `${k} ${sum(k)}`);
  return parts.length === 0 ? 'nothing to do' : parts.join(', ');
}

function differentStatus(current: unknown): string {
  const index = STATUSES.indexOf(String(current) as (typeof STATUSES)[number]);
  return STATUSES[(index + 1) % STATUSES.length];
}

function show(value: unknown): string {
  return JSON.stringify(value ?? null);
}

async function aliceEditsThroughWebhook(world: DemoWorld, say: Narrator, hostLog: Logger): Promise<void> {
  say.heading('Alice edits three items in SharePoint; a webhook brings them into Postgres');
  world.host = await startLocalHost({ ctx: world.ctx, port: 0, log: hostLog, pushIntervalMs: 3_600_000 });
  await world.host.idle();
  const { rows: subs } = await world.meta.query<{ subscription_id: string }>(
    'SELECT subscription_id FROM arcore.graph_subscriptions WHERE state = $1',
    ['ACTIVE'],
  );
  if (subs.length === 0) throw new DemoStepError('the local host created no Graph subscription for the list');
  say.line(
    `local host at ${world.host.url}; Graph subscription ${subs[0].subscription_id} → ${world.host.notificationUrl}`,
  );

  const alice = world.alice;
  const statusItem = await itemIdOf(world.meta, ROW.aliceStatus);
  const budgetItem = await itemIdOf(world.meta, ROW.aliceBudget);
  const tagsItem = await itemIdOf(world.meta, ROW.aliceTags);
  const before = {
    status: await alice.getItem(world.siteId, world.listId, statusItem),
    budget: await alice.getItem(world.siteId, world.listId, budgetItem),
    tags: await alice.getItem(world.siteId, world.listId, tagsItem),
  };
  const newStatus = differentStatus(before.status.fields.Status);
  const newBudget = 250000.5;
  const newDue = '2026-06-30T00:00:00Z';
  const currentTags = JSON.stringify([...((before.tags.fields.Tags as string[] | undefined) ?? [])].sort());
  const newTags =
    currentTags === JSON.stringify(['Customer', 'Research']) ? ['Finance'] : ['Research', 'Customer'];

  const since = await settled(world);
  await alice.updateFields(world.siteId, world.listId, statusItem, { Status: newStatus });
  await alice.updateFields(world.siteId, world.listId, budgetItem, { Budget: newBudget, DueDate: newDue });
  await alice.updateFields(world.siteId, world.listId, tagsItem, {
    'Tags@odata.type': 'Collection(Edm.String)',
    Tags: newTags,
  });
  say.line(
    `item ${statusItem} (row ${ROW.aliceStatus}): Status ${show(before.status.fields.Status)} → ${show(newStatus)}`,
  );
  say.line(
    `item ${budgetItem} (row ${ROW.aliceBudget}): Budget ${show(before.budget.fields.Budget)} → ${newBudget}, ` +
      `DueDate ${show(before.budget.fields.DueDate)} → ${show(newDue)}`,
  );
  say.line(
    `item ${tagsItem} (row ${ROW.aliceTags}): Tags ${show(before.tags.fields.Tags)} → ${show(newTags)}`,
  );

  const pulls = await afterWebhook(world, since, "Alice's edits reaching Postgres", async () => {
    const [a, b, c] = await Promise.all([
      projectRow(world.meta, ROW.aliceStatus),
      projectRow(world.meta, ROW.aliceBudget),
      projectRow(world.meta, ROW.aliceTags),
    ]);
    return (
      a?.status === newStatus &&
      Number(b?.budget) === newBudget &&
      b?.due === newDue.slice(0, 10) &&
      JSON.stringify([...(c?.tags ?? [])].sort()) === JSON.stringify([...newTags].sort())
    );
  });
  const rows = await Promise.all(
    [ROW.aliceStatus, ROW.aliceBudget, ROW.aliceTags].map((id) => projectRow(world.meta, id)),
  );
  say.line(`Graph notified the webhook; ${pullsLabel(pulls)} (trigger webhook): ${pullsResult(pulls)}`);
  say.line(
    `Postgres now: row ${ROW.aliceStatus} status ${show(rows[0]?.status)}; row ${ROW.aliceBudget} budget ${rows[1]?.budget}, ` +
      `due ${rows[1]?.due}; row ${ROW.aliceTags} tags ${show(rows[2]?.tags)}`,
  );
  say.record({
    step: "Alice's 3 edits via webhook",
    direction: 'SharePoint → Postgres',
    run: pullsLabel(pulls),
    result: pullsResult(pulls),
  });

  const echo = await whenFree(world, () => runPush(world.ctx, DEMO_DEFINITION_NAME, { trigger: 'demo' }));
  requireSucceeded(echo);
  say.line(
    `${runLabel(echo)}: ${runResult(echo)}. A push re-reads 5 minutes behind its cursor (the overlap that catches ` +
      'late commits), here every row, the 3 the pull wrote among them; each equals the values in the ledger, ' +
      'so it is an echo of a sync and nothing is written back: no loop',
  );
  say.record({
    step: 'Echo check',
    direction: 'Postgres → SharePoint',
    run: runLabel(echo),
    result: runResult(echo),
  });
}

async function postgresEditPushed(world: DemoWorld, say: Narrator): Promise<void> {
  say.heading('A Postgres edit is pushed to SharePoint');
  const before = await projectRow(world.meta, ROW.postgresEdit);
  const newOwner = before?.owner === 'Grace Kim' ? 'Dev Patel' : 'Grace Kim';
  await world.meta.query('UPDATE public.projects SET owner = $2, budget = budget + 1000 WHERE id = $1', [
    ROW.postgresEdit,
    newOwner,
  ]);
  const after = await projectRow(world.meta, ROW.postgresEdit);
  say.line(
    `UPDATE projects SET owner = '${newOwner}', budget = budget + 1000 WHERE id = ${ROW.postgresEdit}: ` +
      `owner ${show(before?.owner)} → ${show(after?.owner)}, budget ${before?.budget} → ${after?.budget}`,
  );
  const since = await settled(world);
  const push = await whenFree(world, () => runPush(world.ctx, DEMO_DEFINITION_NAME, { trigger: 'demo' }));
  requireSucceeded(push);
  const itemId = await itemIdOf(world.meta, ROW.postgresEdit);
  const item = await world.app.getItem(world.siteId, world.listId, itemId);
  say.line(
    `${runLabel(push)}: ${runResult(push)}; item ${itemId} now has Owner ${show(item.fields.Owner)}, Budget ${show(item.fields.Budget)}`,
  );
  if (item.fields.Owner !== newOwner) throw new DemoStepError(`item ${itemId} did not receive the new owner`);
  say.record({
    step: 'Postgres edit (row 7)',
    direction: 'Postgres → SharePoint',
    run: runLabel(push),
    result: runResult(push),
  });

  // Graph notifies us of our own write too: the pull it starts must recognise it and write nothing.
  const pulls = await afterWebhook(world, since, 'the notification of our own write', async () => {
    const runs = await listRuns(world.meta, DEMO_DEFINITION_NAME, 10);
    return runs.some(
      (r) => r.runType === 'INGRESS' && r.status !== 'RUNNING' && new Date(r.startedAt) >= since,
    );
  });
  say.line(
    `our write came back as a notification; ${pullsLabel(pulls)}: ${pullsResult(pulls)}: ` +
      'the item equals the ledger, so it is an echo (loop prevention)',
  );
  say.record({
    step: 'Own write notified back',
    direction: 'SharePoint → Postgres',
    run: pullsLabel(pulls),
    result: pullsResult(pulls),
  });
}

async function conflictUnderPolicy(world: DemoWorld, say: Narrator): Promise<void> {
  say.heading(`A conflict: row ${ROW.conflict} edited in both places before they sync`);
  const before = await projectRow(world.meta, ROW.conflict);
  const itemId = await itemIdOf(world.meta, ROW.conflict);
  const item = await world.alice.getItem(world.siteId, world.listId, itemId);
  const newBudget = Number(before?.budget ?? 0) + 7777;
  const newStatus = differentStatus(item.fields.Status);
  // Conflicts are detected per field: only Title, edited on both sides, is one; budget and Status are kept.
  const pgTitle = `${before?.name ?? ''} (budget review)`;
  const spTitle = `${String(item.fields.Title ?? '')} (Alice)`;
  const since = await settled(world);
  await world.meta.query('UPDATE public.projects SET budget = $2, name = $3 WHERE id = $1', [
    ROW.conflict,
    newBudget,
    pgTitle,
  ]);
  await world.alice.updateFields(world.siteId, world.listId, itemId, { Status: newStatus, Title: spTitle });
  say.line(`in Postgres: budget ${before?.budget} → ${newBudget.toFixed(2)}, name → ${show(pgTitle)}`);
  say.line(
    `in SharePoint, Alice: Status ${show(item.fields.Status)} → ${show(newStatus)}, Title → ${show(spTitle)} (item ${itemId})`,
  );

  const conflictQuery = `SELECT c.id::text AS id, c.policy, c.outcome, c.status, c.detected_by
      FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
     WHERE d.name = $1 AND c.source_identity->>'id' = $2 AND c.created_at >= $3 ORDER BY c.id DESC LIMIT 1`;
  const found = () =>
    world.meta.query<{ id: string; policy: string; outcome: string; status: string; detected_by: string }>(
      conflictQuery,
      [DEMO_DEFINITION_NAME, String(ROW.conflict), since],
    );
  const pulls = await afterWebhook(
    world,
    since,
    'the conflict being detected',
    async () => (await found()).rows.length > 0,
  );
  const conflict = (await found()).rows[0];
  say.line(
    `${pullsLabel(pulls)} (webhook) found Title changed on both sides since the last sync: conflict ${conflict.id}, ` +
      `policy ${conflict.policy}, outcome ${conflict.outcome}, ${conflict.status}`,
  );
  const push = await whenFree(world, () => runPush(world.ctx, DEMO_DEFINITION_NAME, { trigger: 'demo' }));
  requireSucceeded(push);
  await world.host?.idle();
  const row = await projectRow(world.meta, ROW.conflict);
  const after = await world.app.getItem(world.siteId, world.listId, itemId);
  say.line(`${runLabel(push)}: ${runResult(push)}`);
  say.line(
    `the edits to different fields are both kept: Postgres budget ${row?.budget}, status ${show(row?.status)}; ` +
      `SharePoint Budget ${show(after.fields.Budget)}, Status ${show(after.fields.Status)}`,
  );
  say.line(`Title, edited on both sides, went to MERGE's tie-breaker (the later edit): ${show(row?.name)}`);
  if (
    row?.status !== newStatus ||
    Number(after.fields.Budget) !== newBudget ||
    row?.name !== after.fields.Title ||
    (row?.name !== pgTitle && row?.name !== spTitle)
  ) {
    throw new DemoStepError(`conflict ${conflict.id} did not end with both edits on both sides`);
  }
  say.record({
    step: `Conflict on row ${ROW.conflict}`,
    direction: 'both',
    run: `${pullsLabel(pulls)}, ${runLabel(push)}`,
    result: `${conflict.policy}: ${conflict.outcome}, ${conflict.status.toLowerCase()}`,
  });
}

async function deletesBothWays(world: DemoWorld, say: Narrator): Promise<void> {
  say.heading('Deletes in each direction');
  const pgDeletedItem = await itemIdOf(world.meta, ROW.pgDelete);
  await world.meta.query('DELETE FROM public.projects WHERE id = $1', [ROW.pgDelete]);
  say.line(`DELETE FROM projects WHERE id = ${ROW.pgDelete} (item ${pgDeletedItem})`);
  const push = await whenFree(world, () => runPush(world.ctx, DEMO_DEFINITION_NAME, { trigger: 'demo' }));
  requireSucceeded(push);
  const gone = await world.app
    .getItem(world.siteId, world.listId, pgDeletedItem)
    .then(() => false)
    .catch(() => true);
  say.line(
    `${runLabel(push)}: ${runResult(push)}; item ${pgDeletedItem} ${gone ? 'is gone from the list' : 'STILL EXISTS'}`,
  );
  if (!gone) throw new DemoStepError(`item ${pgDeletedItem} was not deleted`);
  say.record({
    step: `Delete row ${ROW.pgDelete}`,
    direction: 'Postgres → SharePoint',
    run: runLabel(push),
    result: runResult(push),
  });

  const spDeletedItem = await itemIdOf(world.meta, ROW.spDelete);
  const since = await settled(world);
  await world.alice.deleteItem(world.siteId, world.listId, spDeletedItem);
  say.line(`Alice deletes item ${spDeletedItem} (row ${ROW.spDelete}) in SharePoint`);
  const pulls = await afterWebhook(
    world,
    since,
    `row ${ROW.spDelete} being deleted`,
    async () => (await projectRow(world.meta, ROW.spDelete)) === null,
  );
  say.line(
    `${pullsLabel(pulls)} (webhook): ${pullsResult(pulls)}; row ${ROW.spDelete} is gone from Postgres`,
  );
  say.record({
    step: `Delete item of row ${ROW.spDelete}`,
    direction: 'SharePoint → Postgres',
    run: pullsLabel(pulls),
    result: pullsResult(pulls),
  });
}

async function serveUntilStopped(
  world: DemoWorld,
  say: Narrator,
  setup: {
    dataDir: string;
    databaseUrl: string;
    emulator: RunningEmulator;
    certFile: string;
    envFile: string;
    log: Logger;
  },
): Promise<void> {
  // The story ran without scheduled pushes (to keep its counts exact); from now on they run every minute.
  const port = Number(new URL(world.localHost.url).port);
  await world.localHost.stop();
  world.host = await startLocalHost({ ctx: world.ctx, port, log: setup.log, pushIntervalMs: 60_000 });
  await world.meta.query(
    `UPDATE arcore.sync_definitions SET schedule = '0 * * * * *', document = jsonb_set(document, '{schedule}', '"0 * * * * *"')
      WHERE name = $1`,
    [DEMO_DEFINITION_NAME],
  );
  const { emulator, dataDir } = setup;
  const env = {
    DATABASE_URL: setup.databaseUrl,
    GRAPH_BASE_URL: emulator.baseUrl,
    GRAPH_TOKEN: emulator.appToken,
    GRAPH_CA_CERT_FILE: setup.certFile,
    GRAPH_RU_PER_MINUTE: String(DEMO_RU_PER_MINUTE),
    ALICE_TOKEN: emulator.userToken('alice'),
    OPS_API_URL: `${world.host.url}/api/ops`,
  };
  const envFile = join(dataDir, 'demo.env');
  writeFileSync(
    envFile,
    `${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
    { mode: 0o600 },
  );
  say.say('');
  say.say('Everything is still running (--serve). Press Ctrl-C to stop; the demo database is deleted then.');
  for (const [k, v] of Object.entries(env)) say.say(`  ${k}=${v}`);
  say.say(`  (saved in ${envFile}; the emulator's own settings and bob's token are in ${setup.envFile})`);
  say.say('  Postgres pushes run every minute; SharePoint edits arrive through the webhook within seconds.');
  say.say('Try, in another terminal:');
  say.say(`  set -a; . ${envFile}; set +a`);
  say.say(`  npx arcore-sync status ${DEMO_DEFINITION_NAME}        # in the repository`);
  say.say(`  curl -s "$OPS_API_URL/definitions/${DEMO_DEFINITION_NAME}/runs"`);
  say.say(
    `  curl -s --cacert "$GRAPH_CA_CERT_FILE" -H "Authorization: Bearer $ALICE_TOKEN" "$LIST_ITEMS_URL?\\$top=3&\\$expand=fields"`,
  );
  say.say(
    `  curl -s -X PATCH --cacert "$GRAPH_CA_CERT_FILE" -H "Authorization: Bearer $ALICE_TOKEN" ` +
      `-H 'content-type: application/json' -d '{"Status":"Done"}' "$LIST_ITEMS_URL/1/fields"`,
  );
  const signal = await untilStopped();
  say.say(`${signal}: stopping Postgres, the emulator and the local host`);
}
