import {
  fieldKindFor,
  missingEnumChoices,
  spColumnTypeForProvisioning,
  UnsupportedMappingError,
  type ProvisioningFacet,
  type SpColumnInfo,
} from '../canonical';
import { getDefinition } from '../store/definitions';
import { readSourceTable, type SourceColumn } from '../source/postgres/catalog';
import { assertKeyIdentifies } from '../source/postgres/keys';
import { quoteIdent } from '../source/postgres/PostgresSource';
import { GraphRequestError, internalNameFor, type SharePointTarget } from '../target/sharepoint';
import type { SyncDefinition } from '../definition/schema';
import { appendOnlyProblem } from './appendOnly';
import { MappingError, pipelineKinds } from './plan';
import { fieldTransforms } from './transform';
import { pushPipelineOutput } from '../transform/check';
import type { PipelineType } from '../transform/steps';
import { forgetResolution, ListNotFoundError, SourceTableNotFoundError } from './runner';
import type { EngineContext } from './types';
import { isListId, isRouted, targetListLabel, targetLists } from '../routing/lists';
import { errorKindOf } from '../errors/classify';

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

/** What provision did to one list. */
export interface ProvisionedList {
  /** The list as the definition names it. */
  list: string;
  listId: string;
  listCreated: boolean;
  columnsAdded: string[];
  /** Columns SharePoint created under another internal name than requested (requested → actual). */
  renamed?: Record<string, string>;
  /** Columns added with the type their field's push pipeline produces instead of the Postgres column's. */
  typedByTransform?: TypedByTransform[];
}

/** A column created with its push pipeline's output type (a number made text, a time made a date…). */
export interface TypedByTransform {
  column: string;
  /** The Postgres column's type. */
  sourceType: string;
  /** What the pipeline hands SharePoint, and so the column's type. */
  type: Exclude<PipelineType, 'other'>;
  transform: string;
}

/** The first list's outcome at the top level (the one list of a single-list definition), every list in `lists`. */
export interface ProvisionResult extends ProvisionedList {
  lists: ProvisionedList[];
}

/**
 * A column name SharePoint would not keep: its internal name (escaped, cut to 32 characters) differs,
 * so the mapping would name a column that does not exist. Checked before anything is created. A target that is
 * the display name of a column the list has is named with that column's internal name, which the mapping needs.
 */
