import type { LogFormat } from '../../functions/events';
import { CliUsageError } from '../failures';
import { importWithoutTestModeWarnings } from '../quietImport';
import type { CliRuntime } from '../runtime';
import { untilStopped } from '../signals';

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CliUsageError(`--port must be an integer from 0 to 65535, got "${value}"`);
  }
  return port;
}

function parseLogFormat(value: string): LogFormat {
  if (value === 'json' || value === 'text') return value;
  throw new CliUsageError(`--log-format must be json or text, got "${value}"`);
}

/** Runs the local host (webhooks, ops API, schedules) against the configured Postgres and Graph. */
export async function runServeCommand(
  rt: CliRuntime,
  opts: { port: string; token?: string; logFormat?: string },
): Promise<void> {
  const port = parsePort(opts.port);
  const format = parseLogFormat(opts.logFormat ?? 'text');
  if (opts.token !== undefined && opts.token.trim().length < 16) {
    throw new CliUsageError('--token (or ARCORE_SERVE_TOKEN) must be at least 16 characters');
  }
  // Listen for the stop signal before anything is printed: a caller may signal as soon as it reads a line.
  const stopped = untilStopped();
  const { startLocalHost } = await importWithoutTestModeWarnings(() => import('../../serve/index.js'));
  const ctx = await rt.engineContext();
  const host = await startLocalHost({
    ctx,
    port,
    token: opts.token,
    // Event lines are what an operator follows: stdout, whatever the verbosity.
    events: { format, write: (line) => rt.io.out(line) },
  });
  try {
    if (format === 'json') {
      // stdout stays one JSON object per line: the banner is an event too.
      rt.io.out(
        JSON.stringify({
          event: 'listening',
          timestamp: new Date().toISOString(),
          url: host.url,
          notificationUrl: host.notificationUrl,
          lifecycleUrl: host.lifecycleUrl,
          opsUrl: `${host.url}/api/ops/definitions`,
          tokenRequired: opts.token !== undefined,
        }),
      );
    } else {
      rt.io.out(`local host listening at ${host.url}`);
      rt.io.out(`  webhook notifications: ${host.notificationUrl}`);
      rt.io.out(`  lifecycle notifications: ${host.lifecycleUrl}`);
      rt.io.out(
        `  ops API: ${host.url}/api/ops/definitions` +
          (opts.token !== undefined ? ' (send Authorization: Bearer <token>)' : ''),
      );
      rt.io.out('press Ctrl-C to stop');
    }
    const signal = await stopped;
    rt.io.err(`${signal}: stopping (waiting for runs in progress, then deleting this host's subscriptions)`);
  } finally {
    await host.stop();
  }
}
