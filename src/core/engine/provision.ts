import { spColumnTypeForProvisioning } from '../canonical';
import { readSourceColumns } from '../definition/validateLive';
import { getDefinition } from '../store/definitions';
import { quoteIdent } from '../source/postgres/PostgresSource';
import { GraphRequestError, type SharePointTarget } from '../target/sharepoint';
import type { SyncDefinition } from '../definition/schema';
import type { SourceColumn } from '../definition/validateLive';
import { forgetResolution, SourceTableNotFoundError } from './runner';
import type { EngineContext } from './types';

async function distinctArrayValues(
  ctx: EngineContext,
  connection: string,
  schema: string,
  table: string,
  column: string,
): Promise<string[]> {
  const { rows } = await ctx
    .sourcePool(connection)
    .query<{ v: string }>(
      `SELECT DISTINCT unnest(${quoteIdent(column)})::text AS v FROM ${quoteIdent(schema)}.${quoteIdent(table)} ORDER BY 1 LIMIT 200`,
    );
  const values = rows.map((r) => r.v).filter((v) => v !== null && v !== '');
  return values.length > 0 ? values : ['Other'];
}

export interface ProvisionResult {
  listId: string;
  listCreated: boolean;
  columnsAdded: string[];
}

/**
 * Creates the definition's list when it does not exist, and any mapped column it lacks, typed from the
 * source column (canonical/fieldKind decides the facet), plus the hidden indexed key column that lets a
 * rerun adopt an item created in flight (I6). Existing columns are left as they are.
 */
export async function provisionList(ctx: EngineContext, definitionName: string): Promise<ProvisionResult> {
  const { definition: def } = await getDefinition(ctx.meta, definitionName);
  const pgColumns = await readSourceColumns(
    ctx.sourcePool(def.source.connection),
    def.source.schema,
    def.source.table,
  );
  if (!pgColumns) throw new SourceTableNotFoundError(def.name, `${def.source.schema}.${def.source.table}`);
  const pgByName = new Map(pgColumns.map((c) => [c.name, c]));
  const target = ctx.target();
  try {
    return await provisionWith(ctx, target, def, pgByName);
  } finally {
    forgetResolution(ctx, def);
    await target.close();
  }
}

async function provisionWith(
  ctx: EngineContext,
  target: SharePointTarget,
  def: SyncDefinition,
  pgByName: Map<string, SourceColumn>,
): Promise<ProvisionResult> {
  const site = await target.resolveSite(def.target.site);

  let listId: string;
  let listCreated = false;
  try {
    listId = (await target.resolveList(site.id, def.target.list)).id;
  } catch (err) {
    if (!(err instanceof GraphRequestError) || err.status !== 404) throw err;
    listId = (await target.createList(site.id, def.target.list, [])).id;
    listCreated = true;
    ctx.log.info(`${def.name}: created list "${def.target.list}"`);
  }

  const existing = new Set((await target.getColumns(site.id, listId)).map((c) => c.name));
  const columnsAdded: string[] = [];
  for (const f of def.fields) {
    if (existing.has(f.target)) continue;
    const pg = pgByName.get(f.source);
    if (!pg)
      throw new Error(`Definition "${def.name}": column "${f.source}" does not exist in the source table`);
    const facet = spColumnTypeForProvisioning(pg);
    if ('choice' in facet && facet.choice.choices.length === 0) {
      // A choice column needs at least one choice: seed it with the values the column holds today
      // (allowTextEntry keeps any other value writable).
      facet.choice.choices = await distinctArrayValues(
        ctx,
        def.source.connection,
        def.source.schema,
        def.source.table,
        f.source,
      );
    }
    // A key field is push-only (plan.ts) and a SharePoint edit of it is a conflict Postgres wins. Its column is
    // not made read-only: Graph's columnDefinition has `readOnly` ("Specifies whether the column values can be
    // modified", learn.microsoft.com/graph/api/resources/columndefinition, v1.0), settable on create and by
    // PATCH, but it applies to every client: a read-only column refuses writes from this app too (reported for
    // the REST API and Power Automate alike; the emulator refuses them the same way), so push could no longer
    // write the key of a new item. Graph has no "read-only for users, writable for apps" setting, so the column
    // only says so in its description.
    const description = def.source.key.includes(f.source)
      ? 'Key field, synced from Postgres: an edit here is recorded as a conflict and reverted'
      : undefined;
    await target.addColumn(site.id, listId, {
      name: f.target,
      displayName: f.target,
      ...(description ? { description } : {}),
      ...facet,
    });
    columnsAdded.push(f.target);
  }
  if (!existing.has(def.target.keyColumn)) {
    await target.addColumn(site.id, listId, {
      name: def.target.keyColumn,
      displayName: def.target.keyColumn,
      text: {},
      hidden: true,
      indexed: true,
      description: 'ArcoreSyncBridge source identity (do not edit)',
    });
    columnsAdded.push(def.target.keyColumn);
  }
  if (
    def.deletes.push === 'SOFT' &&
    def.deletes.pushSoftColumn &&
    !existing.has(def.deletes.pushSoftColumn)
  ) {
    await target.addColumn(site.id, listId, {
      name: def.deletes.pushSoftColumn,
      displayName: def.deletes.pushSoftColumn,
      boolean: {},
    });
    columnsAdded.push(def.deletes.pushSoftColumn);
  }
  if (columnsAdded.length) ctx.log.info(`${def.name}: added columns ${columnsAdded.join(', ')}`);
  return { listId, listCreated, columnsAdded };
}
