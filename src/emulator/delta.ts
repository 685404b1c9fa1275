/**
 * listItem delta. A token holds a position in the list's change log (or, during the first full
 * enumeration, the last id returned plus the log position when enumeration began), the query
 * options it was issued with, the epoch and its issue time. Incremental calls read only the log
 * entries after the position. Expired or foreign tokens answer 410 with a Location that restarts.
 */
import { z } from 'zod';
import { jsonResponse, type EmulatorContext, type GraphRequest, type GraphResponse } from './context';
import { GraphError, type GraphErrorBody } from './errors';
import { plainItem } from './itemStore';
import { renderListItem, valueScope } from './items';
import { resolveList } from './lists';
import { parseExpand, parseSelect, parseTop, queryOption } from './query';
import { resolveSite } from './sites';
import type { ListState, SiteState, StoredItem } from './state';
import { assertLookupThreshold, assertSelectableFields, type ValueScope } from './values';

const tokenSchema = z.object({
  v: z.literal(1),
  /** List id. */
  l: z.string(),
  /** Epoch issued in. */
  e: z.number().int(),
  /** Issued at (ms). */
  i: z.number(),
  /** 'e' = enumerating items (a = last id returned, s = log position at start); 'c' = changes after s. */
  k: z.enum(['e', 'c']),
  s: z.number().int().min(0),
  a: z.number().int().min(0),
  /** Query options: expand, select, top. */
  x: z.string().nullable(),
  q: z.string().nullable(),
  t: z.string().nullable(),
  /** Ids of the previous page to show again on this one (repeats across pages). */
  r: z.array(z.number().int().positive()).optional(),
});

type DeltaToken = z.infer<typeof tokenSchema>;
type DeltaOptions = Pick<DeltaToken, 'x' | 'q' | 't'>;

