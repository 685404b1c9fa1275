import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { crossSiteRefusal, jsonWriteRefusal } from '../functions/crossSite';

/**
 * What keeps a web page in the developer's browser away from the local ops API (`arcore-sync serve`).
 * Core Tools and the local host check no function keys, so without these checks any site the developer
 * visits could POST to http://127.0.0.1:7071/api/ops/... :
 * - a `Host` that is not a loopback name is refused (DNS rebinding: evil.example resolving to 127.0.0.1);
 * - an `Origin` other than this server's own is refused (cross-site fetch or form posts), and every write must
 *   be `Content-Type: application/json` (src/functions/crossSite.ts, shared with the deployed ops API);
 * - with a token configured (`serve --token`, ARCORE_SERVE_TOKEN), `Authorization: Bearer <token>`.
 * Webhook routes are not guarded: they are authenticated by clientState and may sit behind a tunnel.
 */

export type GuardResult = { ok: true } | { ok: false; status: 401 | 403 | 415; error: string };

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** The host name of a `Host` header value (`name[:port]`, IPv6 in brackets), lower-cased. */
function hostName(value: string): string {
  const v = value.trim().toLowerCase();
  if (v.startsWith('[')) return v.slice(0, v.indexOf(']') + 1);
  const colon = v.lastIndexOf(':');
  return colon >= 0 ? v.slice(0, colon) : v;
}

function hostPort(value: string): string {
  const v = value.trim().toLowerCase();
  const afterName = v.startsWith('[') ? v.slice(v.indexOf(']') + 1) : v.slice(v.lastIndexOf(':'));
  return afterName.startsWith(':') ? afterName.slice(1) : '80';
}

export function isLoopbackHost(hostHeader: string | undefined): boolean {
  return hostHeader !== undefined && LOOPBACK_NAMES.has(hostName(hostHeader));
}

function isSameOrigin(origin: string, port: number): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // includes the opaque origin "null" of sandboxed frames and file: pages
  }
  const originPort = url.port || (url.protocol === 'https:' ? '443' : '80');
  return url.protocol === 'http:' && LOOPBACK_NAMES.has(url.hostname) && originPort === String(port);
}

/**
 * The token as `Authorization: Bearer <token>` (scripts), or as `x-functions-key` (the web console sends the key its
 * field holds that way, as it does to a function app with OPS_AUTH=key).
 */
function tokenMatches(headers: IncomingHttpHeaders, token: string): boolean {
  const bearer = /^Bearer\s+(.+)$/i.exec(headers.authorization?.trim() ?? '');
  const key = headers['x-functions-key'];
  return (
    (bearer !== null && sameSecret(bearer[1], token)) ||
    (typeof key === 'string' && sameSecret(key.trim(), token))
  );
}

function sameSecret(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Checks one request to a guarded route of the local host listening on `port`. */
export function guardLocalRequest(
  method: string,
  headers: IncomingHttpHeaders,
  options: { port: number; token?: string },
): GuardResult {
  const host = headers.host;
  if (!isLoopbackHost(host) || (host !== undefined && hostPort(host) !== String(options.port))) {
    return {
      ok: false,
      status: 403,
      error: `Host "${host ?? ''}" is not this local server; use http://127.0.0.1:${options.port}`,
    };
  }
  const crossSite = crossSiteRefusal(headers.origin, headers['sec-fetch-site'], (origin) =>
    isSameOrigin(origin, options.port),
  );
  if (crossSite) return { ok: false, ...crossSite };
  if (options.token !== undefined && !tokenMatches(headers, options.token)) {
    return {
      ok: false,
      status: 401,
      error:
        'this local server requires the token given to serve --token: Authorization: Bearer <token> (in the web ' +
        'console, type it into the key field)',
    };
  }
  const notJson = jsonWriteRefusal(method, headers['content-type']);
  if (notJson) return { ok: false, ...notJson };
  return { ok: true };
}
