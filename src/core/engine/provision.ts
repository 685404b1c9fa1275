import { spColumnTypeForProvisioning } from '../canonical';
import { readSourceColumns } from '../definition/validateLive';
import { getDefinition } from '../store/definitions';
import { quoteIdent } from '../source/postgres/PostgresSource';
import { GraphRequestError, internalNameFor, type SharePointTarget } from '../target/sharepoint';
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
  /** Columns SharePoint created under another internal name than requested (requested → actual). */
  renamed?: Record<string, string>;
}

/**
 * A column name SharePoint would not keep: its internal name (escaped, cut to 32 characters) differs,
 * so the mapping would name a column that does not exist. Checked before anything is created.
 */
function assertKeepableName(definition: string, name: string): void {
  const internal = internalNameFor(name);
  if (internal === name) return;
  const suggestion =
    name
      .replace(/[^A-Za-z0-9_]/g, '')
      .replace(/^[0-9]+/, '')
      .slice(0, 32) || 'Column';
  throw new Error(
    `Definition "${definition}": SharePoint would create column "${name}" with the internal name "${internal}" ` +
      '(internal names escape characters other than letters, digits and _, and are cut to 32 characters), ' +
      `so the mapping could not find it. Use a target of at most 32 letters, digits or _ (e.g. "${suggestion}") and rerun.`,
  );
}

/** Graph is reported to refuse `displayAs: "checkBoxes"`, the only documented multi-choice shape. */
function multiChoiceRefused(definition: string, column: string, err: GraphRequestError): Error {
  return new Error(
    `Definition "${definition}": Graph refused to create the multi-choice column "${column}" ` +
      `(choice.displayAs "checkBoxes", https://learn.microsoft.com/en-us/graph/api/resources/choicecolumn; ` +
      `refusals reported in https://github.com/microsoftgraph/microsoft-graph-docs/issues/21021): ${err.message}. ` +
      `Create it in the list settings as a Choice column named "${column}" with "Allow multiple selections", then rerun.`,
  );
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
  const wanted = [...def.fields.map((f) => f.target), def.target.keyColumn];
  if (def.deletes.push === 'SOFT' && def.deletes.pushSoftColumn) wanted.push(def.deletes.pushSoftColumn);
  for (const name of wanted) if (!existing.has(name)) assertKeepableName(def.name, name);
  const columnsAdded: string[] = [];
  const renamed: Record<string, string> = {};
  const add = async (column: { name: string } & Record<string, unknown>): Promise<void> => {
    const created = await target.addColumn(site.id, listId, column);
    if (created.name !== column.name) renamed[column.name] = created.name;
  };
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
    try {
      await add({ name: f.target, displayName: f.target, ...facet });
    } catch (err) {
      if ('choice' in facet && err instanceof GraphRequestError && err.status === 400)
        throw multiChoiceRefused(def.name, f.target, err);
      throw err;
    }
    columnsAdded.push(f.target);
  }
  if (!existing.has(def.target.keyColumn)) {
    await add({
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
    await add({
      name: def.deletes.pushSoftColumn,
      displayName: def.deletes.pushSoftColumn,
      boolean: {},
    });
    columnsAdded.push(def.deletes.pushSoftColumn);
  }
  if (columnsAdded.length) ctx.log.info(`${def.name}: added columns ${columnsAdded.join(', ')}`);
  for (const [requested, actual] of Object.entries(renamed))
    ctx.log.warn(
      `${def.name}: SharePoint created column "${requested}" as "${actual}": map the field to "${actual}"`,
    );
  return { listId, listCreated, columnsAdded, ...(Object.keys(renamed).length ? { renamed } : {}) };
}
