/**
 * Checks whose requests go through the engine's own code: SharePointTarget (its selections, `$batch` writes with
 * If-Match, delta restart) and toGraphFields / fromGraphFields (the value forms it writes and how it reads them).
 * A hand-built request can pass where the engine's form fails; these fail where the engine would. They write only
 * to the probe's scratch list (ProbeContext.engineList).
 */
import {
  canonicalEquals,
  fromGraphFields,
  graphFieldKey,
  toGraphFields,
  type CanonicalValue,
  type FieldKind,
  type MappedColumn,
  type SpColumnInfo,
} from '../core/canonical';
import {
  GraphRequestError,
  MAX_LOOKUPS_PER_QUERY,
  ResyncRequiredError,
  type DeltaPage,
  type ListItem,
  type WriteOp,
  type WriteOutcome,
} from '../core/target/sharepoint';
import type { Check, ProbeContext } from './context';
import { fail, pass, skip } from './types';

const DOCS = 'https://learn.microsoft.com/en-us/graph/api';

const describeOutcome = (o: WriteOutcome): string =>
  o.status === 'rejected'
    ? `rejected ${o.httpStatus} ${o.code}: ${o.message}`
    : o.status === 'failed'
      ? `failed: ${o.message}`
      : o.status;

const describeError = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** One write through the engine's BatchWriter to the scratch list. */
async function writeOne(ctx: ProbeContext, op: WriteOp): Promise<WriteOutcome> {
  const { target, siteId, listId } = ctx.engineList();
  const [outcome] = await target.writeItems(siteId, listId, [op]);
  return outcome;
}

async function readOne(ctx: ProbeContext, itemId: string, select: string[]): Promise<ListItem | null> {
  const { target, siteId, listId } = ctx.engineList();
  return target.getItem(siteId, listId, itemId, select);
}

/** The scratch column of `role` as the engine maps it: its kind, and the column as the engine reads it. */
async function mappedColumn(
  ctx: ProbeContext,
  role: string,
  kind: FieldKind,
): Promise<Map<string, MappedColumn>> {
  const { target, siteId, listId } = ctx.engineList();
  const name = ctx.column(role);
  const sp = (await target.getColumns(siteId, listId)).find((c) => c.name === name);
  return new Map([[name, sp ? { kind, sp } : { kind }]]);
}

/** A value kind written in the engine's form, read back through the engine's reading, then cleared its way. */
interface EngineForm {
  role: string;
  kind: FieldKind;
  value(ctx: ProbeContext): CanonicalValue;
  /** What goes wrong for a user when the cleared value does not read null. */
  clearedHarm: string;
  source: string;
}

/*
 * Date-only values are left to `roundTrip.dateOnly`: the engine's date form depends on the site's time zone, which
 * that check is told and these are not.
 */
const ENGINE_FORMS: EngineForm[] = [
  {
    role: 'dateTime',
    kind: 'dateTime',
    value: () => '2024-03-10T08:26:00Z',
    clearedHarm: 'a cleared timestamp comes back to Postgres',
    source: `${DOCS}/resources/datetimecolumn`,
  },
  {
    role: 'boolean',
    kind: 'boolean',
    value: () => true,
    clearedHarm: 'a NULL yes/no column in Postgres becomes false at the next pull of its row',
    source: `${DOCS}/resources/booleancolumn`,
  },
  {
    role: 'lookup',
    kind: 'lookupId',
    value: (ctx) => Number(ctx.items.get('lookupTarget')),
    clearedHarm: 'a lookup cleared in Postgres stays in SharePoint and comes back',
    source: `${DOCS}/resources/fieldvalueset`,
  },
  {
    role: 'person',
    kind: 'lookupId',
    value: (ctx) => ctx.userLookupId as number,
    clearedHarm: 'a person cleared in Postgres stays in SharePoint and comes back',
    source: `${DOCS}/resources/personorgroupcolumn`,
  },
  {
    role: 'multiChoice',
    kind: 'multiChoice',
    value: () => ['alpha', 'gamma'],
    clearedHarm: 'choices cleared in Postgres stay in SharePoint and come back',
    source: 'https://github.com/microsoftgraph/microsoft-graph-docs/issues/21021',
  },
  {
    role: 'multiPerson',
    kind: 'multiLookupId',
    value: (ctx) => [ctx.userLookupId as number],
    clearedHarm: 'people cleared in Postgres stay in SharePoint and come back',
    source: `${DOCS}/resources/personorgroupcolumn`,
  },
];

