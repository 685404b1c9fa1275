/**
 * Runs one push, pull or backfill in a child process so that tests can SIGKILL it mid-run (I6).
 * Usage: node --import tsx test/support/engineChild.ts push|pull <definition>
 *        node --import tsx test/support/engineChild.ts backfill <definition> <field,field…>
 * Settings come from the environment (DATABASE_URL, GRAPH_BASE_URL, GRAPH_TOKEN, GRAPH_CA_CERT_FILE).
 */
import { loadSettings } from '../../src/config/settings';
import { createEngineContext } from '../../src/core/engine/context';
import { runBackfill } from '../../src/core/engine/backfill';
import { runPull } from '../../src/core/engine/pull';
import { runPush } from '../../src/core/engine/push';

async function main(): Promise<void> {
  const [direction, name, fields] = process.argv.slice(2);
  const { ctx, close } = await createEngineContext(loadSettings(process.env), {
    onProgress: (p) => process.stdout.write(`progress ${p.done}\n`),
  });
  const summary =
    direction === 'backfill'
      ? await runBackfill(ctx, name, { fields: fields.split(','), trigger: 'test' })
      : direction === 'pull'
        ? await runPull(ctx, name, { trigger: 'test' })
        : await runPush(ctx, name, { trigger: 'test' });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  await close();
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(3);
});
