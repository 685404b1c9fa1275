/**
 * Graph routes under /v1.0: which handler answers a (method, path), the route's name for the
 * stats, and what it costs in SharePoint resource units.
 */
import { runBatch } from './batch';
import type { EmulatorContext, GraphRequest, GraphResponse } from './context';
import { getDelta } from './delta';
import { GraphError } from './errors';
import { createItem, deleteItem, getItem, getItemFields, listItems, updateItemFields } from './items';
import {
  createList,
  createListColumn,
  deleteList,
  getColumn,
  getColumns,
  getList,
  getLists,
  updateListColumn,
} from './lists';
import type { RouteAccess } from './permissions';
import { getSite } from './sites';
import {
  createSubscription,
  deleteSubscription,
  getSubscription,
  listSubscriptions,
  reauthorizeSubscription,
  renewSubscription,
} from './subscriptions';

type Params = Record<string, string>;
type Handler = (ctx: EmulatorContext, req: GraphRequest, p: Params) => GraphResponse | Promise<GraphResponse>;

export interface RouteDefinition {
  method: string;
  /** Name in stats, e.g. '/sites/{site}/lists/{list}/items'. */
  template: string;
  cost(req: GraphRequest): number;
  /** The application permission it needs (permissions.ts). */
  access: RouteAccess;
  handle: Handler;
}

export interface RouteMatch {
  route: RouteDefinition;
  params: Params;
}

/** Resource units, as SharePoint charges them. Subscriptions and the $batch envelope are free. */
const SINGLE_READ = () => 1;
const MULTI_READ = () => 2;
const WRITE = () => 2;
const FREE = () => 0;
const DELTA = (req: GraphRequest) => (req.query.get('token') === null ? 2 : 1);

const SITE_ROUTES: RouteDefinition[] = [
  {
    method: 'GET',
    template: '',
    access: { site: 'read' },
    cost: SINGLE_READ,
    handle: (c, _r, p) => getSite(c, p.site),
  },
  {
    method: 'GET',
    template: '/lists',
    access: { site: 'read' },
    cost: MULTI_READ,
    handle: (c, _r, p) => getLists(c, p.site),
  },
  {
    method: 'POST',
    template: '/lists',
    access: { site: 'manage' },
    cost: WRITE,
    handle: (c, r, p) => createList(c, r, p.site),
  },
  {
    method: 'GET',
    template: '/lists/{list}',
    access: { site: 'read' },
    cost: SINGLE_READ,
    handle: (c, r, p) => getList(c, r, p.site, p.list),
  },
  {
    method: 'DELETE',
    template: '/lists/{list}',
    access: { site: 'manage' },
    cost: WRITE,
    handle: (c, _r, p) => deleteList(c, p.site, p.list),
  },
  {
    method: 'GET',
    template: '/lists/{list}/columns',
    access: { site: 'read' },
    cost: MULTI_READ,
    handle: (c, _r, p) => getColumns(c, p.site, p.list),
  },
  {
    method: 'POST',
    template: '/lists/{list}/columns',
    access: { site: 'manage' },
    cost: WRITE,
    handle: (c, r, p) => createListColumn(c, r, p.site, p.list),
  },
  {
    method: 'GET',
    template: '/lists/{list}/columns/{column}',
    access: { site: 'read' },
    cost: SINGLE_READ,
    handle: (c, _r, p) => getColumn(c, p.site, p.list, p.column),
  },
  {
    method: 'PATCH',
    template: '/lists/{list}/columns/{column}',
    access: { site: 'manage' },
    cost: WRITE,
    handle: (c, r, p) => updateListColumn(c, r, p.site, p.list, p.column),
  },
  {
    method: 'GET',
    template: '/lists/{list}/items',
    access: { site: 'read' },
    cost: MULTI_READ,
    handle: (c, r, p) => listItems(c, r, p.site, p.list),
  },
  {
    method: 'POST',
    template: '/lists/{list}/items',
    access: { site: 'write' },
    cost: WRITE,
    handle: (c, r, p) => createItem(c, r, p.site, p.list),
  },
  {
    method: 'GET',
    template: '/lists/{list}/items/delta',
    access: { site: 'read' },
    cost: DELTA,
    handle: (c, r, p) => getDelta(c, r, p.site, p.list),
  },
  {
    method: 'GET',
    template: '/lists/{list}/items/{item}',
    access: { site: 'read' },
    cost: SINGLE_READ,
    handle: (c, r, p) => getItem(c, r, p.site, p.list, p.item),
  },
  {
    method: 'DELETE',
    template: '/lists/{list}/items/{item}',
    access: { site: 'write' },
    cost: WRITE,
    handle: (c, r, p) => deleteItem(c, r, p.site, p.list, p.item),
  },
  {
    method: 'GET',
    template: '/lists/{list}/items/{item}/fields',
    access: { site: 'read' },
    cost: SINGLE_READ,
    handle: (c, r, p) => getItemFields(c, r, p.site, p.list, p.item),
  },
  {
    method: 'PATCH',
    template: '/lists/{list}/items/{item}/fields',
    access: { site: 'write' },
    cost: WRITE,
    handle: (c, r, p) => updateItemFields(c, r, p.site, p.list, p.item),
  },
];

