import type { Pool } from 'pg';
import { loadSettings, resolveConnectionString, type Settings } from '../config/settings';
import { parseConnectionString } from '../core/db/connectionString';
import type { EngineContext } from '../core/engine/types';
import { CliUsageError, type FailureContext } from './failures';
import { cliEnvironment } from './localSettings';
import { cliLogger, type CliIo } from './output';
import { createProgressReporter, type ProgressReporter } from './progress';

/** What a CLI process sees of the outside world; tests and the demo pass their own. */
export interface CliDeps {
  io: CliIo;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Draw progress bars (stdout and stderr are terminals). */
  interactive: boolean;
  /** Where progress bars and plain progress lines go. */
  progressStream: NodeJS.WritableStream;
}

export interface GlobalOptions {
  verbose: boolean;
  /** The command was given --json: stdout is one JSON object, on failure too. */
  json?: boolean;
  /** The command prints a failed run's error itself (push, pull, sync): the engine's log line would repeat it. */
  runFailuresPrinted?: boolean;
}

/** Setting names whose values are secret: never printed, even inside an error message. */
const SECRET_SETTINGS = ['GRAPH_TOKEN', 'GRAPH_CLIENT_SECRET'];

/**
 * The resources of one CLI invocation, created on first use and closed once at the end: settings
 * (environment over local.settings.json), the metadata pool, source pools and the engine context.
 */
export class CliRuntime {
  private cachedEnv: NodeJS.ProcessEnv | undefined;
  private cachedSettings: Settings | undefined;
  private meta: Pool | undefined;
  private readonly sources = new Map<string, Pool>();
  private engine: { ctx: EngineContext; close(): Promise<void> } | undefined;
  readonly reporter: ProgressReporter;

  constructor(
    readonly deps: CliDeps,
    readonly options: GlobalOptions,
  ) {
    this.reporter = createProgressReporter({
      interactive: deps.interactive,
      stream: deps.progressStream,
      verbose: options.verbose,
    });
  }

  get io(): CliIo {
    return this.deps.io;
  }

  env(): NodeJS.ProcessEnv {
    this.cachedEnv ??= cliEnvironment(this.deps.cwd, this.deps.env);
    return this.cachedEnv;
  }

  settings(): Settings {
    this.cachedSettings ??= loadSettings(this.env());
    return this.cachedSettings;
  }

  // Pools and the engine are imported on first use: `--help` and usage errors never load them.
  async metaPool(): Promise<Pool> {
    if (!this.meta) {
      const settings = this.settings();
      const { poolFromSettings } = await import('../core/db/pool.js');
      this.meta ??= poolFromSettings(settings);
    }
    return this.meta;
  }

  /** Pool of a definition's source connection ('default' shares the metadata pool). */
  async sourcePool(connection: string): Promise<Pool> {
    if (connection === 'default') return this.metaPool();
    let pool = this.sources.get(connection);
    if (!pool) {
      const settings = this.settings();
      const { createPool } = await import('../core/db/pool.js');
      pool = createPool({
        connectionString: resolveConnectionString(connection, settings, this.env()),
        auth: settings.DATABASE_AUTH,
      });
      this.sources.set(connection, pool);
    }
    return pool;
  }

  /** The engine context, with progress and log lines routed to this process's reporter. */
  async engineContext(): Promise<EngineContext> {
    if (!this.engine) {
      const settings = this.settings();
      const { createEngineContext } = await import('../core/engine/context.js');
      this.engine = await createEngineContext(settings, {
        log: cliLogger(this.reporter, this.options.verbose, this.options.runFailuresPrinted),
        onProgress: (event) => this.reporter.onProgress(event),
        env: this.env(),
      });
    }
    return this.engine.ctx;
  }

  /** Where the CLI was pointed and what must never be printed, computed without failing. */
  failureContext(): FailureContext {
    let env: NodeJS.ProcessEnv;
    try {
      env = this.env();
    } catch {
      env = this.deps.env;
    }
    const secrets: string[] = [];
    for (const [key, value] of Object.entries(env)) {
      if (!value) continue;
      if (SECRET_SETTINGS.includes(key)) secrets.push(value);
      if (key === 'DATABASE_URL' || key.startsWith('ARCORE_CONNECTION_')) {
        try {
          const password = parseConnectionString(value).password;
          if (password) secrets.push(password, encodeURIComponent(password));
        } catch {
          // An unparseable connection string is reported by the command that uses it.
        }
      }
    }
    return { graphBaseUrl: env.GRAPH_BASE_URL?.trim() || 'https://graph.microsoft.com/v1.0', secrets };
  }

  async close(): Promise<void> {
    this.reporter.finish();
    const closing: Promise<unknown>[] = [];
    if (this.engine) closing.push(this.engine.close());
    if (this.meta) closing.push(this.meta.end());
    for (const pool of this.sources.values()) closing.push(pool.end());
    await Promise.allSettled(closing);
  }
}

/** Reads a required option value, failing with a usage error that names the option. */
export function requireChoice<T extends string>(value: string, allowed: readonly T[], what: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new CliUsageError(`${what} must be one of ${allowed.join(', ')}, got "${value}"`);
}