function engineRoundTrip(form: EngineForm): Check {
  return {
    name: `engineRoundTrip.${form.role}`,
    source: form.source,
    async run(ctx) {
      const id = ctx.items.get('main');
      if (!id || !ctx.columns.has(form.role)) return skip('the item or the column could not be created');
      if (!Number.isInteger(form.value(ctx)) && form.kind === 'lookupId')
        return skip('no lookup target or user-list id to write');
      if (form.kind === 'multiLookupId' && !Number.isInteger(ctx.userLookupId))
        return skip('no user-list id to write');
      const columns = await mappedColumn(ctx, form.role, form.kind);
      const field = ctx.column(form.role);
      const select = [graphFieldKey(field, form.kind)];
      const roundTrip = async (value: CanonicalValue) => {
        const body = toGraphFields({ [field]: value }, columns);
        const outcome = await writeOne(ctx, { kind: 'update', ref: 'probe', itemId: id, fields: body });
        if (outcome.status !== 'updated')
          return {
            body,
            problem: `the engine's update ${JSON.stringify(body)} was ${describeOutcome(outcome)}`,
          };
        const item = await readOne(ctx, id, select);
        if (!item) return { body, problem: `item ${id} is gone` };
        return { body, read: fromGraphFields(item.fields, columns)[field] };
      };
      const value = form.value(ctx);
      const written = await roundTrip(value);
      if ('problem' in written) return fail(written.problem ?? '');
      if (!canonicalEquals(written.read, value))
        return fail(
          `the engine wrote ${JSON.stringify(written.body)} and reads back ${JSON.stringify(written.read)}, ` +
            `not ${JSON.stringify(value)}: every pull would see a change, and Postgres would take the value read`,
        );
      const cleared = await roundTrip(null);
      if ('problem' in cleared) return fail(cleared.problem ?? '');
      return cleared.read === null
        ? pass(
            `the engine's ${JSON.stringify(written.body)} reads back as written; its clear ${JSON.stringify(cleared.body)} reads empty`,
          )
        : fail(
            `the engine's clear ${JSON.stringify(cleared.body)} reads ${JSON.stringify(cleared.read)}, not empty: ${form.clearedHarm}`,
          );
    },
  };
}

/** The kind the engine maps each scratch column to, for a create that carries every one of them. */
const KIND_OF_ROLE: Record<string, FieldKind> = {
  text: 'text',
  note: 'note',
  number: 'number',
  currency: 'number',
  boolean: 'boolean',
  dateTime: 'dateTime',
  dateOnly: 'dateOnly',
  choice: 'choice',
  multiChoice: 'multiChoice',
  lookup: 'lookupId',
  person: 'lookupId',
  multiPerson: 'multiLookupId',
};

/**
 * A push creates an item with every mapped column of its row (createFields): `null` for each empty scalar, `[]` with
 * its `@odata.type` for each empty multi-valued one. Graph documents no rule for `null` in a create; a refusal is
 * reported (https://github.com/microsoftgraph/msgraph-sdk-dotnet-core/issues/656). Leaving nulls out is no way round
 * it: a column with a default value would then take the default, which the next pull would bring to Postgres.
 */
