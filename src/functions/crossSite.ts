/**
 * What keeps a web page on another site from driving the ops API through a browser that holds a credential
 * the browser attaches by itself (the Easy Auth session cookie in Azure; the loopback address under
 * `arcore-sync serve`, see src/serve/localGuard.ts):
 * - an `Origin` other than the ops API's own, or a `Sec-Fetch-Site` other than `same-origin`/`none`, is
 *   refused (403). Browsers send `Origin` with every cross-origin POST, `fetch` in `no-cors` mode and form
 *   posts included; scripts and the CLI send neither header and pass;
 * - a write must be `Content-Type: application/json` (415): a page can send that type cross-origin only after
 *   a CORS preflight the ops API never grants, while a `text/plain` or form post needs none.
 */

export interface Refusal {
  status: 403 | 415;
  error: string;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Whether `method` changes state. */
export function isWrite(method: string): boolean {
  return WRITE_METHODS.has(method.toUpperCase());
}

/** A refusal when the request comes from a page of another origin; `sameOrigin` judges the `Origin` value. */
export function crossSiteRefusal(
  origin: string | undefined,
  fetchSite: string | undefined,
  sameOrigin: (origin: string) => boolean,
): Refusal | null {
  if (origin !== undefined && !sameOrigin(origin)) {
    return { status: 403, error: `cross-origin requests are refused (Origin "${origin}")` };
  }
  if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') {
    return { status: 403, error: `cross-site requests are refused (Sec-Fetch-Site "${fetchSite}")` };
  }
  return null;
}

/** A refusal when a write is not `Content-Type: application/json`. */
export function jsonWriteRefusal(method: string, contentType: string | undefined): Refusal | null {
  if (!isWrite(method)) return null;
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json') return null;
  return {
    status: 415,
    error: `writes need Content-Type: application/json (got "${contentType ?? ''}")`,
  };
}
