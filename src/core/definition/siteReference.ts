/**
 * `target.site` names a site as Graph addresses it: `host:/server-relative-path` (`contoso.sharepoint.com:/sites/ops`),
 * a composite id (`host,guid,guid`) or a host alone (the root site)
 * (https://learn.microsoft.com/graph/api/site-getbypath). An operator often pastes the address the browser shows
 * instead; Graph answers it with a 404 that says nothing of the form. This names the form and the value to write.
 */

/** The site part of a server-relative path: `/sites/x` or `/teams/x` when there is one, else the path as given. */
function sitePath(pathname: string): string {
  const trimmed = pathname.replace(/\/+$/, '');
  const collection = /^\/(sites|teams|personal)\/[^/]+/i.exec(trimmed);
  return collection ? collection[0] : trimmed;
}

/** What is wrong with a `target.site` written in another form, with the value to write; null when it is fine. */
export function siteReferenceProblem(site: string): string | null {
  const form = 'write the site as host:/server-relative-path';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(site)) {
    let url: URL;
    try {
      url = new URL(site);
    } catch {
      return `"${site}" is a web address, not a site reference: ${form}, e.g. "contoso.sharepoint.com:/sites/ops"`;
    }
    const path = sitePath(decodeURIComponent(url.pathname));
    const suggestion = path === '' ? url.hostname : `${url.hostname}:${path}`;
    return `"${site}" is a web address, not a site reference: ${form}, here "${suggestion}"`;
  }
  if (!site.includes(':/') && !site.includes(',') && site.includes('/')) {
    const at = site.indexOf('/');
    const suggestion = `${site.slice(0, at)}:${sitePath(site.slice(at))}`;
    return `"${site}" has no ":" between the host and the path: ${form}, here "${suggestion}"`;
  }
  return null;
}
