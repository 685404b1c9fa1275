import diagnosticsChannel from 'node:diagnostics_channel';

/**
 * One outgoing `fetch` request as seen through undici's diagnostics channels. Node 20's global fetch is
 * undici, and the Graph client sends every request through it; OpenTelemetry's http instrumentation
 * (what Application Insights auto-collects) does not see those requests, so they are collected here.
 */
export interface FetchDependency {
  method: string;
  /** Origin and path, without the query string (delta links and keys live there). */
  url: string;
  host: string;
  /** 0 when the request failed before a response arrived. */
  statusCode: number;
  durationMs: number;
  success: boolean;
  error?: string;
  startedAt: Date;
}

interface UndiciRequest {
  origin?: unknown;
  method?: unknown;
  path?: unknown;
}

interface Pending {
  startedAt: number;
  statusCode: number;
}

function describe(request: UndiciRequest): { method: string; url: string; host: string } {
  const origin = typeof request.origin === 'string' ? request.origin : String(request.origin ?? '');
  const path = typeof request.path === 'string' ? request.path.split('?')[0] : '';
  let host = origin;
  try {
    host = new URL(origin).host;
  } catch {
    // keep the raw origin
  }
  return {
    method: typeof request.method === 'string' ? request.method : 'GET',
    url: `${origin}${path}`,
    host,
  };
}

function requestOf(message: unknown): UndiciRequest | null {
  if (typeof message !== 'object' || message === null || !('request' in message)) return null;
  const request = (message as { request: unknown }).request;
  return typeof request === 'object' && request !== null ? (request as UndiciRequest) : null;
}

/**
 * Reports every fetch request to `sink` once it has completed (body read) or failed. Returns a function
 * that stops collecting.
 */
export function collectFetchDependencies(sink: (dependency: FetchDependency) => void): () => void {
  const pending = new WeakMap<object, Pending>();
  const finish = (request: UndiciRequest, error?: unknown) => {
    const state = pending.get(request);
    if (!state) return;
    pending.delete(request);
    const statusCode = state.statusCode;
    try {
      sink({
        ...describe(request),
        statusCode,
        durationMs: Date.now() - state.startedAt,
        success: error === undefined && statusCode > 0 && statusCode < 400,
        ...(error !== undefined ? { error: error instanceof Error ? error.message : String(error) } : {}),
        startedAt: new Date(state.startedAt),
      });
    } catch {
      // telemetry must never break a request
    }
  };
  const onCreate = (message: unknown) => {
    const request = requestOf(message);
    if (request) pending.set(request, { startedAt: Date.now(), statusCode: 0 });
  };
  const onHeaders = (message: unknown) => {
    const request = requestOf(message);
    const state = request ? pending.get(request) : undefined;
    const response = (message as { response?: { statusCode?: unknown } }).response;
    if (state && typeof response?.statusCode === 'number') state.statusCode = response.statusCode;
  };
  const onTrailers = (message: unknown) => {
    const request = requestOf(message);
    if (request) finish(request);
  };
  const onError = (message: unknown) => {
    const request = requestOf(message);
    if (request) finish(request, (message as { error?: unknown }).error ?? 'request failed');
  };
  const subscriptions: [string, (message: unknown) => void][] = [
    ['undici:request:create', onCreate],
    ['undici:request:headers', onHeaders],
    ['undici:request:trailers', onTrailers],
    ['undici:request:error', onError],
  ];
  for (const [name, handler] of subscriptions) diagnosticsChannel.subscribe(name, handler);
  return () => {
    for (const [name, handler] of subscriptions) diagnosticsChannel.unsubscribe(name, handler);
  };
}
