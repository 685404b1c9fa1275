import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { request, type Dispatcher } from 'undici';

/** One HTTP request as it goes on the wire. */
export interface WireRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  /** Already serialised. */
  body?: string | Buffer;
}

/** A finished exchange: status, headers and the whole body as text. */
export interface WireAnswer {
  status: number;
  headers: Headers;
  text: string;
}

function headersOf(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const name in raw) {
    const value = raw[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const one of value) headers.append(name, one);
    else headers.append(name, value);
  }
  return headers;
}

function decoded(bytes: Buffer, encoding: string | null): Buffer {
  switch (encoding?.trim().toLowerCase()) {
    case undefined:
    case '':
    case 'identity':
      return bytes;
    case 'gzip':
    case 'x-gzip':
      return gunzipSync(bytes);
    case 'deflate':
      return inflateSync(bytes);
    case 'br':
      return brotliDecompressSync(bytes);
    default:
      throw new Error(`unsupported Content-Encoding ${encoding}`);
  }
}

/** UTF-8 decoding as `fetch`'s `text()` does it: a leading byte-order mark is not content. */
function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Sends one request through undici's dispatcher (kept-alive connections, one pool per transport) and
 * reads the whole answer within `timeoutMs`. This is the request path `fetch` took under the Graph SDK,
 * without the WHATWG Request/Response/stream objects built around every call: those were a large part
 * of the engine's CPU per row. A dropped connection or the timeout rejects; any HTTP status resolves.
 */
export async function exchange(
  dispatcher: Dispatcher,
  wire: WireRequest,
  timeoutMs: number,
): Promise<WireAnswer> {
  const answer = await request(wire.url, {
    dispatcher,
    method: wire.method,
    headers: wire.headers,
    body: wire.body,
    // fetch followed redirects (up to 20); Graph's item endpoints do not redirect, but keep doing the same.
    maxRedirections: 20,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const headers = headersOf(answer.headers);
  const status = answer.statusCode;
  // Statuses that carry no body by definition; whatever arrived is drained, never read as content.
  if (status === 204 || status === 205 || status === 304) {
    await answer.body.dump();
    return { status, headers, text: '' };
  }
  const encoding = headers.get('content-encoding');
  const text =
    encoding === null
      ? await answer.body.text()
      : withoutBom(decoded(Buffer.from(await answer.body.arrayBuffer()), encoding).toString('utf8'));
  return { status, headers, text };
}
