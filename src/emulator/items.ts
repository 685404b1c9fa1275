/**
 * List items: create (201 listItem), read, list with paging and $filter, update fields (200 field
 * map), delete (204); eTags that change on every write and If-Match checks (412 on mismatch).
 */
import { z } from 'zod';
import { identitySet } from './auth';
import {
  emptyResponse,
  jsonResponse,
  type EmulatorContext,
  type GraphRequest,
  type GraphResponse,
} from './context';
import { badRequest, GraphError, notFound } from './errors';
import { evaluateFilter, indexableEquality, parseFilter, referencedFields } from './filter';
import { newGuid } from './ids';
import { listWebUrl, resolveList } from './lists';
import {
  applySelect,
  decodeSkipToken,
  encodeSkipToken,
  parseExpand,
  parseSelect,
  parseTop,
  queryOption,
  type ExpandOptions,
} from './query';
import { resolveSite } from './sites';
import type { ListState, SiteState, StoredItem } from './state';
import { toGraphDateTime, truncateToSecond } from './time';
import {
  assertLookupThreshold,
  assertSelectableFields,
  eTagIdentity,
  filterColumn,
  filterOperand,
  fromGraphFields,
  itemETag,
  selectGraphFields,
  toGraphFields,
  type ValueScope,
} from './values';

export const NON_INDEXED_PREFER = 'HonorNonIndexedQueriesWarningMayFailRandomly';
export const LIST_VIEW_THRESHOLD = 5000;

export interface ItemRenderOptions {
  /** Include `fields`; with a select list, only those. */
  fields: boolean;
  fieldSelect?: string[];
  /** Top-level `$select`. */
  select?: string[];
}

export function valueScope(ctx: EmulatorContext, site: SiteState, list: ListState): ValueScope {
  return { state: ctx.state, identities: ctx.identities, site, list };
}

export function renderFields(
  scope: ValueScope,
  item: StoredItem,
  select?: string[],
): Record<string, unknown> {
  if (!select) return toGraphFields(scope, item);
  return selectGraphFields(scope, item, toGraphFields(scope, item, true), select);
}

/** A Graph listItem. */
export function renderListItem(
  scope: ValueScope,
  item: StoredItem,
  options: ItemRenderOptions,
): Record<string, unknown> {
  const { site, list, identities } = scope;
  const eTag = itemETag(item);
  const author = identities.byNameOrUndefined(item.author) ?? identities.app;
  const editor = identities.byNameOrUndefined(item.editor) ?? identities.app;
  const entity: Record<string, unknown> = {
    '@odata.etag': eTag,
    createdDateTime: toGraphDateTime(item.createdMs),
    eTag,
    id: String(item.id),
    lastModifiedDateTime: toGraphDateTime(item.modifiedMs),
    webUrl: `${listWebUrl(site, list)}/${item.id}_.000`,
    createdBy: identitySet(author),
    lastModifiedBy: identitySet(editor),
    parentReference: { id: list.id, siteId: site.id },
    contentType: { id: list.contentTypeId, name: 'Item' },
  };
  const selected = applySelect(entity, options.select);
  if (options.fields) selected.fields = renderFields(scope, item, options.fieldSelect);
  return selected;
}

function itemRenderOptions(
  req: GraphRequest,
  list: ListState,
  collection: boolean,
): { expand: ExpandOptions; options: ItemRenderOptions } {
  const expand = parseExpand(queryOption(req.query, 'expand'));
  for (const name of expand.names)
    throw badRequest(`Could not find a property named '${name}' on type 'microsoft.graph.listItem'.`);
  if (expand.fieldSelect) assertSelectableFields(list, expand.fieldSelect);
  if (collection && expand.fields) assertLookupThreshold(list, expand.fieldSelect);
  const select = parseSelect(queryOption(req.query, 'select'));
  return { expand, options: { fields: expand.fields, fieldSelect: expand.fieldSelect, select } };
}

export function parseItemId(raw: string): number {
  if (!/^[1-9]\d{0,9}$/.test(raw)) throw badRequest(`'${raw}' is not a valid list item id`);
  return Number(raw);
}

function requireItem(list: ListState, rawId: string): StoredItem {
  const item = list.item(parseItemId(rawId));
  if (!item) throw notFound('The specified list item was not found.');
  return item;
}