const emptyCreate: Check = {
  name: 'engineCreate.emptyValues',
  source: `${DOCS}/listitem-create`,
  async run(ctx) {
    if (!ctx.columns.has('key')) return skip('no hidden key column');
    const { target, siteId, listId } = ctx.engineList();
    const spColumns = await target.getColumns(siteId, listId);
    const columns = new Map<string, MappedColumn>();
    for (const [role, kind] of Object.entries(KIND_OF_ROLE)) {
      const name = ctx.columns.get(role);
      if (name === undefined) continue;
      const sp = spColumns.find((c) => c.name === name);
      columns.set(name, sp ? { kind, sp } : { kind });
    }
    const key = ctx.column('key');
    const empty = Object.fromEntries([...columns.keys()].map((name) => [name, null]));
    const fields = { ...toGraphFields(empty, columns), Title: 'empty values', [key]: 'conf-empty' };
    const created = await writeOne(ctx, {
      kind: 'create',
      ref: 'probe',
      fields,
      adoptBy: { field: key, value: 'conf-empty' },
    });
    if (created.status !== 'created')
      return fail(
        `the engine's create of a row whose ${columns.size} mapped columns are all empty ${JSON.stringify(fields)} ` +
          `was ${describeOutcome(created)}: every row with an empty column would be refused (parked) by push`,
      );
    const item = await readOne(ctx, created.itemId, [
      ...[...columns].map(([name, column]) => graphFieldKey(name, column.kind)),
      key,
    ]);
    if (!item) return fail(`item ${created.itemId} is gone after its create`);
    const read = fromGraphFields(item.fields, columns);
    const filled = Object.entries(read).filter(([, value]) => value !== null);
    const deleted = await writeOne(ctx, { kind: 'delete', ref: 'probe', itemId: created.itemId });
    if (filled.length > 0)
      return fail(
        `created, but ${filled.map(([name, value]) => `${name} reads ${JSON.stringify(value)}`).join(', ')}, not ` +
          "empty: the next pull would write those values over the row's NULLs",
      );
    return deleted.status === 'deleted'
      ? pass(
          `the engine's create with ${columns.size} empty columns (null, [] with its annotation) reads back empty`,
        )
      : fail(`created and read back empty, but its delete was ${describeOutcome(deleted)}`);
  },
};

/** How the engine must classify each scratch column from GET /columns (columns.ts): the facets it decides by. */
const EXPECTED_COLUMNS: Record<string, Partial<SpColumnInfo>> = {
  text: { type: 'text' },
  note: { type: 'note' },
  number: { type: 'number' },
  currency: { type: 'currency' },
  boolean: { type: 'boolean' },
  dateTime: { type: 'dateTime', dateOnly: false },
  dateOnly: { type: 'dateTime', dateOnly: true },
  choice: { type: 'choice' },
  multiChoice: { type: 'multiChoice' },
  lookup: { type: 'lookup', allowMultiple: false },
  person: { type: 'person', allowMultiple: false },
  multiPerson: { type: 'person', allowMultiple: true },
  key: { type: 'text', hidden: true, indexed: true },
};

