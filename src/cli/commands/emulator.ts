import { join, resolve } from 'node:path';
import { startEmulator, writeEmulatorEnv } from '../../emulator';
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

/**
 * Runs the emulator until SIGINT/SIGTERM. The first line of output is `GRAPH_BASE_URL=…` so scripts can
 * wait for it; the env file holds everything a client needs (base URL, app token, CA certificate file).
 */
export async function runEmulatorCommand(rt: CliRuntime, opts: EmulatorCommandOptions): Promise<void> {
  const stateDir = resolve(rt.deps.cwd, opts.stateDir);
  // Listen for the stop signal before anything is printed: a caller may signal as soon as it reads a line.
  const stopped = untilStopped();
  const emulator = await startEmulator({
    port: parsePort(opts.port),
    stateDir,
    persist: Boolean(opts.persist),
    throttling: { enabled: opts.throttling, resourceUnitsPerMinute: parseBudget(opts.ruPerMinute) },
  });
  try {
    const envFile = await writeEmulatorEnv(stateDir, emulator);
    const budget = parseBudget(opts.ruPerMinute);
    rt.io.out(`GRAPH_BASE_URL=${emulator.baseUrl}`);
    rt.io.out(`GRAPH_TOKEN=${emulator.appToken}`);
    rt.io.out(`GRAPH_CA_CERT_FILE=${join(stateDir, CERT_FILE)}`);
    rt.io.out(
      `# emulator listening at ${emulator.origin}, state in ${stateDir}${opts.persist ? ' (persisted)' : ''}`,
    );
    rt.io.out(
      `# throttling: ${opts.throttling ? `on, ${budget ?? 'default 1,250'} resource units per minute` : 'off'}`,
    );
    rt.io.out(`# user tokens (edits "in SharePoint") and NODE_EXTRA_CA_CERTS are in ${envFile}`);
    rt.io.out('# press Ctrl-C to stop');
    const signal = await stopped;
    rt.io.err(`${signal}: stopping the emulator`);
  } finally {
    await emulator.stop();
  }
}
