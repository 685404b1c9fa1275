/**
 * A site named on the command line (`--site host:/path`). Stricter than the library option: the value also
 * goes into `EMULATOR_SITES` (comma-separated) and into shell-sourced env files, so it holds no spaces,
 * commas, quotes, or URL query/fragment characters.
 */
export const SITE_OPTION_FORM = 'host:/path, e.g. fabrikam.sharepoint.com:/sites/sales';

const HOST_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/i;
const FORBIDDEN_IN_PATH = /[\s:,?#'"\\]/;

export type SiteOptionResult = { ok: true; hostPath: string } | { ok: false; problem: string };

/**
 * Checks one `--site` value and returns it the way the emulator keys sites: host name in lower case, no
 * trailing slash (a root site is `host:/`).
 */
export function parseSiteOption(value: string): SiteOptionResult {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value))
    return { ok: false, problem: 'it is a URL; give the host without "https://"' };
  const separator = value.indexOf(':');
  if (separator < 0) return { ok: false, problem: 'it has no ":" between the host and the path' };
  const host = value.slice(0, separator);
  const path = value.slice(separator + 1);
  if (!HOST_NAME.test(host)) return { ok: false, problem: `"${host}" is not a host name` };
  if (!path.startsWith('/')) return { ok: false, problem: 'the path after ":" must start with "/"' };
  if (FORBIDDEN_IN_PATH.test(path))
    return { ok: false, problem: 'the path may not contain spaces, ":", ",", "?", "#", quotes or "\\"' };
  return { ok: true, hostPath: `${host.toLowerCase()}:${path.replace(/\/+$/, '') || '/'}` };
}
