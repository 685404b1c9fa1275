/**
 * The HTTPS front: reads requests, authenticates /v1.0 calls, hands them to the executor, serves
 * the control API under /_emulator, applies configured latency and drops connections on request.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { IdentityRegistry } from './auth';
import { JSON_CONTENT_TYPE, type GraphResponse, type RuntimeSettings } from './context';
import { handleControlHttp } from './control';
import { graphErrorBody } from './errors';
import type { GraphExecutor } from './executor';
import { newGuid } from './ids';
import type { RequestRecorder } from './requestLog';
import { matchRoute } from './router';
import type { EmulatorControl } from './types';

export interface ServerDependencies {
  identities: IdentityRegistry;
  settings: RuntimeSettings;
  executor: GraphExecutor;
  recorder: RequestRecorder;
  control: EmulatorControl;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function lowerCaseHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers))
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
  // The text goes out as it is: a Buffer of it would copy every answer (a batch's is tens of KB) once more.
  const payload = body === undefined ? undefined : JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Length': payload === undefined ? '0' : String(Buffer.byteLength(payload)),
  });
  res.end(payload);
}

function withoutAuthorization(headers: Record<string, string>): Record<string, string> {
  const { authorization: _authorization, ...rest } = headers;
  return rest;
}

function routeTemplate(method: string, path: string): string {
  try {
    return matchRoute(method, path).route.template;
  } catch {
    return '(unmatched)';
  }
}

export class EmulatorHttpsServer {
  private readonly server: Server;

  constructor(
    private readonly deps: ServerDependencies,
    cert: { certPem: string; keyPem: string },
  ) {
    this.server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        const requestId = newGuid();
        send(
          res,
          500,
          { 'Content-Type': JSON_CONTENT_TYPE, 'request-id': requestId },
          graphErrorBody('generalException', `Emulator error: ${String(error)}`, requestId, requestId),
        );
      });
    });
    this.server.on('secureConnection', (socket) => socket.setNoDelay(true));
    this.server.keepAliveTimeout = 30_000;
    this.server.headersTimeout = 35_000;
  }

  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = performance.now();
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const raw = await readBody(req);

    if (url.pathname.startsWith('/_emulator/')) {
      let body: unknown;
      try {
        body = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
      } catch {
        send(
          res,
          400,
          { 'Content-Type': 'application/json' },
          { error: { code: 'invalidRequest', message: 'Body is not JSON' } },
        );
        return;
      }
      const result = handleControlHttp(
        this.deps.control,
        method,
        url.pathname.slice('/_emulator'.length),
        url.searchParams,
        body,
      );
      send(
        res,
        result.status,
        result.body === undefined ? {} : { 'Content-Type': 'application/json' },
        result.body,
      );
      return;
    }

    const headers = lowerCaseHeaders(req);
    const requestId = newGuid();
    const clientRequestId = headers['client-request-id'] ?? requestId;
    const baseHeaders = { 'request-id': requestId, 'client-request-id': clientRequestId };
    const fail = (status: number, code: string, message: string, extra: Record<string, string> = {}) =>
      send(
        res,
        status,
        { 'Content-Type': JSON_CONTENT_TYPE, ...baseHeaders, ...extra },
        graphErrorBody(code, message, requestId, clientRequestId),
      );

    const { latencyMs } = this.deps.settings;
    const sleepStart = performance.now();
    if (latencyMs > 0) await sleep(latencyMs);
    const workStart = performance.now();
    if (url.pathname !== '/v1.0' && !url.pathname.startsWith('/v1.0/')) {
      const version = url.pathname.split('/')[1] ?? '';
      fail(400, 'BadRequest', `Invalid version: ${version}. The emulator serves v1.0 only.`);
      return;
    }
    const path = url.pathname.slice('/v1.0'.length) || '/';

    let body: unknown;
    let bodyText: string | undefined;
    if (raw.length) {
      try {
        bodyText = raw.toString('utf8');
        body = JSON.parse(bodyText);
      } catch {
        fail(
          400,
          'BadRequest',
          'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
        );
        return;
      }
    }

    const identity = this.deps.identities.fromAuthorization(headers.authorization);
    if (!identity) {
      const message = headers.authorization
        ? 'Access token validation failure. Invalid audience.'
        : 'Access token is empty.';
      this.deps.recorder.record(
        {
          method,
          path,
          query: url.searchParams.toString(),
          status: 401,
          body,
          identity: null,
          headers: withoutAuthorization(headers),
        },
        `${method} ${routeTemplate(method, path)}`,
      );
      fail(401, 'InvalidAuthenticationToken', message, { 'WWW-Authenticate': 'Bearer realm=""' });
      return;
    }

    const response: GraphResponse = await this.deps.executor.execute({
      method,
      path,
      query: url.searchParams,
      headers,
      body,
      bodyText,
      identity,
      inBatch: false,
      requestId,
      clientRequestId,
    });
    if (response.dropConnection) {
      // Simulates a crash or network loss: the client never learns whether the request took effect.
      req.socket.destroy();
      return;
    }
    send(res, response.status, { ...baseHeaders, ...response.headers }, response.body);
    if (path === '/$batch') {
      const answered = performance.now();
      this.deps.recorder.noteBatch({
        workMs: answered - workStart,
        inEmulatorMs: answered - arrived,
        ...(latencyMs > 0 ? { latencyLateMs: workStart - sleepStart - latencyMs } : {}),
      });
    }
  }
}
