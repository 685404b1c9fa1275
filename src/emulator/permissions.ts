/**
 * Application permissions, as Graph enforces them on SharePoint: each route needs a level of access to
 * its site, and an app token reaches a level through a tenant-wide role (Sites.Read.All …
 * Sites.FullControl.All) or a Sites.Selected grant on that site. Otherwise 403 `accessDenied`.
 *
 * Sources (the least-privileged application permission of each operation):
 * - items read, list, delta: Sites.Read.All
 *   https://learn.microsoft.com/en-us/graph/api/listitem-get, …/listitem-list, …/listitem-delta
 * - items create, update, delete: Sites.ReadWrite.All
 *   https://learn.microsoft.com/en-us/graph/api/listitem-create, …/listitem-update, …/listitem-delete
 * - lists and columns create: Sites.Manage.All
 *   https://learn.microsoft.com/en-us/graph/api/list-create, …/list-post-columns
 * - list subscriptions: Sites.ReadWrite.All; Sites.Selected is not listed
 *   https://learn.microsoft.com/en-us/graph/api/subscription-post-subscriptions
 * - Sites.Selected with read / write / manage / fullcontrol grants per site
 *   https://learn.microsoft.com/en-us/graph/permissions-selected-overview
 * - list delete: Sites.Manage.All (https://learn.microsoft.com/en-us/graph/api/list-delete)
 */
import type { Identity } from './auth';
import { GraphError } from './errors';

export const APP_ROLES = [
  'Sites.Read.All',
  'Sites.ReadWrite.All',
  'Sites.Manage.All',
  'Sites.FullControl.All',
  'Sites.Selected',
] as const;
export type AppRole = (typeof APP_ROLES)[number];

export const SITE_ACCESS_LEVELS = ['read', 'write', 'manage', 'fullcontrol'] as const;
export type SiteAccess = (typeof SITE_ACCESS_LEVELS)[number];

/** What a route needs: access to its site, a tenant-wide role (subscriptions), or nothing ($batch). */
export type RouteAccess = { site: SiteAccess } | { tenantWide: SiteAccess } | 'none';

const ROLE_LEVEL: Record<Exclude<AppRole, 'Sites.Selected'>, SiteAccess> = {
  'Sites.Read.All': 'read',
  'Sites.ReadWrite.All': 'write',
  'Sites.Manage.All': 'manage',
  'Sites.FullControl.All': 'fullcontrol',
};

/** The least-privileged role that gives `level` tenant-wide: what an error names. */
export const ROLE_FOR_LEVEL: Record<SiteAccess, AppRole> = {
  read: 'Sites.Read.All',
  write: 'Sites.ReadWrite.All',
  manage: 'Sites.Manage.All',
  fullcontrol: 'Sites.FullControl.All',
};

const rank = (level: SiteAccess): number => SITE_ACCESS_LEVELS.indexOf(level);

function tenantWideLevel(identity: Identity): number {
  let best = -1;
  for (const role of identity.roles ?? [])
    if (role !== 'Sites.Selected') best = Math.max(best, rank(ROLE_LEVEL[role]));
  return best;
}

function accessDenied(): GraphError {
  // Graph's answer carries no more than this: the operator has to know which permission is missing.
  return new GraphError(403, 'accessDenied', 'Access denied');
}

/** Throws 403 accessDenied unless `identity` may perform a route needing `access` (on `siteId`). */
export function checkAccess(identity: Identity, access: RouteAccess, siteId: string | undefined): void {
  if (access === 'none' || identity.kind === 'user') return;
  const have = tenantWideLevel(identity);
  if ('tenantWide' in access) {
    if (have < rank(access.tenantWide)) throw accessDenied();
    return;
  }
  if (have >= rank(access.site)) return;
  const granted = siteId === undefined ? undefined : identity.siteGrants?.get(siteId);
  if (identity.roles?.has('Sites.Selected') && granted !== undefined && rank(granted) >= rank(access.site))
    return;
  throw accessDenied();
}
