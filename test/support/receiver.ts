import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A notification endpoint on a free local port, as a test's stand-in for the app's. */
export interface Receiver {
  url: string;
  /** Bodies received and not yet taken by `next`. */
  bodies: unknown[];
  /** The oldest body not yet taken, or the next one to arrive. */
  next(): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * A minimal receiver: answers Graph's validation handshake like the real endpoint must, and keeps the bodies it is
 * sent (lifecycle notifications carry the clientState a test cannot otherwise know).
 */
export async function receiver(): Promise<Receiver> {
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