const reads: Check[] = [
  {
    name: 'columns.engineClassification',
    source: `${DOCS}/resources/columndefinition`,
    async run(ctx) {
      if (!ctx.columns.has('key')) return skip('the columns could not be created');
      const { target, siteId, listId } = ctx.engineList();
      const columns = await target.getColumns(siteId, listId);
      const wrong: string[] = [];
      let compared = 0;
      for (const [role, expected] of Object.entries(EXPECTED_COLUMNS)) {
        const name = ctx.columns.get(role);
        if (name === undefined) continue;
        compared++;
        const read = columns.find((c) => c.name === name);
        if (!read) {
          wrong.push(`${name} is missing from GET /columns`);
          continue;
        }
        for (const [facet, value] of Object.entries(expected) as [keyof SpColumnInfo, unknown][])
          if (read[facet] !== value)
            wrong.push(`${name}: ${facet} ${JSON.stringify(read[facet])}, expected ${JSON.stringify(value)}`);
      }
      return wrong.length === 0
        ? pass(`GET /columns describes all ${compared} scratch columns as the engine classifies them`)
        : fail(`the engine would classify columns wrongly (values mangled): ${wrong.join('; ')}`);
    },
  },
  {
    name: 'fields.unknownSelectRefused',
    source: `${DOCS}/resources/fieldvalueset`,
    async run(ctx) {
      const id = ctx.items.get('main');
      if (!id) return skip('no item');
      const { target, siteId, listId } = ctx.engineList();
      try {
        const item = await target.getItem(siteId, listId, id, ['Title', 'ArcoreConformanceNoSuchColumn']);
        return fail(
          `selecting a column the list does not have answered ${item ? 'the item' : '404'} instead of an error: a ` +
            'column deleted in SharePoint reads as empty until the engine resolves the list again (at most 10 ' +
            'minutes), and a pull in that window writes NULL for it',
        );
      } catch (error) {
        return error instanceof GraphRequestError && error.status === 400
          ? pass('selecting a column the list does not have is refused with 400, never read as empty')
          : fail(`selecting a column the list does not have failed otherwise: ${describeError(error)}`);
      }
    },
  },
  {
    name: 'fields.lookupThreshold',
    source: `${DOCS}/resources/fieldvalueset`,
    async run(ctx) {
      const id = ctx.items.get('main');
      const target = ctx.items.get('lookupTarget');
      if (!id || !target || !ctx.columns.has('lookup') || !ctx.columns.has('person') || !ctx.lookupListId)
        return skip('no item, lookup target or lookup column');
      // The scratch list's lookup and person columns, Author and Editor (which count), and as many more lookups as
      // it takes to select one past the threshold: the last one is the lookup the engine reads item by item.
      const selected = ['AuthorLookupId', 'EditorLookupId', `${ctx.column('lookup')}LookupId`];
      selected.push(`${ctx.column('person')}LookupId`);
      if (ctx.columns.has('multiPerson')) selected.push(`${ctx.column('multiPerson')}LookupId`);
      for (let n = 1; selected.length <= MAX_LOOKUPS_PER_QUERY; n++) {
        const name = `ConfLookupMore${n}`;
        const res = await ctx.send('POST', `${ctx.listPath()}/columns`, {
          name,
          displayName: name,
          lookup: { listId: ctx.lookupListId, columnName: 'Title' },
        });
        if (res.status !== 201) return fail(`POST lookup column ${name}: expected 201, got ${res.status}`);
        selected.push(`${String((res.body as { name?: unknown }).name)}LookupId`);
      }
      const last = selected[selected.length - 1];
      const write = await ctx.send(
        'PATCH',
        `${ctx.listPath()}/items/${id}/fields`,
        { [last]: Number(target) },
        { 'Content-Type': 'application/json' },
      );
      if (write.status !== 200) return fail(`PATCH ${last}: expected 200, got ${write.status}`);
      // What Graph answers a query joining one lookup too many, for the record (the engine never sends one).
      const over = await ctx.send(
        'GET',
        `${ctx.listPath()}/items?$expand=fields($select=${selected.join(',')})`,
      );
      const { target: sp, siteId, listId } = ctx.engineList();
      let read: string | undefined;
      try {
        for await (const page of sp.listItems(siteId, listId, { select: ['Title', ...selected] }))
          for (const item of page) if (item.id === id) read = String(item.fields[last]);
      } catch (error) {
        return fail(
          `the engine's query of ${selected.length} lookups (${MAX_LOOKUPS_PER_QUERY} in the query, the rest item by ` +
            `item in $batch) failed: ${describeError(error)}. Lists with that many mapped lookup or person columns ` +
            'could not be pulled',
        );
      }
      return read === target
        ? pass(
            `the engine's read of ${selected.length} lookups (Author and Editor among them) keeps ` +
              `${MAX_LOOKUPS_PER_QUERY} in the query and reads ${last} item by item; a query joining all ` +
              `${selected.length} answers ${over.status}`,
          )
        : fail(
            `the engine's read of ${selected.length} lookups read ${last} as ${JSON.stringify(read)}, not ${target}: ` +
              'lookups past the threshold would read empty',
          );
    },
  },
  {
    name: 'fields.hiddenKeyInFilter',
    source: `${DOCS}/listitem-list`,
    async run(ctx) {
      if (!ctx.items.has('main') || !ctx.columns.has('key')) return skip('no item with a hidden key column');
      const { target, siteId, listId } = ctx.engineList();
      const key = ctx.column('key');
      const found = await target.findItemsByField(siteId, listId, key, 'conf-1', ['Title', key]);
      if (found.length !== 1)
        return fail(`the engine's $filter on ${key} found ${found.length} item(s), not 1`);
      return found[0].fields[key] === 'conf-1'
        ? pass(`the engine's $filter query finds the item and its answer carries the hidden ${key}`)
        : fail(
            `the engine's $filter query found the item, but its answer reads ${key} as ` +
              `${JSON.stringify(found[0].fields[key])}: an in-flight create could not be adopted by its key (duplicates)`,
          );
    },
  },
];

