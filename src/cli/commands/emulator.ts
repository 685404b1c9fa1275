import { join, resolve } from 'node:path';
import {
  controlUrlOf,
  DEFAULT_SITE,
  parseSiteOption,
  SITE_OPTION_FORM,
  startEmulator,
  userTokenKey,
  writeEmulatorEnv,
} from '../../emulator';
import { CERT_FILE } from '../../emulator/certificate';
import { CliUsageError } from '../failures';
import type { CliRuntime } from '../runtime';
import { untilStopped } from '../signals';

export interface EmulatorCommandOptions {
  port: string;
  stateDir: string;
  persist?: boolean;
  throttling: boolean;
  ruPerMinute?: string;
  /** `--site`, repeatable: sites served besides the default one. */
  site?: string[];
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CliUsageError(`--port must be an integer from 0 to 65535, got "${value}"`);
  }
  return port;
}

function parseBudget(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new CliUsageError(`--ru-per-minute must be a positive integer, got "${value}"`);
  return n;
}

/** The default site first (the tenant is named after it), then each `--site` once, in the order given. */
export function parseSites(values: readonly string[] | undefined): string[] {
  const sites = [DEFAULT_SITE];
  for (const value of values ?? []) {
    const parsed = parseSiteOption(value);
    if (!parsed.ok)
      throw new CliUsageError(
        `--site "${value}" is not a site: ${parsed.problem}; expected ${SITE_OPTION_FORM}`,
      );
    if (!sites.includes(parsed.hostPath)) sites.push(parsed.hostPath);
  }
  return sites;
}

/**
 * Runs the emulator until SIGINT/SIGTERM. The first line of output is `GRAPH_BASE_URL=…` so scripts can
 * wait for it; the env file holds everything a client needs (base URL, app token, CA certificate file).
 */
export async function runEmulatorCommand(rt: CliRuntime, opts: EmulatorCommandOptions): Promise<void> {
  const stateDir = resolve(rt.deps.cwd, opts.stateDir);
  const port = parsePort(opts.port);
  const budget = parseBudget(opts.ruPerMinute);
  const sites = parseSites(opts.site);
  // Listen for the stop signal before anything is printed: a caller may signal as soon as it reads a line.
  const stopped = untilStopped();
  const emulator = await startEmulator({
    port,
    stateDir,
    persist: Boolean(opts.persist),
    sites,
    throttling: { enabled: opts.throttling, resourceUnitsPerMinute: budget },
  });
  try {
    const envFile = await writeEmulatorEnv(stateDir, emulator);
    rt.io.out(`GRAPH_BASE_URL=${emulator.baseUrl}`);
    rt.io.out(`GRAPH_TOKEN=${emulator.appToken}`);
    rt.io.out(`GRAPH_CA_CERT_FILE=${join(stateDir, CERT_FILE)}`);
    rt.io.out(
      `# emulator listening at ${emulator.origin}, state in ${stateDir}${opts.persist ? ' (persisted)' : ''}`,
    );
    rt.io.out(
      `# throttling: ${opts.throttling ? `on, ${budget ?? 'default 1,250'} resource units per minute` : 'off'}`,
    );
    for (const site of emulator.sites) rt.io.out(`# site ${site}: GET ${emulator.baseUrl}/sites/${site}`);
    rt.io.out(`# control API: ${controlUrlOf(emulator)}/… (e.g. POST /reset, GET /stats, POST /faults)`);
    rt.io.out(
      `# ${envFile} also holds EMULATOR_SITES, EMULATOR_CONTROL_URL, NODE_EXTRA_CA_CERTS and the user ` +
        `tokens (${emulator.users.map(userTokenKey).join(', ')})`,
    );
    rt.io.out('# press Ctrl-C to stop');
    const signal = await stopped;
    rt.io.err(`${signal}: stopping the emulator`);
  } finally {
    await emulator.stop();
  }
}
