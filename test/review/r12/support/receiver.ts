import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { ensureSubscriptions } from '../../../../src/core/subscriptions';
import { projectsDefinition, startHarness, type Harness } from '../../../support/engineHarness';

/** Answers Graph's validation handshake and hands over the bodies the emulator posts (they carry clientState). */
export async function receiver(): Promise<{ url: string; next(): Promise<unknown>; close(): Promise<void> }> {
  const bodies: unknown[] = [];
  const waiting: ((body: unknown) => void)[] = [];
  const server: Server = createServer((req, res) => {
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('validationToken');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (token !== null) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(token);
        return;
      }
      const body: unknown = JSON.parse(Buffer.concat(chunks).toString() || 'null');
      const waiter = waiting.shift();
      if (waiter) waiter(body);
      else bodies.push(body);
      res.writeHead(202);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    next: () =>
      bodies.length > 0
        ? Promise.resolve(bodies.shift())
        : new Promise<unknown>((resolve) => waiting.push(resolve)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The projects definition (Title only) on the emulator, subscribed through `receiver()` by a first upkeep. */
export async function subscribedProjects(): Promise<{
  h: Harness;
  endpoint: Awaited<ReturnType<typeof receiver>>;
  urls: { notificationUrl: string; lifecycleNotificationUrl: string };
  close(): Promise<void>;
}> {
  const h = await startHarness({ notificationDelayMs: 0 });
  await h.db.pool.query('CREATE TABLE projects (id int PRIMARY KEY, name text, updated_at timestamptz)');
  await h.define(projectsDefinition({ fields: [{ source: 'name', target: 'Title' }] }));
  const endpoint = await receiver();
  const urls = {
    notificationUrl: `${endpoint.url}/api/graph/notifications`,
    lifecycleNotificationUrl: `${endpoint.url}/api/graph/lifecycle`,
  };
  const first = await ensureSubscriptions(h.ctx, urls);
  if (first.errors.length > 0) throw first.errors[0];
  return {
    h,
    endpoint,
    urls,
    async close() {
      await endpoint.close();
      await h.close();
    },
  };
}

/** Deletes a subscription at Graph (the emulator), as Graph does with one that expired or was removed. */
export async function deleteAtGraph(h: Harness, subscriptionId: string): Promise<number> {
  const dispatcher = new Agent({ connect: { ca: h.emulator.caCert } });
  try {
    const res = await fetch(`${h.emulator.baseUrl}/subscriptions/${subscriptionId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${h.emulator.appToken}` },
      dispatcher,
    });
    return res.status;
  } finally {
    await dispatcher.close();
  }
}
