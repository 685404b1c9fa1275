/**
 * Emulator write throughput: item creates through $batch (20 per request) from 8 concurrent
 * keep-alive HTTPS connections, throttling and the ambiguous 503s off. The emulator runs in this process; the load comes
 * from a child process, as the sync engine would, so client-side JSON work does not share the
 * emulator's thread. Prints writes/second.
 *
 *   npx tsx bench/emulator-throughput.ts [totalWrites=40000] [concurrency=8]
 */
import { fork } from 'node:child_process';
import { Agent } from 'undici';
import { startEmulator } from '../src/emulator';

const BATCH_SIZE = 20;
const CLIENT_FLAG = '--client';

interface ClientJob {
  baseUrl: string;
  token: string;
  caCert: string;
  itemsUrl: string;
  totalWrites: number;
  concurrency: number;
}

interface ClientResult {
  seconds: number;
  failures: number;
}

interface BatchAnswer {
  responses: { id: string; status: number }[];
}

/** The load generator: runs in the child process. */
async function runClient(job: ClientJob): Promise<ClientResult> {
  const dispatcher = new Agent({ connect: { ca: job.caCert }, connections: job.concurrency });
  let issued = 0;
  let failures = 0;
  const worker = async (): Promise<void> => {
    while (issued < job.totalWrites) {
      const start = issued;
      issued += BATCH_SIZE;
      const requests = Array.from({ length: Math.min(BATCH_SIZE, job.totalWrites - start) }, (_, i) => ({
        id: String(i + 1),
        method: 'POST',
        url: job.itemsUrl,
        headers: { 'Content-Type': 'application/json' },
        body: {
          fields: {
            Title: `Row ${start + i}`,
            Amount: (start + i) * 1.5,
            Due: '2024-03-10T08:26:00Z',
            Note: 'x',
          },
        },
      }));
      const response = await fetch(`${job.baseUrl}/$batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${job.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ requests }),
        dispatcher,
      } as RequestInit);
      if (!response.ok) throw new Error(`$batch answered ${response.status}: ${await response.text()}`);
      const answer = (await response.json()) as BatchAnswer;
      failures += answer.responses.filter((r) => r.status !== 201).length;
    }
  };
  const started = process.hrtime.bigint();
  try {
    await Promise.all(Array.from({ length: job.concurrency }, worker));
  } finally {
    await dispatcher.close();
  }
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, failures };
}

function runClientProcess(job: ClientJob): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, [CLIENT_FLAG], { execArgv: ['--import', 'tsx'] });
    child.once('message', (message) => resolve(message as ClientResult));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator exited with code ${code}`));
    });
    child.send(job);
  });
}

async function main(): Promise<void> {
  const totalWrites = Number(process.argv[2] ?? 40_000);
  const concurrency = Number(process.argv[3] ?? 8);
  // No ambiguous 503s either (answered after the write was applied): every create must answer 201 here.
  const emulator = await startEmulator({
    throttling: { enabled: false },
    notificationDelayMs: 0,
    batchAmbiguous503Rate: 0,
  });
  const dispatcher = new Agent({ connect: { ca: emulator.caCert } });
  try {
    const siteId = emulator.control.getSiteId('contoso.sharepoint.com:/sites/demo');
    const created = await fetch(`${emulator.baseUrl}/sites/${siteId}/lists`, {
      method: 'POST',
      headers: { authorization: `Bearer ${emulator.appToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        displayName: 'Bench',
        columns: [
          { name: 'Amount', number: {} },
          { name: 'Due', dateTime: {} },
          { name: 'Note', text: {} },
        ],
      }),
      dispatcher,
    } as RequestInit);
    const list = (await created.json()) as { id: string };
    const result = await runClientProcess({
      baseUrl: emulator.baseUrl,
      token: emulator.appToken,
      caCert: emulator.caCert,
      itemsUrl: `sites/${siteId}/lists/${list.id}/items`,
      totalWrites,
      concurrency,
    });
    const stored = emulator.control.listItems(siteId, list.id).length;
    console.log(
      `emulator throughput: ${Math.round(totalWrites / result.seconds)} writes/s (${totalWrites} item creates in ` +
        `${result.seconds.toFixed(2)} s, $batch of ${BATCH_SIZE}, ${concurrency} concurrent requests, ` +
        `${result.failures} failed, ${stored} stored)`,
    );
    if (result.failures > 0 || stored !== totalWrites) process.exitCode = 1;
  } finally {
    await emulator.stop();
    await dispatcher.close();
  }
}

if (process.argv[2] === CLIENT_FLAG) {
  process.once('message', (job) => {
    runClient(job as ClientJob).then(
      (result) => process.send!(result, () => process.exit(0)),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