const OTHER_ROUTES: RouteDefinition[] = [
  { method: 'POST', template: '/$batch', access: 'none', cost: FREE, handle: (c, r) => runBatch(c, r) },
  {
    method: 'GET',
    template: '/subscriptions',
    access: { tenantWide: 'write' },
    cost: FREE,
    handle: (c, r) => listSubscriptions(c, r),
  },
  {
    method: 'POST',
    template: '/subscriptions',
    access: { tenantWide: 'write' },
    cost: FREE,
    handle: (c, r) => createSubscription(c, r),
  },
  {
    method: 'GET',
    template: '/subscriptions/{id}',
    access: { tenantWide: 'write' },
    cost: FREE,
    handle: (c, r, p) => getSubscription(c, r, p.id),
  },
  {
    method: 'PATCH',
    template: '/subscriptions/{id}',
    access: { tenantWide: 'write' },
    cost: FREE,
    handle: (c, r, p) => renewSubscription(c, r, p.id),
  },
  {
    method: 'DELETE',
    template: '/subscriptions/{id}',
    access: { tenantWide: 'write' },
    cost: FREE,
    handle: (c, r, p) => deleteSubscription(c, r, p.id),
  },
  {
    method: 'POST',
    template: '/subscriptions/{id}/reauthorize',
    access: { tenantWide: 'write' },
    cost: FREE,
    handle: (c, r, p) => reauthorizeSubscription(c, r, p.id),
  },
];

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GraphError(400, 'BadRequest', `Invalid percent-encoding in segment '${segment}'.`);
  }
}

function segments(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

interface CompiledRoute {
  route: RouteDefinition;
  /** Literal segment, or null for a parameter. */
  parts: (string | null)[];
  names: string[];
}

function compile(routes: RouteDefinition[], prefix: string): CompiledRoute[] {
  return routes.map((route) => {
    const raw = segments(route.template);
    return {
      route: { ...route, template: `${prefix}${route.template}` },
      parts: raw.map((part) => (part.startsWith('{') ? null : part)),
      names: raw.map((part) => (part.startsWith('{') ? part.slice(1, -1) : '')),
    };
  });
}

const COMPILED_SITE_ROUTES = compile(SITE_ROUTES, '/sites/{site}');
const COMPILED_OTHER_ROUTES = compile(OTHER_ROUTES, '');

/** Matches decoded segments against a compiled template; literal 'delta()' counts as 'delta'. */
function matchTemplate(compiled: CompiledRoute, rest: string[]): Params | undefined {
  if (compiled.parts.length !== rest.length) return undefined;
  // Literals first: most templates tried for a request do not match, and need no parameters built.
  for (let i = 0; i < rest.length; i++) {
    const literal = compiled.parts[i];
    if (literal !== null && literal !== rest[i] && !(literal === 'delta' && rest[i] === 'delta()'))
      return undefined;
  }
  const params: Params = {};
  for (let i = 0; i < rest.length; i++) if (compiled.parts[i] === null) params[compiled.names[i]] = rest[i];
  return params;
}

/** `/sites/{host}:/{path}[:/{rest}]` or `/sites/{id}[/{rest}]` → the site reference and what follows. */
function splitSitePath(path: string): { site: string; rest: string } | undefined {
  const byPath = /^\/sites\/([^/:]+):(\/[^:]*?)(?::(\/.*)?)?$/.exec(path);
  if (byPath) return { site: `${decode(byPath[1])}:${decode(byPath[2])}`, rest: byPath[3] ?? '' };
  const byId = /^\/sites\/([^/]+)(\/.*)?$/.exec(path);
  if (byId) return { site: decode(byId[1]), rest: byId[2] ?? '' };
  return undefined;
}

function notFoundSegment(path: string): GraphError {
  const first = segments(path)[0] ?? '';
  return new GraphError(400, 'BadRequest', `Resource not found for the segment '${decode(first)}'.`);
}

/** The route for a request; throws 400 for an unknown resource and 405 for a known one with the wrong method. */
export function matchRoute(method: string, path: string): RouteMatch {
  const site = path.startsWith('/sites/') ? splitSitePath(path) : undefined;
  const rest = segments(site ? site.rest : path).map(decode);
  const table = site ? COMPILED_SITE_ROUTES : COMPILED_OTHER_ROUTES;
  let candidates: RouteMatch[] = [];
  for (const compiled of table) {
    const params = matchTemplate(compiled, rest);
    if (params)
      candidates.push({ route: compiled.route, params: site ? { ...params, site: site.site } : params });
  }
  // A literal segment beats a parameter: items/delta is not item 'delta'.
  if (candidates.length > 1) candidates = candidates.filter((c) => !c.params.item?.startsWith('delta'));
  if (candidates.length === 0) throw notFoundSegment(path);
  const match = candidates.find((c) => c.route.method === method);
  if (!match)
    throw new GraphError(
      405,
      'MethodNotAllowed',
      `The HTTP method '${method}' is not allowed on '${candidates[0].route.template}'.`,
    );
  return match;
}
