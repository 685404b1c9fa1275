import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
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
import type { Logger } from '../core/engine/types';
import { upsertDefinitions } from '../core/store/definitions';
import { migrate } from '../core/store/migrate';
import { startEmulator, writeEmulatorEnv, type RunningEmulator } from '../emulator';
import { CERT_FILE } from '../emulator/certificate';
import { startLocalHost } from '../serve';
import { prepareDataDir } from './dataDir';
import { compareSides, describeDisagreement, type AgreementReport } from './agreement';
import { GraphSession } from './graphAsUser';
import { Narrator, plural, runLabel, runResult, type DemoStep } from './narrator';
import { DemoPostgresError, startDemoPostgres } from './postgres';
import {
  createSampleTable,
  DEMO_DEFINITION_NAME,
  DEMO_LIST,
  DEMO_SITE,
  demoDefinition,
  MIN_DEMO_ROWS,
} from './sampleData';
import {
  DEMO_BUSY_RETRY_MS,
  NOTIFICATION_DELAY_MS,
  DemoStepError,
  DemoWorld,
  whenFree,
  requireSucceeded,
} from './world';
import {
  seconds,
  indent,
  writesOf,
  aliceEditsThroughWebhook,
  postgresEditPushed,
  conflictUnderPolicy,
  deletesBothWays,
} from './chapters';

/** A real small tenant's budget (0–1k licences) and the demo's, scaled so 10,000 creates take seconds. */
export const SMALL_TENANT_RU_PER_MINUTE = 1_250;
export const DEMO_RU_PER_MINUTE = 60_000;

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
  } catch (error) {
    // A Postgres that went away explains the connection errors that follow; say so first.
    const gone = world.pg?.exitedUnexpectedly();
    if (gone) throw new DemoPostgresError(gone, { cause: error });
    throw error;
  } finally {
    options.reporter.finish();
    await world.close();
  }
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
  world.host = await startLocalHost({
    ctx: world.ctx,
    port,
    log: setup.log,
    pushIntervalMs: 60_000,
    busyRetryMs: DEMO_BUSY_RETRY_MS,
  });
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
