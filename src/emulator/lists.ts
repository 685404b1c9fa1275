/** Lists and their columns: create, read by GUID or display name, delete; columns listed, added and updated. */
import { z } from 'zod';
import { identitySet } from './auth';
import { createColumn, renderColumn, type ColumnCreationScope, type ColumnDefinition } from './columns';
import {
  emptyResponse,
  jsonResponse,
  type EmulatorContext,
  type GraphRequest,
  type GraphResponse,
} from './context';
import { badRequest, GraphError, notFound } from './errors';
import { parseExpand, queryOption } from './query';
import { resolveSite } from './sites';
import { ListState, type SiteState } from './state';
import { toGraphDateTime } from './time';

export function resolveList(site: SiteState, ref: string): ListState {
  const list = site.findList(ref);
  if (!list) throw notFound(`List '${ref}' does not exist at site with URL '${site.webUrl}'.`);
  return list;
}

export function listWebUrl(site: SiteState, list: ListState): string {
  return `${site.webUrl}/Lists/${list.name}`;
}

function creationScope(site: SiteState, list: ListState): ColumnCreationScope {
  return {
    existing: list.columns,
    columnsOfList: (listId) => site.lists.get(listId.toLowerCase())?.columns,
  };
}

export function renderList(ctx: EmulatorContext, site: SiteState, list: ListState): Record<string, unknown> {
  const creator = ctx.identities.byNameOrUndefined(list.createdBy) ?? ctx.identities.app;
  const eTag = `"${list.id},${list.schemaVersion}"`;
  return {
    '@odata.etag': eTag,
    createdDateTime: toGraphDateTime(list.createdMs),
    description: list.description,
    eTag,
    id: list.id,
    lastModifiedDateTime: toGraphDateTime(list.modifiedMs),
    name: list.name,
    webUrl: listWebUrl(site, list),
    displayName: list.displayName,
    createdBy: identitySet(creator),
    parentReference: { siteId: site.id },
    list: { contentTypesEnabled: false, hidden: false, template: list.template },
  };
}

const listCreateSchema = z.object({
  displayName: z.string().trim().min(1).max(255),
  description: z.string().optional(),
  columns: z.array(z.unknown()).optional(),
  list: z
    .object({
      template: z.string().optional(),
      contentTypesEnabled: z.boolean().optional(),
      hidden: z.boolean().optional(),
    })
    .optional(),
});

export function createList(ctx: EmulatorContext, req: GraphRequest, siteRef: string): GraphResponse {
  const site = resolveSite(ctx, siteRef);
  const parsed = listCreateSchema.safeParse(req.body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badRequest(`Invalid list at '${issue.path.join('.')}': ${issue.message}`);
  }
  const body = parsed.data;
  const template = body.list?.template ?? 'genericList';
  if (template !== 'genericList')
    throw badRequest(`List template '${template}' is not supported by the emulator: use genericList`);
  if (site.findList(body.displayName))
    throw new GraphError(
      409,
      'nameAlreadyExists',
      'A list, survey, discussion board, or document library with the specified title already exists in this Web site.  Please choose another title.',
    );
  const list = ListState.create(site.id, body.displayName, body.description ?? '', req.identity.name);
  for (const raw of body.columns ?? []) list.addColumn(createColumn(raw, creationScope(site, list)));
  list.schemaVersion = 1;
  site.lists.set(list.id, list);
  ctx.events.stateChanged();
  return jsonResponse(201, {
    '@odata.context': `${ctx.links.baseUrl}/$metadata#sites('${site.id}')/lists/$entity`,
    ...renderList(ctx, site, list),
  });
}

export function getLists(ctx: EmulatorContext, siteRef: string): GraphResponse {
  const site = resolveSite(ctx, siteRef);
  return jsonResponse(200, {
    '@odata.context': `${ctx.links.baseUrl}/$metadata#sites('${site.id}')/lists`,
    value: [...site.lists.values()].map((list) => renderList(ctx, site, list)),
  });
}