/** 412 unless If-Match is absent, `*`, or the item's current eTag. */
function checkIfMatch(req: GraphRequest, item: StoredItem): void {
  const ifMatch = req.headers['if-match'];
  if (ifMatch === undefined || ifMatch.trim() === '*') return;
  // SharePoint eTags contain a comma, so If-Match carries exactly one of them.
  // Both spellings (item eTag, fields @odata.etag) name the same version; the docs say "the eTag"
  // (https://learn.microsoft.com/en-us/graph/api/listitem-update): the conformance probe checks both.
  if (eTagIdentity(ifMatch) !== eTagIdentity(itemETag(item)))
    throw new GraphError(
      412,
      'resourceModified',
      `The request ETag value '${ifMatch}' does not match the object's ETag value '${itemETag(item)}'.`,
    );
}

function contextUrl(ctx: EmulatorContext, site: SiteState, list: ListState): string {
  return `${ctx.links.baseUrl}/$metadata#sites('${site.id}')/lists('${list.id}')/items`;
}

const createBodySchema = z.object({ fields: z.record(z.string(), z.unknown()).optional() });

export function createItem(
  ctx: EmulatorContext,
  req: GraphRequest,
  siteRef: string,
  listRef: string,
): GraphResponse {
  const site = resolveSite(ctx, siteRef);
  const list = resolveList(site, listRef);
  const parsed = createBodySchema.safeParse(req.body ?? {});
  if (!parsed.success)
    throw badRequest('The body of a list item create is {"fields": {…}}: fields must be an object');
  const scope = valueScope(ctx, site, list);
  const values = fromGraphFields(scope, undefined, parsed.data.fields ?? {});
  const now = truncateToSecond(Date.now());
  const item = list.insert({
    id: list.nextItemId++,
    uniqueId: newGuid(),
    version: 1,
    values,
    createdMs: now,
    modifiedMs: now,
    author: req.identity.name,
    editor: req.identity.name,
    changeSeq: list.nextSeq(),
  });
  list.logChange(item.changeSeq, item.id);
  ctx.events.itemsChanged(site, list);
  return jsonResponse(201, {
    '@odata.context': `${contextUrl(ctx, site, list)}/$entity`,
    ...renderListItem(scope, item, { fields: true }),
  });
}

export function getItem(
  ctx: EmulatorContext,
  req: GraphRequest,
  siteRef: string,
  listRef: string,
  itemRef: string,
): GraphResponse {
  const site = resolveSite(ctx, siteRef);
  const list = resolveList(site, listRef);
  const { options } = itemRenderOptions(req, list, false);
  const item = requireItem(list, itemRef);
  return jsonResponse(200, {
    '@odata.context': `${contextUrl(ctx, site, list)}/$entity`,
    ...renderListItem(valueScope(ctx, site, list), item, options),
  });
}

export function getItemFields(
  ctx: EmulatorContext,
  req: GraphRequest,
  siteRef: string,
  listRef: string,
  itemRef: string,
): GraphResponse {
  const site = resolveSite(ctx, siteRef);
  const list = resolveList(site, listRef);
  const select = parseSelect(queryOption(req.query, 'select'));
  if (select) assertSelectableFields(list, select);
  const item = requireItem(list, itemRef);
  return jsonResponse(200, {
    '@odata.context': `${contextUrl(ctx, site, list)}('${item.id}')/fields/$entity`,
    ...renderFields(valueScope(ctx, site, list), item, select),
  });
}

const fieldMapSchema = z.record(z.string(), z.unknown());

export function updateItemFields(
  ctx: EmulatorContext,
  req: GraphRequest,
  siteRef: string,
  listRef: string,
  itemRef: string,
): GraphResponse {
  const site = resolveSite(ctx, siteRef);
  const list = resolveList(site, listRef);
  const item = requireItem(list, itemRef);
  checkIfMatch(req, item);
  const parsed = fieldMapSchema.safeParse(req.body);
  if (!parsed.success) throw badRequest('The body of PATCH …/fields is a JSON object of field values');
  const scope = valueScope(ctx, site, list);
  const values = fromGraphFields(scope, item.values, parsed.data);
  const updated = list.replace({
    id: item.id,
    uniqueId: item.uniqueId,
    version: item.version + 1,
    values,
    createdMs: item.createdMs,
    modifiedMs: truncateToSecond(Date.now()),
    author: item.author,
    editor: req.identity.name,
    changeSeq: list.nextSeq(),
  });
  list.logChange(updated.changeSeq, updated.id);
  ctx.events.itemsChanged(site, list);
  return jsonResponse(
    200,
    {
      '@odata.context': `${contextUrl(ctx, site, list)}('${updated.id}')/fields/$entity`,
      ...renderFields(scope, updated),
    },
    { ETag: itemETag(updated) },
  );
}

