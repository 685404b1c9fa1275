import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listStoredSubscriptions } from '../../src/core/subscriptions';
import { exitOf, spawnCli, tempDir, waitForLine, type CliEnv } from '../cli/cliHarness';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../support/engineHarness';
import { eventually } from '../support/eventually';

describe('arcore-sync serve --log-format json (child process)', () => {
  let h: Harness;
  let env: CliEnv;
  let stopLater: (() => void) | undefined;

  beforeAll(async () => {
    h = await startHarness({ notificationDelayMs: 0 });
    await createProjectsTable(h.db);
    await h.define(projectsDefinition());
    const caFile = join(tempDir('arcore-serve-logs-'), 'ca.pem');
    writeFileSync(caFile, h.emulator.caCert);
    env = {
      DATABASE_URL: h.db.url,
      GRAPH_BASE_URL: h.emulator.baseUrl,
      GRAPH_TOKEN: h.emulator.appToken,
      GRAPH_CA_CERT_FILE: caFile,
      GRAPH_RU_PER_MINUTE: '1000000',
    };
  });

  afterAll(async () => {
    stopLater?.();
    await h?.close();
  });

  it('prints only JSON lines on stdout, logs a notification, and removes its subscription on SIGTERM', async () => {
    const child = spawnCli(['serve', '--port', '0', '--log-format', 'json'], env);
    stopLater = () => child.kill('SIGKILL');
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    const banner = JSON.parse(await waitForLine(child, /^\{"event":"listening"/)) as {
      notificationUrl: string;
    };
    const [subscription] = await eventually('the host subscription', async () => {
      const stored = await listStoredSubscriptions(h.db.pool);
      return (
        stored.some((s) => s.notificationUrl === banner.notificationUrl && s.state === 'ACTIVE') && stored
      );
    });
    const response = await fetch(banner.notificationUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        value: [
          {
            subscriptionId: subscription.subscriptionId,
            clientState: 'not-the-secret',
            changeType: 'updated',
            resource: subscription.resource,
          },
        ],
      }),
    });
    expect(response.status).toBe(202);
    // The line is written before the 202 goes out, so it may already be in what was read.
    const line = await eventually('the notification line', async () =>
      stdout.split('\n').find((l) => l.includes('"event":"notification"')),
    );
    expect(JSON.parse(line)).toMatchObject({
      subscriptionId: subscription.subscriptionId,
      definition: 'projects',
      outcome: 'rejected',
    });

    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    const lines = stdout.split('\n').filter((l) => l.length > 0);
    for (const l of lines) expect(() => JSON.parse(l) as unknown).not.toThrow();

    const target = h.ctx.target();
    try {
      const live = await target.listSubscriptions();
      expect(live.filter((s) => s.notificationUrl === banner.notificationUrl)).toEqual([]);
    } finally {
      await target.close();
    }
    const stored = await listStoredSubscriptions(h.db.pool);
    expect(stored.find((s) => s.subscriptionId === subscription.subscriptionId)?.state).toBe('REMOVED');
  });
});