/** The engine's eTag round: create, update with the create's eTag, update with the update's, stale delete. */
const etags: Check[] = [
  {
    name: 'etag.ifMatchUpdateAnswer',
    source: `${DOCS}/listitem-update`,
    async run(ctx) {
      if (!ctx.columns.has('key')) return skip('no hidden key column');
      const key = ctx.column('key');
      const created = await writeOne(ctx, {
        kind: 'create',
        ref: 'probe',
        fields: { Title: 'etag probe', [key]: 'conf-etag' },
        adoptBy: { field: key, value: 'conf-etag' },
      });
      if (created.status !== 'created') return fail(`the engine's create was ${describeOutcome(created)}`);
      ctx.items.set('etagProbe', created.itemId);
      ctx.items.set('etagProbe:stale', created.eTag);
      let eTag = created.eTag;
      for (const step of ['the create', 'the update'] as const) {
        const updated = await writeOne(ctx, {
          kind: 'update',
          ref: 'probe',
          itemId: created.itemId,
          eTag,
          fields: { Title: `after ${step}` },
        });
        if (updated.status !== 'updated')
          return fail(
            `an update with If-Match ${eTag}, the eTag of ${step}'s answer, was ${describeOutcome(updated)}: ` +
              'every update after it would be a spurious conflict',
          );
        eTag = updated.eTag;
      }
      ctx.items.set('etagProbe:current', eTag);
      return pass("If-Match with the eTag of a create's answer, then of an update's answer, was accepted");
    },
  },
  {
    name: 'etag.staleDeletePreconditionFailed',
    source: `${DOCS}/listitem-delete`,
    async run(ctx) {
      const id = ctx.items.get('etagProbe');
      const stale = ctx.items.get('etagProbe:stale');
      const current = ctx.items.get('etagProbe:current');
      if (!id || !stale || !current)
        return skip('no item with a stale eTag (etag.ifMatchUpdateAnswer failed)');
      const refused = await writeOne(ctx, { kind: 'delete', ref: 'probe', itemId: id, eTag: stale });
      const still = await readOne(ctx, id, ['Title']);
      if (refused.status !== 'precondition_failed' || !still)
        return fail(
          `a delete with the stale If-Match ${stale} was ${describeOutcome(refused)} and the item ` +
            `${still ? 'stands' : 'is gone'}: a push delete would remove an item a user just edited`,
        );
      const deleted = await writeOne(ctx, { kind: 'delete', ref: 'probe', itemId: id, eTag: current });
      return deleted.status === 'deleted'
        ? pass(
            'a stale If-Match on DELETE (in $batch) answered 412 and deleted nothing; the current one deleted',
          )
        : fail(
            `412 for the stale eTag, but the delete with the current ${current} was ${describeOutcome(deleted)}`,
          );
    },
  },
];

async function drainEngine(
  pages: AsyncGenerator<DeltaPage>,
  readAgain: Set<string> = new Set(),
): Promise<Map<string, ListItem | null>> {
  // The last occurrence of each item (Graph: "use the last occurrence"); null for a tombstone.
  const last = new Map<string, ListItem | null>();
  for await (const page of pages) {
    for (const e of page.entries)
      last.set(e.kind === 'upsert' ? e.item.id : e.id, e.kind === 'upsert' ? e.item : null);
    for (const id of page.readAgain ?? []) readAgain.add(id);
  }
  return last;
}

