/** Shared helpers of the emulator tests: start an emulator, call it with fetch or the Graph SDK. */
import { Client, type FetchOptions } from '@microsoft/microsoft-graph-client';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator';

export const DEMO_SITE = 'contoso.sharepoint.com:/sites/demo';

export interface GraphAnswer<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** Shapes the tests read; assertions on everything else go through toMatchObject / toEqual. */
export interface ListItemShape {
  id: string;
  eTag: string;
  '@odata.etag': string;
  createdDateTime: string;
  lastModifiedDateTime: string;
  createdBy: Record<string, unknown>;
  lastModifiedBy: Record<string, unknown>;
  fields?: Record<string, unknown>;
  deleted?: { state: string };
}

export interface PageShape<T = ListItemShape> {
  value: T[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

export interface ErrorShape {
  error: { code: string; message: string; innerError: Record<string, string> };
}

export interface EntityShape {
  id: string;
  [key: string]: unknown;
}

export interface CallOptions {
  token?: string | null;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface TestEmulator {
  emulator: RunningEmulator;
  dispatcher: Agent;
  siteId: string;
  /** Calls `<baseUrl><path>` (or an absolute URL) with the app token unless told otherwise. */
  graph<T = unknown>(method: string, path: string, options?: CallOptions): Promise<GraphAnswer<T>>;
  /** Graph SDK client trusting the emulator's certificate. */
  sdk(token?: string): Client;
  /** Creates a list and returns its id. */
  createList(displayName: string, columns?: unknown[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startTestEmulator(options: EmulatorOptions = {}): Promise<TestEmulator> {
  const emulator = await startEmulator({
    throttling: { enabled: false },
    notificationDelayMs: 0,
    ...options,
  });
  const dispatcher = new Agent({ connect: { ca: emulator.caCert } });
  const siteId = emulator.control.getSiteId(DEMO_SITE);
  const graph = async <T = unknown>(
    method: string,
    path: string,
    call: CallOptions = {},
  ): Promise<GraphAnswer<T>> => {
    const token = call.token === undefined ? emulator.appToken : call.token;
    const headers: Record<string, string> = { ...call.headers };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (call.body !== undefined) headers['content-type'] ??= 'application/json';
    const url = path.startsWith('https://') ? path : `${emulator.baseUrl}${path}`;
    const response = await fetch(url, {
      method,
      headers,
      body: call.body === undefined ? undefined : JSON.stringify(call.body),
      dispatcher,
    } as RequestInit);
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: (text ? JSON.parse(text) : undefined) as T,
    };
  };
  return {
    emulator,
    dispatcher,
    siteId,
    graph,
    sdk(token = emulator.appToken) {
      return Client.init({
        authProvider: (done) => done(null, token),
        baseUrl: emulator.origin,
        customHosts: new Set(['127.0.0.1']),
        fetchOptions: { dispatcher } as unknown as FetchOptions,
      });
    },
    async createList(displayName, columns = []) {
      const answer = await graph<EntityShape>('POST', `/sites/${siteId}/lists`, {
        body: { displayName, columns },
      });
      if (answer.status !== 201)
        throw new Error(`createList ${displayName}: ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body.id;
    },
    async stop() {
      await emulator.stop();
      await dispatcher.close();
    },
  };
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

export interface Receiver {
  url: string;
  received: ReceivedRequest[];
  /** Decides the answer to each request; default: validation handshake echo, 202 otherwise. */
  respond: (req: ReceivedRequest, res: ServerResponse) => void;
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

/** Answers the validation handshake as Graph requires: 200, text/plain, the decoded token. */
export function echoValidation(req: ReceivedRequest, res: ServerResponse): boolean {
  const token = new URL(req.url, 'http://localhost').searchParams.get('validationToken');
  if (token === null) return false;
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(token);
  return true;
}

/** A plain http receiver on loopback for subscription validation and notifications. */
export async function startReceiver(path = '/notify'): Promise<Receiver> {
  const received: ReceivedRequest[] = [];
  /** Pending waitFor checks; each returns true once satisfied. */
  const waiters = new Set<() => boolean>();
  const receiver: Receiver = {
    url: '',
    received,
    respond: (req, res) => {
      if (echoValidation(req, res)) return;
      res.writeHead(202);
      res.end();
    },
    waitFor(count, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const notifications = received.filter((r) => !r.url.includes('validationToken='));
          if (notifications.length >= count) {
            clearTimeout(timer);
            resolve(notifications);
            return true;
          }
          return false;
        };
        const timer = setTimeout(
          () => reject(new Error(`expected ${count} notifications, got ${received.length} requests`)),
          timeoutMs,
        );
        if (!check()) waiters.add(check);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      received.push(entry);
      receiver.respond(entry, res);
      for (const check of [...waiters]) if (check()) waiters.delete(check);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return receiver;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
