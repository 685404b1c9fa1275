/**
 * The request URL and token rules the Microsoft Graph SDK (3.0.x) applied when every request went through
 * its `Client`: the transport now sends with undici directly, and these keep what goes on the wire the
 * same. `test/core/target/sharepoint/graphUrl.test.ts` compares both with the SDK on random input.
 */

/** The SDK's OData query names: they are written first, and `$select`/`$expand`/`$orderby` repeats merge. */
const ODATA_QUERY_NAMES = [
  '$select',
  '$expand',
  '$orderby',
  '$filter',
  '$top',
  '$skip',
  '$skipToken',
  '$count',
];
const MERGED_ODATA_NAMES = new Set(['$expand', '$select', '$orderby']);

/** Hosts the SDK sends the bearer token to without being told (national clouds included). */
const GRAPH_HOSTS = new Set([
  'graph.microsoft.com',
  'graph.microsoft.us',
  'dod-graph.microsoft.us',
  'graph.microsoft.de',
  'microsoftgraph.chinacloudapi.cn',
  'canary.graph.microsoft.com',
]);

function joinSegments(segments: string[]): string {
  return segments.reduce((pre, cur) => `${pre.replace(/\/+$/, '')}/${cur.replace(/^\/+/, '')}`);
}

/**
 * The URL the SDK built for `client.api(pathOrUrl)` with `baseUrl: origin, defaultVersion: version`: the
 * version segment taken from an absolute URL, OData options moved ahead of the others, repeated keys
 * merged (`$select`, `$expand`, `$orderby`) or replaced.
 */
export function graphWireUrl(pathOrUrl: string, origin: string, version: string): string {
  let path = pathOrUrl;
  let host = origin;
  let apiVersion = version;
  if (path.indexOf('https://') !== -1) {
    path = path.replace('https://', '');
    const endOfHost = path.indexOf('/');
    if (endOfHost !== -1) {
      host = `https://${path.substring(0, endOfHost)}`;
      path = path.substring(endOfHost + 1);
    }
    const endOfVersion = path.indexOf('/');
    if (endOfVersion !== -1) {
      apiVersion = path.substring(0, endOfVersion);
      path = path.substring(endOfVersion + 1);
    }
  }
  if (path.charAt(0) === '/') path = path.substring(1);
  const queryAt = path.indexOf('?');
  // Plain objects, as the SDK keeps them: their key order (integer-like keys first) is the wire order.
  const odata: Record<string, string> = {};
  const other: Record<string, string> = {};
  const bare: string[] = [];
  if (queryAt !== -1) {
    for (let parameter of path.substring(queryAt + 1).split('&')) {
      if (parameter.charAt(0) === '?') parameter = parameter.substring(1);
      const equals = parameter.indexOf('=');
      const paren = parameter.indexOf('(');
      if (equals === -1 || (paren !== -1 && paren < equals)) {
        bare.push(parameter);
        continue;
      }
      const key = parameter.substring(0, equals);
      const value = parameter.substring(equals + 1);
      if (ODATA_QUERY_NAMES.includes(key)) {
        const current = odata[key];
        odata[key] = current && MERGED_ODATA_NAMES.has(key) ? `${current},${value}` : value;
      } else {
        other[key] = value;
      }
    }
    path = path.substring(0, queryAt);
  }
  const query: string[] = [];
  for (const key in odata)
    if (Object.prototype.hasOwnProperty.call(odata, key)) query.push(`${key}=${odata[key]}`);
  for (const key in other)
    if (Object.prototype.hasOwnProperty.call(other, key)) query.push(`${key}=${other[key]}`);
  query.push(...bare);
  return joinSegments([host, apiVersion, path]) + (query.length > 0 ? `?${query.join('&')}` : '');
}

/** Whether the SDK's authentication handler would attach the bearer token to a request to `url`. */
export function sendsToken(url: string, customHost: string): boolean {
  let rest = url.toLowerCase();
  if (rest.indexOf('https://') === -1) return false;
  rest = rest.replace('https://', '');
  const endOfHost = rest.indexOf('/');
  if (endOfHost === -1) return false;
  const port = rest.indexOf(':');
  const host = port !== -1 && port < endOfHost ? rest.substring(0, port) : rest.substring(0, endOfHost);
  return GRAPH_HOSTS.has(host) || host === customHost;
}