const delta: Check[] = [
  {
    name: 'delta.changePagesCarryFields',
    source: `${DOCS}/listitem-delta`,
    async run(ctx) {
      const id = ctx.items.get('main');
      if (!id || !ctx.columns.has('key')) return skip('no item with a hidden key column');
      const { target, siteId, listId } = ctx.engineList();
      const key = ctx.column('key');
      const select = ['Title', key];
      const link = await target.latestDeltaLink(siteId, listId, select);
      const before = await readOne(ctx, id, ['Title']);
      const edit = await writeOne(ctx, {
        kind: 'update',
        ref: 'probe',
        itemId: id,
        fields: { Title: 'delta change' },
      });
      if (edit.status !== 'updated') return fail(`the engine's update was ${describeOutcome(edit)}`);
      let changes: Map<string, ListItem | null>;
      const readAgain = new Set<string>();
      try {
        changes = await drainEngine(
          target.deltaPages(siteId, listId, { deltaLink: link, select }),
          readAgain,
        );
      } catch (error) {
        return fail(`reading the changes after the deltaLink failed: ${describeError(error)}`);
      }
      const item = changes.get(id);
      if (!item) return fail(`the edited item ${id} did not come in the changes after the deltaLink`);
      // For delta.changePagesCarryModified: the item's lastModifiedDateTime before the edit and in the change page.
      ctx.items.set('modified:before', before?.lastModifiedDateTime ?? '');
      ctx.items.set('modified:change', item.lastModifiedDateTime);
      // The engine reads an item that came without its fields again by id: correct, but one resource unit more per
      // changed item on every pull. The assumption is that Graph's page carries them.
      if (readAgain.has(id))
        return fail(
          `the change page carried item ${id} without its fields object; the engine read it again by id, so every ` +
            'pull costs one resource unit more per changed item',
        );
      return item.fields.Title === 'delta change' && item.fields[key] === 'conf-1'
        ? pass(`a change page after the deltaLink carries the selected fields, the hidden ${key} among them`)
        : fail(
            `the change page read Title ${JSON.stringify(item.fields.Title)} and ${key} ` +
              `${JSON.stringify(item.fields[key])}: SharePoint edits would read as empty values`,
          );
    },
  },
  {
    name: 'delta.changePagesCarryModified',
    source: `${DOCS}/listitem-delta`,
    run(ctx) {
      const before = ctx.items.get('modified:before');
      const change = ctx.items.get('modified:change');
      if (before === undefined || change === undefined)
        return Promise.resolve(skip('no change page read (delta.changePagesCarryFields)'));
      const [was, now] = [Date.parse(before), Date.parse(change)];
      // LAST_WRITER_WINS compares it with the row's cursor; settle stores it with each pulled item (spModifiedAt).
      return Promise.resolve(
        Number.isNaN(now)
          ? fail(
              `the change page's item carries lastModifiedDateTime ${JSON.stringify(change)}, not an instant: ` +
                'LAST_WRITER_WINS gives every conflict to Postgres when it is missing ("SharePoint has no ' +
                'modification time", the SharePoint edit is overwritten), and refuses the comparison when it is malformed',
            )
          : !Number.isNaN(was) && now < was
            ? fail(
                `the change page's lastModifiedDateTime ${change} is earlier than the item's ${before} before the ` +
                  'edit: LAST_WRITER_WINS would take a SharePoint edit for older than it is',
              )
            : pass(
                `the change page carries lastModifiedDateTime ${change} (${before || 'none'} before the edit), ` +
                  'as LAST_WRITER_WINS reads it',
              ),
      );
    },
  },
  {
    name: 'delta.resync410',
    source: `${DOCS}/listitem-delta`,
    async run(ctx) {
      if (!ctx.deltaLink || !ctx.columns.has('key')) return skip('no deltaLink');
      const { target, siteId, listId } = ctx.engineList();
      const key = ctx.column('key');
      const select = ['Title', key];
      const url = new URL(ctx.deltaLink);
      url.searchParams.set('token', 'arcore-conformance-invalid-token');
      let resync: ResyncRequiredError;
      try {
        await drainEngine(target.deltaPages(siteId, listId, { deltaLink: url.toString(), select }));
        return fail(
          'an invalid token was answered with changes, not 410 (the engine re-enumerates only on 410)',
        );
      } catch (error) {
        if (!(error instanceof ResyncRequiredError))
          return fail(`an invalid token failed otherwise than 410: ${describeError(error)}`);
        resync = error;
      }
      // The engine restarts from its own first enumeration (ResyncRequiredError says why): it must read fields.
      let restart: Map<string, ListItem | null>;
      const readAgain = new Set<string>();
      try {
        restart = await drainEngine(
          target.deltaPages(siteId, listId, { deltaLink: resync.freshLink, select }),
          readAgain,
        );
      } catch (error) {
        return fail(`the engine's restart after 410 failed: ${describeError(error)}`);
      }
      if (readAgain.size > 0)
        return fail(
          `the restart's pages carried ${readAgain.size} item(s) without their fields object; the engine read each ` +
            'again by id, so a re-enumeration costs one resource unit more per item',
        );
      const main = restart.get(ctx.items.get('main') ?? '');
      if (!main || main.fields[key] !== 'conf-1')
        return fail(
          `the engine's restart read the item ${main ? `with ${key} ${JSON.stringify(main.fields[key])}` : 'not at all'}`,
        );
      const location = resync.location ? await locationSelects(ctx, resync.location) : 'no Location';
      return pass(
        `410 ${resync.code}; the engine's restart reads ${restart.size} item(s) with their fields, the hidden ` +
          `${key} among them. Graph's Location (${location}) is not followed by the engine`,
      );
    },
  },
];