function assertKeepableName(
  definition: string,
  list: string,
  /** The field mapping the column; -1 for one no field maps (the soft-delete flag). */
  field: number,
  name: string,
  existing: Iterable<SpColumnInfo>,
): void {
  const internal = internalNameFor(name);
  if (internal === name) return;
  const at = field >= 0 ? `fields[${field}].target: ` : '';
  const shown = [...existing].find((c) => c.displayName.toLowerCase() === name.toLowerCase());
  if (shown) {
    throw new MappingError(
      definition,
      `${at}list "${list}" has a column displayed as "${shown.displayName}" whose internal ` +
        `name is "${shown.name}": map that name (mappings name columns by internal name, not display name)`,
    );
  }
  const suggestion =
    name
      .replace(/[^A-Za-z0-9_]/g, '')
      .replace(/^[0-9]+/, '')
      .slice(0, 32) || 'Column';
  throw new MappingError(
    definition,
    `${at}SharePoint would create column "${name}" with the internal name "${internal}" ` +
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

/** The column every new generic list comes with, planned against before the list exists. */
const TEMPLATE_TITLE: SpColumnInfo = {
  name: 'Title',
  displayName: 'Title',
  type: 'text',
  readOnly: false,
  hidden: false,
  indexed: false,
  isSystem: false,
};

/** One column provision will add: everything decided before the first Graph write. */
interface PlannedColumn {
  name: string;
  body: Record<string, unknown>;
  typedByTransform?: TypedByTransform;
}

/** The SharePoint column that holds what a pipeline hands on. */
const FACET_OF_PIPELINE_TYPE: Record<Exclude<PipelineType, 'other'>, ProvisioningFacet> = {
  text: { text: {} },
  number: { number: {} },
  date: { dateTime: { format: 'dateOnly' } },
  dateTime: { dateTime: { format: 'dateTime' } },
};

/**
 * The column a field whose push pipeline changes the type needs (TZ makes a time text, DATE a date, CONCAT
 * text), or null when the Postgres column's type decides. Throws UnsupportedMappingError when the pipeline
 * does not type-check or ends in a value no column can hold.
 */
function pipelineColumn(
  f: SyncDefinition['fields'][number],
  pg: SourceColumn,
): { facet: ProvisioningFacet; typed: TypedByTransform } | null {
  if (f.transform === undefined) return null;
  const out = pushPipelineOutput(f.transform, fieldKindFor(pg, undefined));
  const transform = typeof f.transform === 'string' ? f.transform : JSON.stringify(f.transform);
  if (out.error)
    throw new UnsupportedMappingError(
      pg.name,
      pg.dataType,
      undefined,
      `transform ${transform}: ${out.error}`,
    );
  if (!out.changed) return null;
  if (out.type === 'other')
    throw new UnsupportedMappingError(
      pg.name,
      pg.dataType,
      undefined,
      `transform ${transform} ends in a value no SharePoint column can hold`,
    );
  return {
    facet: FACET_OF_PIPELINE_TYPE[out.type],
    typed: { column: f.target, sourceType: pg.dataType, type: out.type, transform },
  };
}

/**
 * Creates the definition's list (every routed list) when it does not exist, and any mapped column it lacks, typed from the
 * source column (canonical/fieldKind decides the facet), plus the hidden indexed key column that lets a
 * rerun adopt an item created in flight (I6). Existing columns are left as they are.
 *
 * Every mapped column is checked before anything is created (a type that cannot be provisioned, an existing
 * column of the wrong type, an enum's labels missing from an existing choice column): one refusal names all
 * problems. A rerun after any failure reuses the list and the columns already there and adds the rest.
 */
export async function provisionList(ctx: EngineContext, definitionName: string): Promise<ProvisionResult> {
  const { definition: def } = await getDefinition(ctx.meta, definitionName);
  const { schema, table, key } = def.source;
  const info = await readSourceTable(ctx.sourcePool(def.source.connection), schema, table);
  if (!info) throw new SourceTableNotFoundError(def.name, `${schema}.${table}`);
  assertKeyIdentifies(def.name, info, schema, table, key);
  const pgByName = new Map(info.columns.map((c) => [c.name, c]));
  const target = ctx.target();
  try {
    return await provisionWith(ctx, target, def, pgByName);
  } finally {
    forgetResolution(ctx, def);
    await target.close();
  }
}

async function facetFor(
  ctx: EngineContext,
  def: SyncDefinition,
  pg: SourceColumn,
): Promise<ProvisioningFacet> {
  const facet = spColumnTypeForProvisioning(pg);
  if ('choice' in facet && facet.choice.choices.length === 0) {
    if (pg.enum) {
      throw new UnsupportedMappingError(
        pg.name,
        `enum ${pg.enum.schema}.${pg.enum.name}`,
        undefined,
        'the enum has no labels; a SharePoint choice column needs at least one choice',
      );
    }
    // A choice column needs at least one choice: seed it with the values the column holds today
    // (allowTextEntry keeps any other value writable).
    facet.choice.choices = await distinctArrayValues(
      ctx,
      def.source.connection,
      def.source.schema,
      def.source.table,
      pg.name,
    );
  }
  return facet;
}

/** The columns to add, or every reason the definition cannot be provisioned as it stands. */
async function planColumns(
  ctx: EngineContext,
  def: SyncDefinition,
  pgByName: Map<string, SourceColumn>,
  existing: Map<string, SpColumnInfo>,
  listName: string,
  problem: (message: string) => void,
): Promise<PlannedColumn[]> {
  const planned: PlannedColumn[] = [];
  for (const [i, f] of def.fields.entries()) {
    const pg = pgByName.get(f.source);
    if (!pg) {
      problem(`fields[${i}].source: column "${f.source}" does not exist in the source table`);
      continue;
    }
    const sp = existing.get(f.target);
    try {
      if (sp) {
        const appendOnly = appendOnlyProblem(f, i, sp, listName);
        if (appendOnly) problem(appendOnly);
        // With pipelines, the column must hold what the push pipeline hands on (checked as a run's plan does).
        const transforms = fieldTransforms(f);
        if (transforms) pipelineKinds(def.name, i, transforms, pg, sp);
        else fieldKindFor(pg, sp);
        const missing = missingEnumChoices(pg, sp);
        if (missing) problem(`fields[${i}].target: ${missing}`);
        continue;
      }
      const typed = pipelineColumn(f, pg);
      const facet = typed ? typed.facet : await facetFor(ctx, def, pg);
      // A key field is push-only (plan.ts) and a SharePoint edit of it is a conflict Postgres wins. Its column is
      // not made read-only: Graph's columnDefinition has `readOnly` ("Specifies whether the column values can be
      // modified", learn.microsoft.com/graph/api/resources/columndefinition, v1.0), but it applies to every
      // client: a read-only column refuses writes from this app too, so push could no longer write the key of a
      // new item. Graph has no "read-only for users only" setting, so the column says so in its description.
      const description = def.source.key.includes(f.source)
        ? 'Key field, synced from Postgres: an edit here is recorded as a conflict and reverted'
        : undefined;
      planned.push({
        name: f.target,
        body: { name: f.target, displayName: f.target, ...(description ? { description } : {}), ...facet },
        ...(typed ? { typedByTransform: typed.typed } : {}),
      });
    } catch (err) {
      if (err instanceof MappingError) problem(err.detail);
      else if (err instanceof UnsupportedMappingError) problem(`fields[${i}]: ${err.message}`);
      else throw err;
    }
  }
  if (!existing.has(def.target.keyColumn)) {
    planned.push({
      name: def.target.keyColumn,
      body: {
        name: def.target.keyColumn,
        displayName: def.target.keyColumn,
        text: {},
        hidden: true,
        indexed: true,
        description: 'ArcoreSyncBridge source identity (do not edit)',
      },
    });
  }
  const soft = def.deletes.push === 'SOFT' ? def.deletes.pushSoftColumn : undefined;
  if (soft && !existing.has(soft)) {
    planned.push({ name: soft, body: { name: soft, displayName: soft, boolean: {} } });
  }
  return planned;
}

async function provisionWith(
  ctx: EngineContext,
  target: SharePointTarget,
  def: SyncDefinition,
  pgByName: Map<string, SourceColumn>,
): Promise<ProvisionResult> {
  let site: { id: string };
  try {
    site = await target.resolveSite(def.target.site);
  } catch (err) {
    if (errorKindOf(err) !== 'not_found') throw err;
    throw new ListNotFoundError(def.name, def.target.site, targetListLabel(def), err, 'site');
  }
  const names = targetLists(def);
  const routed = isRouted(def);

  // Every list is planned before the first write, so a refusal in any list creates nothing in all of them.
  const plans: {
    name: string;
    listId: string | null;
    planned: PlannedColumn[];
    existing: Map<string, SpColumnInfo>;
  }[] = [];
  const problems: string[] = [];
  for (const name of names) {
    let listId: string | null = null;
    try {
      listId = (await target.resolveList(site.id, name)).id;
    } catch (err) {
      if (!(err instanceof GraphRequestError) || err.status !== 404) throw err;
      // A GUID names an existing list: creating one would make a new list titled with the GUID, and sync into it.
      if (isListId(name)) throw new ListNotFoundError(def.name, def.target.site, name, err);
    }
    const existing = new Map(
      (listId ? await target.getColumns(site.id, listId) : [TEMPLATE_TITLE]).map((c) => [c.name, c]),
    );
    const planned = await planColumns(ctx, def, pgByName, existing, name, (problem) =>
      problems.push(routed ? `list "${name}": ${problem}` : problem),
    );
    plans.push({ name, listId, planned, existing });
  }
  if (problems.length > 0) {
    throw new MappingError(
      def.name,
      `provision refused, nothing was created or changed: ${problems.join('; ')}`,
    );
  }
  // Names SharePoint would escape or cut are refused before anything is created (internalNames.ts).
  for (const plan of plans) {
    for (const column of plan.planned) {
      const field = def.fields.findIndex((f) => f.target === column.name);
      assertKeepableName(def.name, plan.name, field, column.name, plan.existing.values());
    }
  }

  const lists: ProvisionedList[] = [];
  for (const plan of plans) lists.push(await provisionOne(ctx, target, def, site.id, plan));
  return { ...lists[0], lists };
}

async function provisionOne(
  ctx: EngineContext,
  target: SharePointTarget,
  def: SyncDefinition,
  siteId: string,
  plan: { name: string; listId: string | null; planned: PlannedColumn[] },
): Promise<ProvisionedList> {
  let { listId, planned } = plan;
  const listCreated = listId === null;
  if (listId === null) {
    listId = (await target.createList(siteId, plan.name, [])).id;
    ctx.log.info(`${def.name}: created list "${plan.name}"`);
    const created = new Set((await target.getColumns(siteId, listId)).map((c) => c.name));
    planned = planned.filter((c) => !created.has(c.name));
  }
  const columnsAdded: string[] = [];
  const renamed: Record<string, string> = {};
  const typedByTransform: TypedByTransform[] = [];
  for (const column of planned) {
    try {
      const created = await target.addColumn(siteId, listId, column.body);
      if (created.name !== column.name) renamed[column.name] = created.name;
    } catch (err) {
      if ('choice' in column.body && err instanceof GraphRequestError && err.status === 400)
        throw multiChoiceRefused(def.name, column.name, err);
      throw err;
    }
    columnsAdded.push(column.name);
    if (column.typedByTransform) typedByTransform.push(column.typedByTransform);
  }
  const where = isRouted(def) ? ` to list "${plan.name}"` : '';
  if (columnsAdded.length) ctx.log.info(`${def.name}: added columns ${columnsAdded.join(', ')}${where}`);
  for (const t of typedByTransform) ctx.log.info(`${def.name}: ${typedByTransformLine(t)}${where}`);
  for (const [requested, actual] of Object.entries(renamed))
    ctx.log.warn(
      `${def.name}: SharePoint created column "${requested}" as "${actual}"${where}: map the field to "${actual}"`,
    );
  return {
    list: plan.name,
    listId,
    listCreated,
    columnsAdded,
    ...(Object.keys(renamed).length ? { renamed } : {}),
    ...(typedByTransform.length ? { typedByTransform } : {}),
  };
}

const TYPE_WORDS: Record<TypedByTransform['type'], string> = {
  text: 'text',
  number: 'a number',
  date: 'a date',
  dateTime: 'a date and time',
};

/** How provision says a column was typed by its pipeline. */
export function typedByTransformLine(t: TypedByTransform): string {
  return (
    `column "${t.column}" created as ${TYPE_WORDS[t.type]} column: its transform ${t.transform} turns the ` +
    `Postgres ${t.sourceType} into ${TYPE_WORDS[t.type]}`
  );
}