function encodeToken(token: DeltaToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeToken(raw: string): DeltaToken | undefined {
  try {
    const parsed = tokenSchema.safeParse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function deltaUrl(ctx: EmulatorContext, site: SiteState, list: ListState, token: string): string {
  return ctx.links.absolute(`/sites/${site.id}/lists/${list.id}/items/delta?token=${token}`);
}

function tokenFor(
  ctx: EmulatorContext,
  list: ListState,
  kind: 'e' | 'c',
  position: number,
  afterId: number,
  options: DeltaOptions,
  repeat?: number[],
): string {
  return encodeToken({
    v: 1,
    l: list.id,
    e: ctx.state.deltaEpoch,
    i: Date.now(),
    k: kind,
    s: position,
    a: afterId,
    ...options,
    ...(repeat && repeat.length > 0 ? { r: repeat } : {}),
  });
}

function resync(
  ctx: EmulatorContext,
  site: SiteState,
  list: ListState,
  options: DeltaOptions,
  why: string,
): never {
  const restart = deltaUrl(ctx, site, list, tokenFor(ctx, list, 'e', list.seq, 0, options));
  throw new GraphError(
    410,
    'resyncChangesApplyDifferences',
    `Resync required (${why}). Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about.`,
    { Location: restart },
  );
}

interface DeltaEntry {
  item: StoredItem | undefined;
  deletedId: number | undefined;
}

function renderEntry(
  scope: ValueScope,
  entry: DeltaEntry,
  render: (item: StoredItem) => Record<string, unknown>,
) {
  if (entry.item) return render(entry.item);
  return {
    id: String(entry.deletedId),
    parentReference: { siteId: scope.site.id },
    deleted: { state: 'deleted' },
  };
}

/** The version of an item before its latest write, for repeated (stale) occurrences. */
function previousState(item: StoredItem): StoredItem {
  const previous = item.previous;
  if (!previous) return item;
  return plainItem({
    id: item.id,
    uniqueId: item.uniqueId,
    version: previous.version,
    values: previous.values,
    createdMs: item.createdMs,
    modifiedMs: previous.modifiedMs,
    author: item.author,
    editor: previous.editor,
    changeSeq: item.changeSeq,
  });
}

/** Ids of this page that the next page shows again. */
function carriedOver(ctx: EmulatorContext, entries: DeltaEntry[]): number[] {
  if (ctx.settings.deltaRepeats === 0) return [];
  return entries
    .map((entry) => entry.item?.id ?? entry.deletedId)
    .filter((id): id is number => id !== undefined && ctx.random.chance(ctx.settings.deltaRepeats));
}

export function getDelta(
  ctx: EmulatorContext,
  req: GraphRequest,
  siteRef: string,
  listRef: string,
): GraphResponse {
  const site = resolveSite(ctx, siteRef);
  const list = resolveList(site, listRef);
  const explicit: DeltaOptions = {
    x: queryOption(req.query, 'expand'),
    q: queryOption(req.query, 'select'),
    t: queryOption(req.query, 'top'),
  };
  const rawToken = req.query.get('token');

  let token: DeltaToken;
  if (rawToken === null) {
    token = {
      v: 1,
      l: list.id,
      e: ctx.state.deltaEpoch,
      i: Date.now(),
      k: 'e',
      s: list.seq,
      a: 0,
      ...explicit,
    };
  } else if (rawToken === 'latest') {
    token = {
      v: 1,
      l: list.id,
      e: ctx.state.deltaEpoch,
      i: Date.now(),
      k: 'c',
      s: list.seq,
      a: 0,
      ...explicit,
    };
  } else {
    const decoded = decodeToken(rawToken);
    if (!decoded || decoded.l !== list.id)
      resync(ctx, site, list, explicit, 'the token is not valid for this list');
    // The options the token encodes, never ones added to its link later: "If you use any query parameter (other
    // than $deltatoken and $skiptoken), you must specify it in the initial delta request. Microsoft Graph
    // automatically encodes any specified parameters into the token" (https://learn.microsoft.com/en-us/graph/
    // delta-query-overview, "State tokens"). An engine that widened a stored link's selection would pass here only
    // if Graph applied it, which it does not promise.
    const options: DeltaOptions = { x: decoded.x, q: decoded.q, t: decoded.t };
    if (decoded.e !== ctx.state.deltaEpoch) resync(ctx, site, list, options, 'the token has expired');
    const maxAge = ctx.settings.deltaTokenMaxAgeMs;
    if (maxAge !== undefined && Date.now() - decoded.i > maxAge)
      resync(ctx, site, list, options, 'the token has expired');
    if (decoded.s > list.seq) resync(ctx, site, list, options, 'the token is ahead of the list');
    token = { ...decoded, ...options };
  }
  const options: DeltaOptions = { x: token.x, q: token.q, t: token.t };

  const expand = parseExpand(token.x);
  if (expand.fieldSelect) assertSelectableFields(list, expand.fieldSelect);
  if (expand.fields) assertLookupThreshold(list, expand.fieldSelect);
  const renderOptions = {
    fields: expand.fields,
    fieldSelect: expand.fieldSelect,
    select: parseSelect(token.q),
  };
  const top = parseTop(token.t);
  const scope = valueScope(ctx, site, list);
  // A tenant whose change pages omit fields (conformance delta.changePagesCarryFields) answers them without it.
  const bare = ctx.settings.deltaChangesWithoutFields && token.k === 'c' && rawToken !== 'latest';
  const itemOptions = bare ? { ...renderOptions, fields: false } : renderOptions;
  const render = (item: StoredItem) => renderListItem(scope, item, itemOptions);

  const entries: DeltaEntry[] = [];
  let more = false;
  let nextToken: string;
  if (rawToken === 'latest') {
    nextToken = tokenFor(ctx, list, 'c', list.seq, 0, options);
  } else if (token.k === 'e') {
    let lastId = token.a;
    for (const item of list.itemsAfter(token.a)) {
      if (entries.length === top) {
        more = true;
        break;
      }
      entries.push({ item, deletedId: undefined });
      lastId = item.id;
    }
    // Changes made while enumerating are picked up by the deltaLink, which starts where enumeration began.
    nextToken = more
      ? tokenFor(ctx, list, 'e', token.s, lastId, options, carriedOver(ctx, entries))
      : tokenFor(ctx, list, 'c', token.s, 0, options);
  } else {
    let lastSeq = token.s;
    for (const { seq, itemId } of list.changeLog.entriesAfter(token.s)) {
      if (!list.isCurrentChange(seq, itemId)) continue;
      if (entries.length === top) {
        more = true;
        break;
      }
      const item = list.item(itemId);
      entries.push({ item, deletedId: item ? undefined : itemId });
      lastSeq = seq;
    }
    nextToken = more
      ? tokenFor(ctx, list, 'c', lastSeq, 0, options, carriedOver(ctx, entries))
      : tokenFor(ctx, list, 'c', list.seq, 0, options);
  }

  // "The same item might appear more than once in a delta feed … use the last occurrence"
  // (https://learn.microsoft.com/en-us/graph/api/listitem-delta); pages come in no documented order
  // (https://learn.microsoft.com/en-us/graph/delta-query-overview). The emulator shows items of the
  // previous page again (current state), puts stale versions before latest ones, and shuffles.
  const repeated: DeltaEntry[] = [];
  if (ctx.settings.deltaRepeats > 0 && rawToken !== null && rawToken !== 'latest') {
    const shown = new Set(entries.map((entry) => entry.item?.id ?? entry.deletedId));
    for (const id of token.r ?? []) {
      if (shown.has(id)) continue;
      const item = list.item(id);
      if (item) repeated.push({ item, deletedId: undefined });
      else if (token.k === 'c') repeated.push({ item: undefined, deletedId: id });
    }
  }
  const latest = [...repeated, ...entries];
  if (ctx.settings.deltaOrder === 'unspecified') ctx.random.shuffle(latest);
  // An item a test made unreadable comes as an {"error"} entry in each of its places (deltaErrors.ts), counted once
  // per answer.
  const unreadable = new Map<number, GraphErrorBody | undefined>();
  const errorFor = (id: number) => {
    if (!unreadable.has(id))
      unreadable.set(id, ctx.deltaErrors.take(list, id, req.requestId, req.clientRequestId));
    return unreadable.get(id);
  };
  const value = latest.map(
    (entry) => errorFor(entry.item?.id ?? (entry.deletedId as number)) ?? renderEntry(scope, entry, render),
  );
  if (ctx.settings.deltaRepeats > 0) {
    for (let index = latest.length - 1; index >= 0; index--) {
      const item = latest[index].item;
      if (!item?.previous || !ctx.random.chance(ctx.settings.deltaRepeats)) continue;
      if (unreadable.get(item.id)) continue;
      const at = ctx.random.between(0, index);
      value.splice(at, 0, renderListItem(scope, previousState(item), renderOptions));
    }
  }
  const link = deltaUrl(ctx, site, list, nextToken);
  return jsonResponse(200, {
    '@odata.context': `${ctx.links.baseUrl}/$metadata#Collection(listItem)`,
    value,
    ...(more ? { '@odata.nextLink': link } : { '@odata.deltaLink': link }),
  });
}
