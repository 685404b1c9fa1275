/**
 * The named checks of the conformance probe, in the order they run. Each names the documentation its
 * assumption comes from; docs/graph-assumptions.md lists them with what the engine does if one fails.
 */
import { internalNameFor } from '../core/target/sharepoint';
import { ScratchListConflictError, type Check, type ProbeContext } from './context';
import { DATE_ONLY_SOURCE, dateOnlyRoundTrip } from './dateOnly';
import { ENGINE_DELTA, ENGINE_ETAGS, ENGINE_LISTS, ENGINE_READS, ENGINE_ROUND_TRIPS } from './engineChecks';
import { ENGINE_SUBSCRIPTIONS } from './subscriptionChecks';
import { fail, pass, skip, type CheckOutcome } from './types';

const DOCS = 'https://learn.microsoft.com/en-us/graph/api';
const ITEM_JSON = { 'Content-Type': 'application/json' };

interface ItemBody {
  id: string;
  eTag?: string;
  fields?: Record<string, unknown>;
  deleted?: unknown;
  '@removed'?: unknown;
}
interface Page {
  value?: ItemBody[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

const asObject = (body: unknown): Record<string, unknown> =>
  typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};

function statusIs(actual: number, expected: number, what: string, body?: unknown): CheckOutcome | undefined {
  if (actual === expected) return undefined;
  const error = asObject(asObject(body).error);
  const code = typeof error.code === 'string' ? ` ${error.code}` : '';
  const hint = actual === 403 ? ' (the app lacks a permission for this operation)' : '';
  return fail(`${what}: expected ${expected}, got ${actual}${code}${hint}`);
}

function needsList(ctx: ProbeContext): CheckOutcome | undefined {
  return ctx.listId ? undefined : skip('the scratch list could not be created (see permission.manageLists)');
}

async function readItem(ctx: ProbeContext, id: string, select: string[]): Promise<Record<string, unknown>> {
  const res = await ctx.send(
    'GET',
    `${ctx.listPath()}/items/${id}?$expand=fields($select=${select.join(',')})`,
  );
  if (res.status !== 200) throw new Error(`reading item ${id} answered ${res.status}`);
  return asObject(asObject(res.body).fields);
}

/** POSTs a column named `name` to the scratch list: its body as read back, or the failure naming `what` was posted. */
async function postColumn(
  ctx: ProbeContext,
  name: string,
  facet: Record<string, unknown>,
  what: string,
): Promise<{ failed: CheckOutcome } | { failed?: undefined; body: Record<string, unknown> }> {
  const res = await ctx.send('POST', `${ctx.listPath()}/columns`, { name, displayName: name, ...facet });
  const failed = statusIs(res.status, 201, what, res.body);
  return failed ? { failed } : { body: asObject(res.body) };
}

/** One column kind the engine maps: the facet that creates it, a value, and how the read must look. */
interface Kind {
  role: string;
  facet: Record<string, unknown>;
  /** The key(s) written. */
  write(ctx: ProbeContext): Record<string, unknown>;
  /** The key read back and whether the value read is right. */
  readKey(name: string): string;
  matches(read: unknown, ctx: ProbeContext): boolean;
  /** What a cleared value may read as (absent is always fine). */
  clearedAs?: unknown[];
  source: string;
}

/** A column kind whose round trip is a check of its own (dateOnly.ts). */
interface OwnCheckKind {
  role: string;
  facet: Record<string, unknown>;
  check: Check;
  source: string;
}

const FIELD_VALUES = `${DOCS}/resources/fieldvalueset`;
const KINDS: (Kind | OwnCheckKind)[] = [
  {
    role: 'text',
    facet: { text: {} },
    write: (c) => ({ [c.column('text')]: 'conformance ü ✓' }),
    readKey: (n) => n,
    matches: (v) => v === 'conformance ü ✓',
    source: FIELD_VALUES,
  },
  {
    role: 'note',
    facet: { text: { allowMultipleLines: true } },
    write: (c) => ({ [c.column('note')]: 'line one\nline two {"json":true}' }),
    readKey: (n) => n,
    matches: (v) => v === 'line one\nline two {"json":true}',
    source: 'https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/2724',
  },
  {
    role: 'number',
    facet: { number: {} },
    write: (c) => ({ [c.column('number')]: 1234.5 }),
    readKey: (n) => n,
    matches: (v) => v === 1234.5,
    source: FIELD_VALUES,
  },
  {
    role: 'currency',
    facet: { currency: {} },
    write: (c) => ({ [c.column('currency')]: 12.34 }),
    readKey: (n) => n,
    matches: (v) => v === 12.34,
    source: `${DOCS}/resources/currencycolumn`,
  },
  {
    role: 'boolean',
    facet: { boolean: {} },
    write: (c) => ({ [c.column('boolean')]: true }),
    readKey: (n) => n,
    matches: (v) => v === true,
    clearedAs: [false],
    source: `${DOCS}/resources/booleancolumn`,
  },
  {
    role: 'dateTime',
    facet: { dateTime: { format: 'dateTime' } },
    write: (c) => ({ [c.column('dateTime')]: '2024-03-10T08:26:00Z' }),
    readKey: (n) => n,
    matches: (v) => typeof v === 'string' && Date.parse(v) === Date.parse('2024-03-10T08:26:00Z'),
    source: `${DOCS}/resources/datetimecolumn`,
  },
  {
    role: 'dateOnly',
    facet: { dateTime: { format: 'dateOnly' } },
    check: dateOnlyRoundTrip,
    source: DATE_ONLY_SOURCE,
  },
  {
    role: 'choice',
    facet: { choice: { choices: ['alpha', 'beta'] } },
    write: (c) => ({ [c.column('choice')]: 'beta' }),
    readKey: (n) => n,
    matches: (v) => v === 'beta',
    source: `${DOCS}/resources/choicecolumn`,
  },
  {
    role: 'multiChoice',
    facet: { choice: { choices: ['alpha', 'beta'], allowTextEntry: true, displayAs: 'checkBoxes' } },
    write: (c) => ({
      [`${c.column('multiChoice')}@odata.type`]: 'Collection(Edm.String)',
      [c.column('multiChoice')]: ['alpha', 'gamma'],
    }),
    readKey: (n) => n,
    matches: (v) => Array.isArray(v) && v.join('|') === 'alpha|gamma',
    source: 'https://github.com/microsoftgraph/microsoft-graph-docs/issues/21021',
  },
  {
    role: 'lookup',
    facet: {},
    write: (c) => ({ [`${c.column('lookup')}LookupId`]: Number(c.items.get('lookupTarget')) }),
    readKey: (n) => `${n}LookupId`,
    matches: (v, c) => String(v) === c.items.get('lookupTarget'),
    source: FIELD_VALUES,
  },
  {
    role: 'person',
    facet: { personOrGroup: {} },
    write: (c) => ({ [`${c.column('person')}LookupId`]: c.userLookupId }),
    readKey: (n) => `${n}LookupId`,
    matches: (v, c) => String(v) === String(c.userLookupId),
    source: `${DOCS}/resources/personorgroupcolumn`,
  },
  {
    role: 'multiPerson',
    facet: { personOrGroup: { allowMultipleSelection: true } },
    write: (c) => ({
      [`${c.column('multiPerson')}LookupId@odata.type`]: 'Collection(Edm.Int32)',
      [`${c.column('multiPerson')}LookupId`]: [c.userLookupId],
    }),
    // Read by name: [{LookupId, LookupValue, …}] (graph.md "Field values"; reported shape).
    readKey: (n) => n,
    matches: (v, c) =>
      Array.isArray(v) && v.length === 1 && String(asObject(v[0]).LookupId) === String(c.userLookupId),
    source: `${DOCS}/resources/personorgroupcolumn`,
  },
];

const LONG_NAME = 'Arcore Conformance Very Long Column Name';

const setup: Check[] = [
  {
    name: 'permission.readSite',
    source: `${DOCS}/site-getbypath`,
    async run(ctx) {
      const [host, path] = ctx.options.site.split(/:(?=\/)/, 2);
      const res = await ctx.send('GET', `/sites/${encodeURI(host)}:${encodeURI(path ?? '/')}`);
      const bad = statusIs(res.status, 200, `GET site ${ctx.options.site} (needs Sites.Read.All)`, res.body);
      if (bad) return bad;
      ctx.siteId = String(asObject(res.body).id);
      return pass(`site id ${ctx.siteId}`);
    },
  },
  {
    name: 'permission.manageLists',
    source: `${DOCS}/list-create`,
    async run(ctx) {
      if (!ctx.siteId) return skip('the site could not be read');
      for (const name of [ctx.listName, `${ctx.listName}-lookup`]) {
        const existing = await ctx.send('GET', `/sites/${ctx.siteId}/lists/${encodeURIComponent(name)}`);
        if (existing.status === 200) throw new ScratchListConflictError(name);
      }
      const lookup = await ctx.send('POST', `/sites/${ctx.siteId}/lists`, {
        displayName: `${ctx.listName}-lookup`,
        list: { template: 'genericList' },
      });
      const bad = statusIs(lookup.status, 201, 'POST list (needs Sites.Manage.All)', lookup.body);
      if (bad) return bad;
      ctx.lookupListId = String(asObject(lookup.body).id);
      ctx.created.add(ctx.lookupListId);
      // The body provision sends (SharePointTarget.createList): an empty columns array, columns added one by one.
      const main = await ctx.send('POST', `/sites/${ctx.siteId}/lists`, {
        displayName: ctx.listName,
        columns: [],
        list: { template: 'genericList' },
      });
      const badMain = statusIs(main.status, 201, 'POST list (needs Sites.Manage.All)', main.body);
      if (badMain) return badMain;
      ctx.listId = String(asObject(main.body).id);
      ctx.created.add(ctx.listId);
      return pass(`created scratch lists ${ctx.listName} and ${ctx.listName}-lookup`);
    },
  },
  {
    name: 'permission.manageColumns',
    source: `${DOCS}/list-post-columns`,
    async run(ctx) {
      const missing = needsList(ctx);
      if (missing) return missing;
      const target = await ctx.send('POST', `/sites/${ctx.siteId}/lists/${ctx.lookupListId}/items`, {
        fields: { Title: 'lookup target' },
      });
      const badTarget = statusIs(target.status, 201, 'POST item in the lookup list', target.body);
      if (badTarget) return badTarget;
      ctx.items.set('lookupTarget', String(asObject(target.body).id));
      const created: string[] = [];
      for (const kind of KINDS) {
        if (kind.role === 'multiChoice') continue; // its own check below
        const facet =
          kind.role === 'lookup' ? { lookup: { listId: ctx.lookupListId, columnName: 'Title' } } : kind.facet;
        const name = `Conf${kind.role[0].toUpperCase()}${kind.role.slice(1)}`;
        const res = await ctx.send('POST', `${ctx.listPath()}/columns`, {
          name,
          displayName: name,
          ...facet,
        });
        const bad = statusIs(res.status, 201, `POST column ${name} (needs Sites.Manage.All)`, res.body);
        if (bad) return bad;
        ctx.columns.set(kind.role, String(asObject(res.body).name));
        created.push(name);
      }
      // The key column as provision creates it (engine/provision.ts): hidden, indexed, with a description.
      const key = await ctx.send('POST', `${ctx.listPath()}/columns`, {
        name: 'ConfKey',
        displayName: 'ConfKey',
        text: {},
        hidden: true,
        indexed: true,
        description: 'ArcoreSyncBridge source identity (do not edit)',
      });
      const badKey = statusIs(key.status, 201, 'POST hidden indexed column', key.body);
      if (badKey) return badKey;
      ctx.columns.set('key', String(asObject(key.body).name));
      return pass(`created ${created.length + 1} columns, a hidden indexed key among them`);
    },
  },
  {
    name: 'columns.multiChoiceCheckBoxes',
    source: `${DOCS}/resources/choicecolumn`,
    async run(ctx) {
      const missing = needsList(ctx);
      if (missing) return missing;
      const kind = KINDS.find((k) => k.role === 'multiChoice')!;
      const res = await postColumn(
        ctx,
        'ConfMultiChoice',
        kind.facet,
        'POST choice column with displayAs "checkBoxes" (refusals reported in https://github.com/microsoftgraph/microsoft-graph-docs/issues/21021)',
      );
      if (res.failed) return res.failed;
      ctx.columns.set('multiChoice', String(res.body.name));
      const displayAs = asObject(res.body.choice).displayAs;
      return displayAs === 'checkBoxes'
        ? pass('created; it reads back with displayAs "checkBoxes"')
        : fail(`created, but it reads back with displayAs ${JSON.stringify(displayAs)}`);
    },
  },
  {
    name: 'columns.internalNameTruncation',
    source: 'http://benhuang.blogspot.com/2009/08/32-character-limit-in-sharepoint-lists.html',
    async run(ctx) {
      const missing = needsList(ctx);
      if (missing) return missing;
      const res = await ctx.send('POST', `${ctx.listPath()}/columns`, {
        name: LONG_NAME,
        displayName: LONG_NAME,
        text: {},
      });
      const bad = statusIs(res.status, 201, 'POST column with a long name', res.body);
      if (bad) return bad;
      const actual = String(asObject(res.body).name);
      const expected = internalNameFor(LONG_NAME);
      return actual === expected
        ? pass(`"${LONG_NAME}" became "${actual}" (escaped, cut to 32 characters)`)
        : fail(`"${LONG_NAME}" became "${actual}", the engine expects "${expected}"`);
    },
  },
  {
    name: 'permission.writeItems',
    source: `${DOCS}/listitem-create`,
    async run(ctx) {
      const missing = needsList(ctx);
      if (missing) return missing;
      const res = await ctx.send('POST', `${ctx.listPath()}/items`, {
        fields: { Title: 'conformance', [ctx.column('key')]: 'conf-1' },
      });
      const bad = statusIs(res.status, 201, 'POST item (needs Sites.ReadWrite.All)', res.body);
      if (bad) return bad;
      const id = String(asObject(res.body).id);
      ctx.items.set('main', id);
      const fields = await readItem(ctx, id, ['AuthorLookupId']);
      ctx.userLookupId = Number(fields.AuthorLookupId);
      return pass(`created item ${id}; the app's user-list id is ${ctx.userLookupId}`);
    },
  },
];

function roundTrip(kind: Kind): Check {
  return {
    name: `roundTrip.${kind.role}`,
    source: kind.source,
    async run(ctx) {
      const id = ctx.items.get('main');
      if (!id || !ctx.columns.has(kind.role)) return skip('the item or the column could not be created');
      if ((kind.role === 'person' || kind.role === 'multiPerson') && !Number.isInteger(ctx.userLookupId))
        return skip('no user-list id to write');
      const name = ctx.column(kind.role);
      const write = await ctx.send(
        'PATCH',
        `${ctx.listPath()}/items/${id}/fields`,
        kind.write(ctx),
        ITEM_JSON,
      );
      const bad = statusIs(write.status, 200, `PATCH ${name}`, write.body);
      if (bad) return bad;
      const key = kind.readKey(name);
      const read = (await readItem(ctx, id, [key]))[key];
      if (!kind.matches(read, ctx))
        return fail(`wrote ${JSON.stringify(kind.write(ctx))}, read ${JSON.stringify(read)}`);
      const nulls: Record<string, unknown> = {};
      for (const written of Object.keys(kind.write(ctx))) if (!written.includes('@')) nulls[written] = null;
      const clear = await ctx.send('PATCH', `${ctx.listPath()}/items/${id}/fields`, nulls, ITEM_JSON);
      const badClear = statusIs(clear.status, 200, `PATCH ${name} = null`, clear.body);
      if (badClear) return badClear;
      const cleared = (await readItem(ctx, id, [key]))[key];
      const clearedOk =
        cleared === undefined ||
        cleared === null ||
        (Array.isArray(cleared) && cleared.length === 0) ||
        (kind.clearedAs ?? []).some((v) => v === cleared);
      return clearedOk
        ? pass(`read back as written; null cleared it (reads ${JSON.stringify(cleared ?? null)})`)
        : fail(`read back as written, but null did not clear it: reads ${JSON.stringify(cleared)}`);
    },
  };
}

const reads: Check[] = [
  {
    // engine/appendOnly.ts: a field on such a column is refused unless PUSH_ONLY, because it reads empty.
    name: 'columns.appendOnlyReadsEmpty',
    source: 'https://github.com/pnp/pnpjs/issues/859',
    async run(ctx) {
      const id = ctx.items.get('main');
      if (!id || !ctx.columns.has('note'))
        return skip('the item or the multi-line column could not be created');
      const made = await postColumn(
        ctx,
        'ConfAppend',
        { text: { allowMultipleLines: true, appendChangesToExistingText: true } },
        'POST multi-line column with appendChangesToExistingText (SharePoint needs versioning on the list)',
      );
      if (made.failed) return made.failed;
      const append = String(made.body.name);
      const columns = await ctx.send('GET', `${ctx.listPath()}/columns`);
      const badColumns = statusIs(columns.status, 200, 'GET columns', columns.body);
      if (badColumns) return badColumns;
      const facet = (name: string) =>
        asObject(
          asObject(
            ((asObject(columns.body).value as Record<string, unknown>[] | undefined) ?? []).find(
              (c) => c.name === name,
            ),
          ).text,
        ).appendChangesToExistingText;
      const note = ctx.column('note');
      // Provision creates multi-line columns without the property: sent at all, even false, it is reported to turn
      // the setting on (https://github.com/microsoftgraph/microsoft-graph-docs/issues/20863).
      if (facet(note) === true)
        return fail(
          `${note}, created without appendChangesToExistingText, reads it true: provision's note columns would append`,
        );
      if (facet(append) !== true)
        return fail(
          `${append} reads appendChangesToExistingText ${JSON.stringify(facet(append))}: the engine would not know the column appends`,
        );
      const written = 'conformance entry';
      const write = await ctx.send(
        'PATCH',
        `${ctx.listPath()}/items/${id}/fields`,
        { [append]: written },
        ITEM_JSON,
      );
      const badWrite = statusIs(write.status, 200, `PATCH ${append}`, write.body);
      if (badWrite) return badWrite;
      const read = (await readItem(ctx, id, [append]))[append];
      if (read === undefined || read === null || read === '')
        return pass(
          `${append} reads appendChangesToExistingText true and its written value reads empty (${JSON.stringify(read ?? null)}): ` +
            'a field on such a column is taken only PUSH_ONLY',
        );
      return fail(
        `${append}: wrote ${JSON.stringify(written)}, read ${JSON.stringify(read)}: the field does not read empty here, ` +
          'so the engine refuses BIDIRECTIONAL and PULL_ONLY fields on such columns more than it needs to; PUSH_ONLY ' +
          'fields still sync. Report the value read',
      );
    },
  },
  {
    name: 'fields.hiddenSelectedByName',
    source: `${DOCS}/resources/fieldvalueset`,
    async run(ctx) {
      const id = ctx.items.get('main');
      if (!id || !ctx.columns.has('key')) return skip('no item with a hidden key column');
      const key = ctx.column('key');
      const bare = await ctx.send('GET', `${ctx.listPath()}/items/${id}?$expand=fields`);
      const inBare = key in asObject(asObject(bare.body).fields);
      const selected = (await readItem(ctx, id, [key]))[key];
      if (selected !== 'conf-1') return fail(`selecting ${key} by name read ${JSON.stringify(selected)}`);
      return pass(
        `selected by name it reads; a bare $expand=fields ${inBare ? 'includes it' : 'leaves it out'} (the engine always selects it)`,
      );
    },
  },
  {
    name: 'fields.filterOnIndexedKey',
    source: `${DOCS}/listitem-list`,
    async run(ctx) {
      if (!ctx.columns.has('key')) return skip('no hidden key column');
      const key = ctx.column('key');
      const res = await ctx.send(
        'GET',
        `${ctx.listPath()}/items?$expand=fields($select=${key})&$filter=${encodeURIComponent(`fields/${key} eq 'conf-1'`)}`,
      );
      const bad = statusIs(res.status, 200, 'GET items filtered on the indexed key', res.body);
      if (bad) return bad;
      const ids = (asObject(res.body).value as ItemBody[] | undefined)?.map((i) => i.id) ?? [];
      return ids.length === 1 && ids[0] === ctx.items.get('main')
        ? pass('found exactly the item by its indexed hidden key, without the Prefer header')
        : fail(`expected item ${ctx.items.get('main')}, got ${JSON.stringify(ids)}`);
    },
  },
];

const etags: Check[] = [
  {
    name: 'etag.spellings',
    source: `${DOCS}/listitem-delta`,
    async run(ctx) {
      const id = ctx.items.get('main');
      if (!id) return skip('no item');
      const res = await ctx.send('GET', `${ctx.listPath()}/items/${id}?$expand=fields($select=Title)`);
      const body = asObject(res.body);
      const itemETag = body.eTag;
      const fieldsETag = asObject(body.fields)['@odata.etag'];
      if (typeof itemETag !== 'string' || typeof fieldsETag !== 'string')
        return fail(`eTag ${JSON.stringify(itemETag)}, fields @odata.etag ${JSON.stringify(fieldsETag)}`);
      return pass(`item eTag ${itemETag}, fields @odata.etag ${fieldsETag} (the engine keeps them opaque)`);
    },
  },
  ...(['item', 'fields'] as const).map((spelling): Check => ({
    name: `etag.ifMatch${spelling === 'item' ? 'Item' : 'Fields'}ETag`,
    source: `${DOCS}/listitem-update`,
    async run(ctx) {
      const id = ctx.items.get('main');
      if (!id) return skip('no item');
      const res = await ctx.send('GET', `${ctx.listPath()}/items/${id}?$expand=fields($select=Title)`);
      const body = asObject(res.body);
      const eTag = spelling === 'item' ? body.eTag : asObject(body.fields)['@odata.etag'];
      if (typeof eTag !== 'string') return fail(`no ${spelling} eTag to send`);
      const patch = await ctx.send(
        'PATCH',
        `${ctx.listPath()}/items/${id}/fields`,
        { Title: `if-match ${spelling}` },
        { ...ITEM_JSON, 'If-Match': eTag },
      );
      const bad = statusIs(patch.status, 200, `PATCH with If-Match ${eTag}`, patch.body);
      if (bad) return bad;
      ctx.items.set(`stale:${spelling}`, eTag);
      return pass(`If-Match with the ${spelling} spelling ${eTag} was accepted`);
    },
  })),
  {
    name: 'etag.stalePreconditionFailed',
    source: `${DOCS}/listitem-update`,
    async run(ctx) {
      const id = ctx.items.get('main');
      const stale = ctx.items.get('stale:item') ?? ctx.items.get('stale:fields');
      if (!id || !stale) return skip('no stale eTag (the If-Match checks failed)');
      const patch = await ctx.send(
        'PATCH',
        `${ctx.listPath()}/items/${id}/fields`,
        { Title: 'must not apply' },
        { ...ITEM_JSON, 'If-Match': stale },
      );
      const bad = statusIs(patch.status, 412, 'PATCH with a stale If-Match', patch.body);
      if (bad) return bad;
      const title = (await readItem(ctx, id, ['Title'])).Title;
      return title === 'must not apply'
        ? fail('412 answered, yet the value changed')
        : pass('412 Precondition Failed, nothing changed');
    },
  },
];

async function drain(
  ctx: ProbeContext,
  first: string,
): Promise<{ items: ItemBody[]; pages: number; deltaLink?: string }> {
  const items: ItemBody[] = [];
  let url: string | undefined = first;
  let pages = 0;
  while (url !== undefined && pages < 50) {
    const res = await ctx.send('GET', url);
    if (res.status !== 200) throw new Error(`delta page answered ${res.status}`);
    const page = res.body as Page;
    pages++;
    items.push(...(page.value ?? []));
    if (page['@odata.deltaLink']) return { items, pages, deltaLink: page['@odata.deltaLink'] };
    url = page['@odata.nextLink'];
  }
  return { items, pages };
}

const delta: Check[] = [
  {
    name: 'delta.paging',
    source: `${DOCS}/listitem-delta`,
    async run(ctx) {
      const missing = needsList(ctx);
      if (missing) return missing;
      for (const n of [2, 3]) {
        const res = await ctx.send('POST', `${ctx.listPath()}/items`, { fields: { Title: `delta ${n}` } });
        const bad = statusIs(res.status, 201, 'POST item', res.body);
        if (bad) return bad;
        ctx.items.set(`delta${n}`, String(asObject(res.body).id));
      }
      const result = await drain(ctx, `${ctx.listPath()}/items/delta?$top=1&$expand=fields($select=Title)`);
      const ids = new Set(result.items.map((i) => i.id));
      if (!result.deltaLink) return fail(`no deltaLink after ${result.pages} pages`);
      ctx.deltaLink = result.deltaLink;
      return ids.size >= 3 && result.pages >= 2
        ? pass(`${result.pages} pages (nextLink, then deltaLink), ${ids.size} distinct items`)
        : fail(`${result.pages} page(s) with ${ids.size} distinct items for $top=1 over 3 items`);
    },
  },
  {
    name: 'delta.tombstones',
    source: `${DOCS}/listitem-delta`,
    async run(ctx) {
      const id = ctx.items.get('delta2');
      if (!id || !ctx.deltaLink) return skip('no deltaLink (delta.paging failed)');
      const del = await ctx.send('DELETE', `${ctx.listPath()}/items/${id}`);
      const bad = statusIs(del.status, 204, 'DELETE item (needs Sites.ReadWrite.All)', del.body);
      if (bad) return bad;
      const result = await drain(ctx, ctx.deltaLink);
      const last = [...result.items].reverse().find((i) => i.id === id);
      if (result.deltaLink) ctx.deltaLink = result.deltaLink;
      return last && (last.deleted !== undefined || last['@removed'] !== undefined)
        ? pass(
            `the deleted item ${id} came as a tombstone (${last.deleted !== undefined ? 'deleted' : '@removed'})`,
          )
        : fail(`the deleted item ${id} came as ${JSON.stringify(last ?? 'nothing')}`);
    },
  },
  {
    name: 'delta.tokenLatest',
    source: `${DOCS}/listitem-delta`,
    async run(ctx) {
      const missing = needsList(ctx);
      if (missing) return missing;
      const res = await ctx.send('GET', `${ctx.listPath()}/items/delta?token=latest`);
      const bad = statusIs(res.status, 200, 'GET delta?token=latest', res.body);
      if (bad) return bad;
      const page = res.body as Page;
      return (page.value ?? []).length === 0 && page['@odata.deltaLink']
        ? pass('no items and a deltaLink')
        : fail(
            `${(page.value ?? []).length} items, deltaLink ${page['@odata.deltaLink'] ? 'present' : 'missing'}`,
          );
    },
  },
];

const batch: Check[] = [
  {
    name: 'batch.limit20',
    source: 'https://learn.microsoft.com/en-us/graph/json-batching',
    async run(ctx) {
      if (!ctx.siteId) return skip('no site');
      const requests = Array.from({ length: 21 }, (_, i) => ({
        id: String(i),
        method: 'GET',
        url: `/sites/${ctx.siteId}`,
      }));
      const res = await ctx.send('POST', '$batch', { requests });
      return res.status === 400
        ? pass('21 requests refused with 400; the engine sends at most 20')
        : fail(`21 requests answered ${res.status}`);
    },
  },
  {
    name: 'batch.innerStatuses',
    source: 'https://learn.microsoft.com/en-us/graph/json-batching',
    async run(ctx) {
      const id = ctx.items.get('main');
      if (!id) return skip('no item');
      const items = `${ctx.listPath()}/items`;
      const res = await ctx.send('POST', '$batch', {
        requests: [
          { id: 'ok', method: 'GET', url: `${items}/${id}` },
          { id: 'missing', method: 'GET', url: `${items}/999999` },
          {
            id: 'stale',
            method: 'PATCH',
            url: `${items}/${id}/fields`,
            headers: { ...ITEM_JSON, 'If-Match': '"{00000000-0000-0000-0000-000000000000},1"' },
            body: { Title: 'stale' },
          },
        ],
      });
      const bad = statusIs(res.status, 200, 'POST $batch', res.body);
      if (bad) return bad;
      const responses = (asObject(res.body).responses as { id: string; status: number }[] | undefined) ?? [];
      const status = Object.fromEntries(responses.map((r) => [r.id, r.status]));
      return status.ok === 200 && status.missing === 404 && status.stale === 412
        ? pass('outer 200; inner 200, 404 and 412 each on its own')
        : fail(`inner statuses ${JSON.stringify(status)}, expected ok 200, missing 404, stale 412`);
    },
  },
];

const SUBSCRIPTIONS = `${DOCS}/subscription-post-subscriptions`;

const subscriptions: Check[] = [
  {
    name: 'subscription.validationRequired',
    source: 'https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks',
    async run(ctx) {
      const missing = needsList(ctx);
      if (missing) return missing;
      const res = await ctx.send('POST', '/subscriptions', {
        changeType: 'updated',
        notificationUrl: 'https://arcore-conformance.invalid/no-validation',
        resource: `sites/${ctx.siteId}/lists/${ctx.listId}`,
        expirationDateTime: new Date(Date.now() + 3600_000).toISOString(),
        clientState: 'arcore-conformance',
      });
      if (res.status === 201) {
        ctx.subscriptionIds.add(String(asObject(res.body).id));
        return fail(
          'a subscription whose notificationUrl cannot answer the validation handshake was created',
        );
      }
      if (res.status === 403)
        return fail('403: list subscriptions need Sites.ReadWrite.All (not Sites.Selected)');
      return res.status === 400
        ? pass('refused with 400: Graph validates the notificationUrl before creating')
        : fail(`answered ${res.status}, expected 400`);
    },
  },
  {
    name: 'subscription.createAndRenew',
    source: SUBSCRIPTIONS,
    async run(ctx) {
      const missing = needsList(ctx);
      if (missing) return missing;
      const url = ctx.options.notificationUrl;
      if (!url) return skip('no notification URL (set WEBHOOK_NOTIFICATION_URL or --notification-url)');
      const res = await ctx.send('POST', '/subscriptions', {
        changeType: 'updated',
        notificationUrl: url,
        resource: `sites/${ctx.siteId}/lists/${ctx.listId}`,
        expirationDateTime: new Date(Date.now() + 3600_000).toISOString(),
        clientState: 'arcore-conformance',
      });
      const bad = statusIs(res.status, 201, 'POST subscription (needs Sites.ReadWrite.All)', res.body);
      if (bad) return bad;
      const id = String(asObject(res.body).id);
      ctx.subscriptionIds.add(id);
      const renewTo = new Date(Date.now() + 2 * 3600_000).toISOString();
      const renew = await ctx.send('PATCH', `/subscriptions/${encodeURIComponent(id)}`, {
        expirationDateTime: renewTo,
      });
      const badRenew = statusIs(renew.status, 200, 'PATCH subscription expirationDateTime', renew.body);
      if (badRenew) return badRenew;
      const expiry = Date.parse(String(asObject(renew.body).expirationDateTime));
      return Math.abs(expiry - Date.parse(renewTo)) < 60_000
        ? pass('created after the validation handshake, renewed by PATCH')
        : fail(`renewed, but the expiration reads ${String(asObject(renew.body).expirationDateTime)}`);
    },
  },
];

const throttling: Check = {
  name: 'throttling.retryAfter',
  source:
    'https://learn.microsoft.com/en-us/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online',
  run(ctx) {
    const stats = ctx.transport.stats();
    return Promise.resolve(
      stats.throttled429 > 0
        ? pass(`${stats.throttled429} answer(s) 429 met and waited out with Retry-After`)
        : skip('no 429 met during the probe (RateLimit headers appear only past 80 % of the budget)'),
    );
  },
};

/**
 * I15: a list deleted (or replaced by another of its name) answers 404 by its id, and so do its items and its delta
 * feed. The engine takes an item's 404 for a deleted item only once its list answers; were a deleted list still to
 * answer, the 404s of its items would read as deletes. Runs last: it deletes the scratch list.
 */
const deletedList: Check = {
  name: 'lists.deletedAnswers404',
  source: `${DOCS}/list-delete`,
  async run(ctx) {
    const missing = needsList(ctx);
    if (missing) return missing;
    const path = ctx.listPath();
    const created = await ctx.send('POST', `${path}/items`, { fields: { Title: 'deleted with its list' } });
    const badCreate = statusIs(created.status, 201, 'POST item', created.body);
    if (badCreate) return badCreate;
    const itemId = String(asObject(created.body).id);
    const deleted = await ctx.send('DELETE', path);
    const badDelete = statusIs(deleted.status, 204, 'DELETE list', deleted.body);
    if (badDelete) return badDelete;
    const reads = [
      ['the list by id', path],
      ['its item by id', `${path}/items/${itemId}?$expand=fields`],
      ['its delta feed', `${path}/items/delta`],
    ] as const;
    const answers: string[] = [];
    for (const [what, url] of reads) answers.push(`${what} ${(await ctx.send('GET', url)).status}`);
    return answers.every((a) => a.endsWith(' 404'))
      ? pass(`after the list's DELETE: ${answers.join(', ')}`)
      : fail(
          `after the list's DELETE, expected 404 for each: ${answers.join(', ')}. A deleted list that still ` +
            "answers would let its items' 404s read as deleted items",
        );
  },
};

export const CHECKS: Check[] = [
  ...setup,
  ...KINDS.map((kind) => ('check' in kind ? kind.check : roundTrip(kind))),
  ...ENGINE_ROUND_TRIPS,
  ...reads,
  ...ENGINE_READS,
  ...etags,
  ...ENGINE_ETAGS,
  ...delta,
  ...ENGINE_DELTA,
  ...ENGINE_LISTS,
  ...batch,
  ...subscriptions,
  ...ENGINE_SUBSCRIPTIONS,
  throttling,
  deletedList,
];