export function deleteItem(
  ctx: EmulatorContext,
  req: GraphRequest,
  siteRef: string,
  listRef: string,
  itemRef: string,
): GraphResponse {
  const site = resolveSite(ctx, siteRef);
  const list = resolveList(site, listRef);
  const item = requireItem(list, itemRef);
  checkIfMatch(req, item);
  const seq = list.nextSeq();
  list.remove(item.id, seq);
  list.logChange(seq, item.id);
  ctx.events.itemsChanged(site, list);
  return emptyResponse(204);
}

function withQuery(ctx: EmulatorContext, req: GraphRequest, replace: Record<string, string>): string {
  const params = new URLSearchParams(req.query);
  for (const key of Object.keys(replace)) {
    params.delete(key);
    params.delete(key.replace(/^\$/, ''));
  }
  for (const [key, value] of Object.entries(replace)) params.set(key, value);
  return `${ctx.links.absolute(req.path)}?${params.toString()}`;
}

export function listItems(
  ctx: EmulatorContext,
  req: GraphRequest,
  siteRef: string,
  listRef: string,
): GraphResponse {
  const site = resolveSite(ctx, siteRef);
  const list = resolveList(site, listRef);
  const { options } = itemRenderOptions(req, list, true);
  const top = parseTop(queryOption(req.query, 'top'));
  const afterId = decodeSkipToken(queryOption(req.query, 'skiptoken'));
  if (queryOption(req.query, 'orderby'))
    throw badRequest('$orderby is not supported by the emulator: items come in id order');
  const scope = valueScope(ctx, site, list);

  const filterText = queryOption(req.query, 'filter');
  let matches: (item: StoredItem) => boolean = () => true;
  // Items to consider, in id order: every item after the skip token, or those an equality index names.
  let candidates: Iterable<StoredItem> = list.itemsAfter(afterId);
  if (filterText) {
    const expression = parseFilter(filterText);
    const equality = indexableEquality(expression);
    const indexed = equality && filterColumn(list, equality.field);
    if (equality && indexed?.indexed && indexed.type.kind === 'text' && indexed.name === equality.field)
      candidates = itemsByIds(list, list.idsWithText(indexed.name, equality.text), afterId);
    const honourNonIndexed = (req.headers.prefer ?? '').includes(NON_INDEXED_PREFER);
    for (const name of referencedFields(expression)) {
      const column = filterColumn(list, name);
      if (!column)
        throw badRequest(`Column '${name}' does not exist. It may have been deleted by another user.`);
      if (!column.indexed && !honourNonIndexed)
        throw badRequest(
          `Field '${name}' cannot be referenced in filter or orderby as it is not indexed. Provide the 'Prefer: ${NON_INDEXED_PREFER}' header to allow this, but be warned that such queries may fail on large lists.`,
        );
      // The header only helps below the list view threshold: past 5,000 items a query on a column
      // without an index fails, Prefer or not ("queries on lists of more than 5,000 items that include
      // fields that are not indexed … will fail",
      // https://learn.microsoft.com/en-us/previous-versions/office/developer/sharepoint-2010/ee557257(v=office.14)).
      // Graph's answer as reported: notSupported / tooManyResources
      // (https://docs.uipath.com/activities/other/latest/productivity/working-with-sharepoint-lists).
      if (!column.indexed && list.liveCount > LIST_VIEW_THRESHOLD)
        throw new GraphError(
          400,
          'notSupported',
          `The request is unprocessable because it uses too many resources (field '${name}' is not indexed and the list holds more than ${LIST_VIEW_THRESHOLD} items).`,
        );
    }
    matches = (item) => evaluateFilter(expression, (name) => filterOperand(scope, item, name));
  }

  const page: Record<string, unknown>[] = [];
  let lastId = afterId;
  let more = false;
  for (const item of candidates) {
    if (!matches(item)) continue;
    if (page.length === top) {
      more = true;
      break;
    }
    page.push(renderListItem(scope, item, options));
    lastId = item.id;
  }
  return jsonResponse(200, {
    '@odata.context': contextUrl(ctx, site, list),
    ...(more ? { '@odata.nextLink': withQuery(ctx, req, { $skiptoken: encodeSkipToken(lastId) }) } : {}),
    value: page,
  });
}

/** The live items of `ids` (ascending) after `afterId`. */
function* itemsByIds(list: ListState, ids: number[], afterId: number): Generator<StoredItem> {
  for (const id of ids) {
    if (id <= afterId) continue;
    const item = list.item(id);
    if (item) yield item;
  }
}