/** Reads of whole lists as the engine makes them: by display name, and item pages (verify, unclaimed items). */
const lists: Check[] = [
  {
    name: 'lists.resolveByTitle',
    source: `${DOCS}/list-get`,
    async run(ctx) {
      if (!ctx.listId) return skip('the scratch list could not be created (see permission.manageLists)');
      const { target, siteId, listId } = ctx.engineList();
      const wrong: string[] = [];
      for (const [title, id] of [
        [ctx.listName, listId],
        [`${ctx.listName}-lookup`, ctx.lookupListId],
      ] as const) {
        const read = await target.readList(siteId, title).catch((error: unknown) => describeError(error));
        if (typeof read === 'string') wrong.push(`"${title}" failed: ${read}`);
        else if (read.id !== id) wrong.push(`"${title}" resolved to ${read.id}, not ${id}`);
      }
      return wrong.length === 0
        ? pass('GET /lists/{display name} resolves both scratch lists to the ids they were created with')
        : fail(
            `resolving a list by its display name (how definitions name lists): ${wrong.join('; ')}. Definitions ` +
              'must then name their lists by id',
          );
    },
  },
  {
    name: 'items.paging',
    source: `${DOCS}/listitem-list`,
    async run(ctx) {
      if (!ctx.listId) return skip('the scratch list could not be created (see permission.manageLists)');
      const { target, siteId, listId } = ctx.engineList();
      const read = async (top: number) => {
        const ids: string[] = [];
        let pages = 0;
        for await (const page of target.listItems(siteId, listId, { select: ['Title'], top })) {
          pages++;
          ids.push(...page.map((item) => item.id));
        }
        return { ids: ids.sort(), pages };
      };
      // verify reads pages of up to 5,000 items, Graph's reported maximum for $top.
      let all: { ids: string[]; pages: number };
      try {
        all = await read(5000);
      } catch (error) {
        return fail(
          `the engine's item query with $top=5000 (verify's page size) failed: ${describeError(error)}`,
        );
      }
      if (all.ids.length < 2) return skip(`the scratch list holds ${all.ids.length} item(s); paging needs 2`);
      const paged = await read(1);
      return paged.pages >= all.ids.length && paged.ids.join() === all.ids.join()
        ? pass(
            `$top=5000 answers all ${all.ids.length} items; $top=1 pages through them by @odata.nextLink ` +
              `(${paged.pages} pages)`,
          )
        : fail(
            `$top=1 read ${paged.ids.length} item(s) in ${paged.pages} page(s), $top=5000 read ${all.ids.length}: ` +
              'verify and the unclaimed-item count would miss items',
          );
    },
  },
];

/** What Graph's own restart link reads, for the record (the engine never follows it). */
async function locationSelects(ctx: ProbeContext, location: string): Promise<string> {
  const res = await ctx.send('GET', location);
  if (res.status !== 200) return `answers ${res.status}`;
  const value = (res.body as { value?: { fields?: unknown }[] }).value ?? [];
  const withFields = value.filter((item) => item.fields !== undefined).length;
  return `reads ${withFields} of ${value.length} item(s) on its first page with fields`;
}

export const ENGINE_ROUND_TRIPS: Check[] = [...ENGINE_FORMS.map(engineRoundTrip), emptyCreate];
export const ENGINE_READS = reads;
export const ENGINE_ETAGS = etags;
export const ENGINE_DELTA = delta;
export const ENGINE_LISTS = lists;
