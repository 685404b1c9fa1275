/** Sites: addressed by `host:/path` or composite id `host,{collection-guid},{web-guid}`. */
import { jsonResponse, type EmulatorContext, type GraphResponse } from './context';
import { notFound } from './errors';
import type { SiteState } from './state';
import { toGraphDateTime } from './time';

export function resolveSite(ctx: EmulatorContext, ref: string): SiteState {
  const site = ctx.state.findSite(ref);
  if (!site) throw notFound('Requested site could not be found');
  return site;
}

export function renderSite(site: SiteState): Record<string, unknown> {
  return {
    createdDateTime: toGraphDateTime(site.createdMs),
    description: '',
    id: site.id,
    lastModifiedDateTime: toGraphDateTime(Date.now()),
    name: site.name,
    webUrl: site.webUrl,
    displayName: site.name.charAt(0).toUpperCase() + site.name.slice(1),
    root: {},
    siteCollection: { hostname: site.hostname },
  };
}

export function getSite(ctx: EmulatorContext, siteRef: string): GraphResponse {
  const site = resolveSite(ctx, siteRef);
  return jsonResponse(200, {
    '@odata.context': `${ctx.links.baseUrl}/$metadata#sites/$entity`,
    ...renderSite(site),
  });
}