export function getList(
  ctx: EmulatorContext,
  req: GraphRequest,
  siteRef: string,
  listRef: string,
): GraphResponse {
  const site = resolveSite(ctx, siteRef);
  const list = resolveList(site, listRef);
  const expand = parseExpand(queryOption(req.query, 'expand'));
  for (const name of expand.names)
    if (name !== 'columns') throw badRequest(`$expand=${name} is not supported on a list by the emulator`);
  if (expand.fields)
    throw badRequest("Could not find a property named 'fields' on type 'microsoft.graph.list'.");
  return jsonResponse(200, {
    '@odata.context': `${ctx.links.baseUrl}/$metadata#sites('${site.id}')/lists/$entity`,
    ...renderList(ctx, site, list),
    ...(expand.names.has('columns') ? { columns: list.columns.map(renderColumn) } : {}),
  });
}

export function deleteList(ctx: EmulatorContext, siteRef: string, listRef: string): GraphResponse {
  const site = resolveSite(ctx, siteRef);
  const list = resolveList(site, listRef);
  site.lists.delete(list.id);
  for (const [id, subscription] of ctx.state.subscriptions)
    if (subscription.listId === list.id) ctx.state.subscriptions.delete(id);
  ctx.events.stateChanged();
  return emptyResponse(204);
}

export function getColumns(ctx: EmulatorContext, siteRef: string, listRef: string): GraphResponse {
  const site = resolveSite(ctx, siteRef);
  const list = resolveList(site, listRef);
  return jsonResponse(200, {
    '@odata.context': `${ctx.links.baseUrl}/$metadata#sites('${site.id}')/lists('${list.id}')/columns`,
    value: list.columns.map(renderColumn),
  });
}

/** A list's column by id, internal name or display name, as Graph resolves `columns/{id}`; 404 otherwise. */
function columnAt(
  ctx: EmulatorContext,
  siteRef: string,
  listRef: string,
  columnRef: string,
): { site: SiteState; list: ListState; column: ColumnDefinition } {
  const site = resolveSite(ctx, siteRef);
  const list = resolveList(site, listRef);
  const column = list.columns.find(
    (c) => c.id === columnRef.toLowerCase() || c.name === columnRef || c.displayName === columnRef,
  );
  if (!column)
    throw notFound(`Column '${columnRef}' does not exist. It may have been deleted by another user.`);
  return { site, list, column };
}

function columnResponse(
  ctx: EmulatorContext,
  { site, list, column }: { site: SiteState; list: ListState; column: ColumnDefinition },
): GraphResponse {
  return jsonResponse(200, {
    '@odata.context': `${ctx.links.baseUrl}/$metadata#sites('${site.id}')/lists('${list.id}')/columns/$entity`,
    ...renderColumn(column),
  });
}

export function getColumn(
  ctx: EmulatorContext,
  siteRef: string,
  listRef: string,
  columnRef: string,
): GraphResponse {
  return columnResponse(ctx, columnAt(ctx, siteRef, listRef, columnRef));
}

const columnUpdateSchema = z
  .object({ text: z.object({ maxLength: z.number().int().min(1).max(255) }).strict() })
  .strict();

/**
 * PATCH a list column (https://learn.microsoft.com/en-us/graph/api/columndefinition-update): the emulator updates a
 * single line of text's `maxLength` only (a site admin narrowing a column under synced values); anything else → 400.
 * Values stored already stay as they are; writes from then on are held to the new length.
 */
export function updateListColumn(
  ctx: EmulatorContext,
  req: GraphRequest,
  siteRef: string,
  listRef: string,
  columnRef: string,
): GraphResponse {
  const found = columnAt(ctx, siteRef, listRef, columnRef);
  const { column } = found;
  const parsed = columnUpdateSchema.safeParse(req.body);
  if (!parsed.success)
    throw badRequest('The emulator updates only text.maxLength of a column: send {"text": {"maxLength": N}}');
  if (column.type.kind !== 'text' || column.type.allowMultipleLines || column.readOnly)
    throw badRequest(`Column '${column.name}' is not a single line of text the emulator can update`);
  column.type.maxLength = parsed.data.text.maxLength;
  ctx.events.stateChanged();
  return columnResponse(ctx, found);
}

export function createListColumn(
  ctx: EmulatorContext,
  req: GraphRequest,
  siteRef: string,
  listRef: string,
): GraphResponse {
  const site = resolveSite(ctx, siteRef);
  const list = resolveList(site, listRef);
  const column = createColumn(req.body, creationScope(site, list));
  list.addColumn(column);
  ctx.events.stateChanged();
  return jsonResponse(201, {
    '@odata.context': `${ctx.links.baseUrl}/$metadata#sites('${site.id}')/lists('${list.id}')/columns/$entity`,
    ...renderColumn(column),
  });
}
