/**
 * Run as a child process by telemetry.test.ts (Application Insights installs process-wide OpenTelemetry
 * providers, which must not leak into the jest worker). argv: connection string, a URL to fetch.
 */
import { startTelemetry } from '../../../src/core/telemetry';

async function main(): Promise<void> {
  const [connectionString, fetchUrl, databaseUrl] = process.argv.slice(2);
  const telemetry = startTelemetry(connectionString);
  // Loaded after the SDK started, as src/functions/bootstrap.ts arranges in the app.
  const { Client } = await import('pg');
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query('SELECT 42 AS answer');
  await client.end();
  telemetry.trackRun({
    runId: '41',
    definition: 'orders',
    runType: 'PUSH',
    status: 'FAILED',
    startedAt: new Date().toISOString(),
    durationMs: 1234,
    throttleWaitMs: 500,
    paceWaitMs: 250,
    graphRequests: 9,
    resourceUnits: 18,
    complete: true,
    resumeAfter: null,
    parkedFailures: 1,
    openConflicts: 2,
    heldMoves: 0,
    processed: 10,
    created: 4,
    updated: 3,
    deleted: 1,
    skipped: 2,
    conflicts: 2,
    failed: 1,
    moved: 0,
    unrouted: 0,
    error: 'Graph said no',
  });
  telemetry.trackException(new Error('handler exploded'), {
    definition: 'orders',
    runId: '41',
    operation: 'pushWorker',
  });
  await (await fetch(`${fetchUrl}?token=secret-delta-token`)).text();
  await telemetry.dispose();
  process.stdout.write(`enabled=${telemetry.enabled}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(String(err instanceof Error ? err.stack : err));
    process.exit(1);
  },
);
