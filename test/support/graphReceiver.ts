import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { ensureSubscriptions } from '../../src/core/subscriptions';
import { projectsDefinition, startHarness, type Harness } from './engineHarness';

export interface GraphReceiver {
  url: string;
  /** Bodies posted and not yet taken by `next()`. */
  bodies: unknown[];
  /** The next body posted (one already kept, or the next to come). */
  next(): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Stands in for our notification endpoints: answers Graph's validation handshake as the real endpoint must, and
 * hands over the bodies the emulator posts (they carry the clientState a test cannot otherwise know).
 */
export async function graphReceiver(): Promise<GraphReceiver> {
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
    bodies,
    next: () =>
      bodies.length > 0
        ? Promise.resolve(bodies.shift())
        : new Promise<unknown>((resolve) => waiting.push(resolve)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The URLs subscriptions point at, on `endpoint`. */
export function receiverUrls(
  endpoint: GraphReceiver,
  query = '',
): { notificationUrl: string; lifecycleNotificationUrl: string } {
  return {
    notificationUrl: `${endpoint.url}/api/graph/notifications${query}`,
    lifecycleNotificationUrl: `${endpoint.url}/api/graph/lifecycle${query}`,
  };
}

/** The projects definition (Title only) on the emulator, subscribed through `graphReceiver()` by a first upkeep. */
export async function subscribedProjects(): Promise<{
  h: Harness;
  endpoint: GraphReceiver;
  urls: { notificationUrl: string; lifecycleNotificationUrl: string };
  close(): Promise<void>;
}> {
  const h = await startHarness({ notificationDelayMs: 0 });
  await h.db.pool.query('CREATE TABLE projects (id int PRIMARY KEY, name text, updated_at timestamptz)');
  await h.define(projectsDefinition({ fields: [{ source: 'name', target: 'Title' }] }));
  const endpoint = await graphReceiver();
  const urls = receiverUrls(endpoint);
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

/** Calls the emulator as the app (the subscriptions' owner), with the emulator's CA. */
export async function asGraphApp(
  h: Harness,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const dispatcher = new Agent({ connect: { ca: h.emulator.caCert } });
  try {
    const res = await fetch(`${h.emulator.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${h.emulator.appToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher,
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
  } finally {
    await dispatcher.close();
  }
}

/** The subscriptions Graph (the emulator) holds. */
export async function graphSubscriptions(h: Harness): Promise<{ id: string; notificationUrl: string }[]> {
  return ((await asGraphApp(h, 'GET', '/subscriptions')).body?.value ?? []) as {
    id: string;
    notificationUrl: string;
  }[];
}

/** Deletes a subscription at Graph (the emulator), as Graph does with one that expired or was removed. */
export async function deleteAtGraph(h: Harness, subscriptionId: string): Promise<number> {
  return (await asGraphApp(h, 'DELETE', `/subscriptions/${subscriptionId}`)).status;
}
