import { z } from 'zod';
import type { SpColumnInfo } from '../../canonical';
import pLimit from 'p-limit';
import { BatchWriter, MAX_BATCH_SIZE } from './batchWriter';
import { toSpColumnInfo } from './columns';
import {
  FieldsMissingError,
  GraphOutcomeUnknownError,
  GraphResponseShapeError,
  ResyncRequiredError,
} from './errors';
import {
  batchResponseSchema,
  collectionSchema,
  columnDefinitionSchema,
  deltaPageSchema,
  graphErrorBodySchema,
  listItemSchema,
  parseListItem,
  listSchema,
  siteSchema,
  subscriptionSchema,
  type Subscription,
} from './graphSchemas';
import {
  GraphTransport,
  requestErrorOf,
  throttlingOf,
  type GraphResponse,
  type GraphTransportStats,
} from './GraphTransport';
import type { GraphClientOptions } from './options';
import { hasFields, readListItems, toDeltaEntry, toListItem } from './listItems';
import { internalNameFor } from './internalNames';
import { MAX_LOOKUPS_PER_QUERY, readSelection } from './readSelect';
import type { CreateSubscriptionInput, DeltaPage, ListItem, WriteOp, WriteOutcome } from './types';

export interface ItemQuery {
  /**
   * Graph field keys to return, all when omitted: internal names, except that a single lookup or person
   * id is `<name>LookupId` and a multi-valued one reads as [{LookupId, LookupValue}] under `<name>`.
   */
  select?: string[];
  /** Page size. */
  top?: number;
}

const columnNameSchema = z.object({ name: z.string().min(1) });

function fieldsExpansion(select?: string[]): string {
  return select && select.length > 0
    ? `fields($select=${select.map(encodeURIComponent).join(',')})`
    : 'fields';
}

/**
 * An explicit selection as Graph reads it without knowing the columns: a `<name>LookupId` is selected
 * with `<name>` too, because a multi-valued lookup or person column reads as `[{LookupId, LookupValue}]`
 * under its name (graph.md "Field values") while a single one reads `<name>LookupId`. Both keys are the
 * same column, one join (fromGraphFields reads whichever came).
 */
function withLookupNames(select: readonly string[]): string[] {
  const out = new Set<string>();
  for (const name of select) {
    out.add(name);
    if (name.endsWith('LookupId') && name !== 'AuthorLookupId' && name !== 'EditorLookupId')
      out.add(name.slice(0, -'LookupId'.length));
  }
  return [...out];
}

/** Lookup columns a selection joins (a `<name>` and its `<name>LookupId` are one). */
function lookupJoins(select: readonly string[]): string[] {
  const bases = new Set<string>();
  for (const name of select) if (name.endsWith('LookupId')) bases.add(name.slice(0, -'LookupId'.length));
  return [...bases];
}

/**
 * Splits an explicit collection selection at the lookup threshold (readSelect.ts): the query keeps the
 * other fields and the first 12 lookups, the rest is read item by item.
 */
function splitExplicit(select: readonly string[]): { query: string[]; perItem: string[] } {
  const joins = lookupJoins(select);
  if (joins.length <= MAX_LOOKUPS_PER_QUERY) return { query: withLookupNames(select), perItem: [] };
  const later = new Set(joins.slice(MAX_LOOKUPS_PER_QUERY));
  const isLater = (name: string) => name.endsWith('LookupId') && later.has(name.slice(0, -'LookupId'.length));
  return {
    query: withLookupNames(select.filter((name) => !isLater(name))),
    perItem: withLookupNames(select.filter(isLater)),
  };
}

function itemQueryString(query: ItemQuery, extra: string[] = []): string {
  const parts = [...extra, `$expand=${fieldsExpansion(query.select)}`];
  if (query.top !== undefined) parts.push(`$top=${query.top}`);
  return parts.join('&');
}

/** An OData literal for a `$filter`: numbers bare, strings quoted with quotes doubled. */
function odataLiteral(value: string | number): string {
  return typeof value === 'number' ? String(value) : `'${value.replace(/'/g, "''")}'`;
}

/**
 * The SharePoint Online side of a sync definition, through Microsoft Graph: the one module the engines
 * use to read and write lists, against real Graph or the emulator by configuration only.
 * Resolutions (site, list, columns) are cached for the lifetime of the instance: one run.
 */
export class SharePointTarget {
  private readonly transport: GraphTransport;
  /** Batches of writes in flight, across every writeItems call of the run (BatchWriter). */
  private readonly writeSlots: pLimit.Limit;
  private readonly sites = new Map<string, Promise<{ id: string; webUrl: string }>>();
  private readonly lists = new Map<string, Promise<{ id: string; displayName: string }>>();
  private readonly columns = new Map<string, Promise<SpColumnInfo[]>>();

  /** The run's check before each batch of writes leaves (GraphClientOptions.beforeWrite). */
  private readonly beforeWrite: () => void;

  constructor(options: GraphClientOptions) {
    this.transport = new GraphTransport(options);
    this.writeSlots = pLimit(Math.max(1, options.maxConcurrency ?? 4));
    this.beforeWrite = options.beforeWrite ?? (() => undefined);
  }

  /** A site by `host:/server-relative-path`, by composite id `host,guid,guid`, or by host (root site). */
  resolveSite(ref: string): Promise<{ id: string; webUrl: string }> {
    return this.cached(this.sites, ref, async () => {
      const [host, path] = ref.includes(':/') ? ref.split(/:(?=\/)/, 2) : [ref, undefined];
      const address = path === undefined ? encodeURI(host) : `${encodeURI(host)}:${encodeURI(path)}`;
      const site = await this.transport.request('GET', `/sites/${address}`, siteSchema);
      return { id: site.id, webUrl: site.webUrl };
    });
  }

  /** A list of a site by GUID or display name. */
  resolveList(siteId: string, ref: string): Promise<{ id: string; displayName: string }> {
    return this.cached(this.lists, `${siteId}|${ref}`, async () => {
      const list = await this.transport.request(
        'GET',
        `/sites/${siteId}/lists/${encodeURIComponent(ref)}`,
        listSchema,
      );
      return { id: list.id, displayName: list.displayName };
    });
  }

  /**
   * A list by GUID or display name, read afresh (resolveList keeps its first answer for the instance): whether a
   * list still stands, and what its name resolves to now, after an item of it was not found (engine/listGone.ts).
   */
  async readList(siteId: string, ref: string): Promise<{ id: string; displayName: string }> {
    const list = await this.transport.request(
      'GET',
      `/sites/${siteId}/lists/${encodeURIComponent(ref)}`,
      listSchema,
    );
    return { id: list.id, displayName: list.displayName };
  }

  /**
   * Columns the caller already read (the engine's resolution cache), so that reads which need them
   * (default selections) cost no request.
   */
  primeColumns(siteId: string, listId: string, columns: SpColumnInfo[]): void {
    const key = `${siteId}|${listId}`;
    if (!this.columns.has(key)) this.columns.set(key, Promise.resolve(columns));
  }

  /** The list's columns (internal names, types, read-only and system flags), read once per instance. */
  getColumns(siteId: string, listId: string): Promise<SpColumnInfo[]> {
    return this.cached(this.columns, `${siteId}|${listId}`, async () => {
      const columns: SpColumnInfo[] = [];
      for await (const page of this.pages(
        `/sites/${siteId}/lists/${listId}/columns`,
        columnDefinitionSchema,
      )) {
        columns.push(...page.map(toSpColumnInfo));
      }
      return columns;
    });
  }

  /**
   * Creates a generic list. Not blindly repeated when its outcome is unknown: a list with the name that
   * now exists is taken as ours.
   */
  async createList(siteId: string, displayName: string, columns: object[]): Promise<{ id: string }> {
    const body = { displayName, columns, list: { template: 'genericList' } };
    return this.createOnce(
      () => this.transport.request('POST', `/sites/${siteId}/lists`, listSchema, { body }),
      async () => {
        const existing = await this.transport.send(
          'GET',
          `/sites/${siteId}/lists/${encodeURIComponent(displayName)}`,
        );
        const parsed = listSchema.safeParse(existing.body);
        return existing.status === 200 && parsed.success ? parsed.data : undefined;
      },
    ).then((list) => ({ id: list.id }));
  }

  /**
   * Creates a column and returns the internal name SharePoint gave it (the key inside `fields`), which
   * differs from the requested name when SharePoint escaped, cut or de-duplicated it.
   */
  async addColumn(siteId: string, listId: string, column: object): Promise<{ name: string }> {
    const requested = columnNameSchema.safeParse(column);
    const key = `${siteId}|${listId}`;
    const created = await this.createOnce(
      async () => {
        const answer = await this.transport.request(
          'POST',
          `/sites/${siteId}/lists/${listId}/columns`,
          z.unknown(),
          { body: column },
        );
        const named = columnNameSchema.safeParse(answer);
        return named.success ? named.data.name : requested.success ? requested.data.name : '';
      },
      async () => {
        this.columns.delete(key);
        const existing = await this.getColumns(siteId, listId);
        if (!requested.success) return undefined;
        const expected = internalNameFor(requested.data.name);
        return existing.find((candidate) => candidate.name === expected)?.name;
      },
    );
    this.columns.delete(key);
    return { name: created };
  }

  /** Creates, updates and deletes items in `$batch` requests of up to 20; one outcome per op, in order. */
  writeItems(siteId: string, listId: string, ops: WriteOp[]): Promise<WriteOutcome[]> {
    const reconciler = {
      findItemsByField: (field: string, value: string) => this.findItemsByField(siteId, listId, field, value),
      getItem: (itemId: string) => this.getItem(siteId, listId, itemId),
      // Read (from the run's primed cache, as a rule) only when an update's outcome must be settled by reading.
      dateOnlyFields: async () =>
        new Set((await this.getColumns(siteId, listId)).filter((c) => c.dateOnly).map((c) => c.name)),
    };
    return new BatchWriter(
      this.transport,
      siteId,
      listId,
      reconciler,
      this.writeSlots,
      this.beforeWrite,
    ).write(ops);
  }

  /**
   * The list's delta feed, page by page: the first enumeration without `deltaLink`, the changes since
   * otherwise. The last page carries the new deltaLink. An expired link throws ResyncRequiredError whose fresh link
   * is this feed's own first enumeration, never the Location Graph gave: that link's selection is unknown
   * (ResyncRequiredError says why), and a restart that read items without their fields would null every mapped
   * column. An item that came without `fields` is read again by id with the same selection (1 resource unit each),
   * in its place in the page: a 404 then is its tombstone, and one still without fields refuses the page
   * (FieldsMissingError), never read as empty. A 404 counts only while the list itself answers (confirmListAnswers).
   */
  async *deltaPages(
    siteId: string,
    listId: string,
    opts: {
      deltaLink?: string;
      select?: string[];
      top?: number;
      /** False: an item without its fields refuses the page instead of being read again (a probe that only looks). */
      readAgain?: boolean;
    } = {},
  ): AsyncGenerator<DeltaPage> {
    const selection = await this.collectionSelection(siteId, listId, opts.select);
    const firstEnumeration = this.transport.url(
      `/sites/${siteId}/lists/${listId}/items/delta?${itemQueryString({ ...opts, select: selection.query })}`,
    );
    let url: string | undefined = opts.deltaLink ?? firstEnumeration;
    while (url !== undefined) {
      const response = await this.transport.send('GET', url);
      if (response.status === 410) {
        const body = graphErrorBodySchema.safeParse(response.body);
        throw new ResyncRequiredError(
          firstEnumeration,
          body.success ? body.data.error.code : 'resyncRequired',
          url,
          response.headers.get('location') ?? undefined,
        );
      }
      if (response.status !== 200) throw requestErrorOf(response);
      const page = deltaPageSchema.safeParse(response.body);
      if (!page.success) throw requestShapeError(url, page.error.message);
      const result: DeltaPage = { entries: [], errors: [] };
      // An entry without its fields object is read again by id, in its place in the page.
      const fieldless = new Map<number, string>();
      for (const raw of page.data.value) {
        const entry = toDeltaEntry(raw);
        if ('error' in entry) result.errors.push(entry.error);
        else if ('fieldsMissing' in entry) {
          fieldless.set(result.entries.length, entry.fieldsMissing);
          result.entries.push({ kind: 'deleted', id: entry.fieldsMissing });
        } else result.entries.push(entry);
      }
      if (fieldless.size > 0 && opts.readAgain === false)
        throw new FieldsMissingError('GET', url, [...new Set(fieldless.values())]);
      if (fieldless.size > 0) {
        result.readAgain = [...new Set(fieldless.values())];
        // A single-item read has no 12-lookup threshold: it reads the lookups too (not read again below).
        const again = await this.readByIds(siteId, listId, result.readAgain, [
          ...selection.query,
          ...selection.perItem,
        ]);
        for (const [index, id] of fieldless) {
          const read = again.get(id);
          // readByIds answers every id or throws; an id without an answer is never taken for a delete.
          if (read === undefined) throw new FieldsMissingError('GET', url, [id]);
          result.entries[index] = read === 'gone' ? { kind: 'deleted', id } : { kind: 'upsert', item: read };
        }
      }
      const nextLink = page.data['@odata.nextLink'];
      const deltaLink = page.data['@odata.deltaLink'];
      if (nextLink) result.nextLink = nextLink;
      if (deltaLink) result.deltaLink = deltaLink;
      if (!nextLink && !deltaLink)
        throw requestShapeError(url, 'a delta page with neither nextLink nor deltaLink');
      const readAgain = new Set(result.readAgain);
      const gone = await this.completeFields(
        siteId,
        listId,
        result.entries.flatMap((entry) =>
          entry.kind === 'upsert' && !readAgain.has(entry.item.id) ? [entry.item] : [],
        ),
        selection.perItem,
      );
      // An item deleted between the page and its per-item read is deleted: its lookups were never read.
      if (gone.size > 0)
        result.entries = result.entries.map((entry) =>
          entry.kind === 'upsert' && gone.has(entry.item.id) ? { kind: 'deleted', id: entry.item.id } : entry,
        );
      yield result;
      url = nextLink;
    }
  }

  /** A deltaLink for "now" without enumerating anything (`token=latest`, 1 resource unit). */
  async latestDeltaLink(siteId: string, listId: string, select?: string[]): Promise<string> {
    const { query } = await this.collectionSelection(siteId, listId, select);
    const url = `/sites/${siteId}/lists/${listId}/items/delta?${itemQueryString({ select: query }, ['token=latest'])}`;
    const page = await this.transport.request('GET', url, deltaPageSchema);
    const deltaLink = page['@odata.deltaLink'];
    if (!deltaLink)
      throw requestShapeError(this.transport.url(url), 'a token=latest answer without deltaLink');
    return deltaLink;
  }

  /** Every item of the list, a page at a time (`$expand=fields($select=…)`, `@odata.nextLink`). */
  async *listItems(siteId: string, listId: string, opts: ItemQuery = {}): AsyncGenerator<ListItem[]> {
    const selection = await this.collectionSelection(siteId, listId, opts.select);
    const url = `/sites/${siteId}/lists/${listId}/items?${itemQueryString({ ...opts, select: selection.query })}`;
    for await (const page of this.pages(url, listItemSchema)) {
      const items = readListItems(page, 'GET', this.transport.url(url));
      const gone = await this.completeFields(siteId, listId, items, selection.perItem);
      yield items.filter((item) => !gone.has(item.id));
    }
  }

  /**
   * Items whose `field` equals `value` (`$filter=fields/X eq …`). Meant for indexed columns; the Prefer
   * header lets small lists answer for non-indexed ones too (graph.md: past 5,000 items it can fail).
   */
  async findItemsByField(
    siteId: string,
    listId: string,
    field: string,
    value: string | number,
    select?: string[],
  ): Promise<ListItem[]> {
    const selection = await this.collectionSelection(siteId, listId, select);
    const filter = encodeURIComponent(`fields/${field} eq ${odataLiteral(value)}`);
    const url = `/sites/${siteId}/lists/${listId}/items?$expand=${fieldsExpansion(selection.query)}&$filter=${filter}`;
    const items: ListItem[] = [];
    const headers = { Prefer: 'HonorNonIndexedQueriesWarningMayFailRandomly' };
    for await (const page of this.pages(url, listItemSchema, headers))
      items.push(...readListItems(page, 'GET', this.transport.url(url)));
    const gone = await this.completeFields(siteId, listId, items, selection.perItem);
    return items.filter((item) => !gone.has(item.id));
  }

  /**
   * One item with the fields in `select`, or every user column (hidden ones included: a bare
   * `$expand=fields` would leave them out) plus Title, Modified and Created when omitted.
   */
  async getItem(siteId: string, listId: string, itemId: string, select?: string[]): Promise<ListItem | null> {
    const fields =
      select === undefined
        ? readSelection(await this.getColumns(siteId, listId), undefined, false).query
        : withLookupNames(select);
    const url = `/sites/${siteId}/lists/${listId}/items/${encodeURIComponent(itemId)}?$expand=${fieldsExpansion(fields)}`;
    const response = await this.transport.send('GET', url);
    if (response.status === 404) return null;
    if (response.status !== 200) throw requestErrorOf(response);
    const item = parseListItem(response.body);
    if (!item.success) throw requestShapeError(response.url, item.error.message);
    return readListItems([item.data], 'GET', response.url)[0];
  }

  /** A change-notification subscription for a list (lists accept only `changeType: "updated"`). */
  createSubscription(input: CreateSubscriptionInput): Promise<Subscription> {
    const body = {
      changeType: 'updated',
      resource: input.resource,
      notificationUrl: input.notificationUrl,
      ...(input.lifecycleNotificationUrl ? { lifecycleNotificationUrl: input.lifecycleNotificationUrl } : {}),
      clientState: input.clientState,
      expirationDateTime: input.expirationDateTime,
    };
    // A repeated create at worst makes a second subscription, which renewal bookkeeping lists and removes.
    return this.transport.request('POST', '/subscriptions', subscriptionSchema, { body, safeToRetry: true });
  }

  renewSubscription(id: string, expirationDateTime: string): Promise<Subscription> {
    return this.transport.request('PATCH', `/subscriptions/${encodeURIComponent(id)}`, subscriptionSchema, {
      body: { expirationDateTime },
    });
  }

  async reauthorizeSubscription(id: string): Promise<void> {
    await this.transport.request(
      'POST',
      `/subscriptions/${encodeURIComponent(id)}/reauthorize`,
      z.unknown(),
      {
        safeToRetry: true,
      },
    );
  }

  /** Deletes a subscription; one that is already gone counts as deleted. */
  async deleteSubscription(id: string): Promise<void> {
    const response = await this.transport.send('DELETE', `/subscriptions/${encodeURIComponent(id)}`);
    if (response.status !== 204 && response.status !== 200 && response.status !== 404) {
      throw requestErrorOf(response);
    }
  }

  async listSubscriptions(): Promise<Subscription[]> {
    const all: Subscription[] = [];
    for await (const page of this.pages('/subscriptions', subscriptionSchema)) all.push(...page);
    return all;
  }

  stats(): GraphTransportStats {
    return this.transport.stats();
  }

  /** Releases connections (only held when a CA certificate was configured). */
  close(): Promise<void> {
    return this.transport.close();
  }

  /** The selection of a query over several items: explicit, or every user column (needs the columns). */
  private async collectionSelection(
    siteId: string,
    listId: string,
    select: string[] | undefined,
  ): Promise<{ query: string[]; perItem: string[] }> {
    if (select !== undefined) return splitExplicit(select);
    return readSelection(await this.getColumns(siteId, listId), undefined, true);
  }

  /**
   * Reads `perItem` fields (lookups past the threshold) of each item, one single-item GET per item in
   * `$batch` requests of 20, and merges them into the items' fields. Returns the ids of items deleted meanwhile
   * (404): their `perItem` fields were never read, so the caller must not read them as empty (I12). An item the
   * batch left unanswered, or answered without fields, fails the read for the same reason.
   */
  private async completeFields(
    siteId: string,
    listId: string,
    items: ListItem[],
    perItem: string[],
  ): Promise<Set<string>> {
    const gone = new Set<string>();
    if (perItem.length === 0 || items.length === 0) return gone;
    const read = await this.readByIds(
      siteId,
      listId,
      items.map((item) => item.id),
      perItem,
    );
    for (const item of items) {
      const fresh = read.get(item.id);
      if (fresh === 'gone') {
        gone.add(item.id);
        continue;
      }
      const { '@odata.etag': _etag, ...extra } = (fresh as ListItem).fields;
      Object.assign(item.fields, extra);
    }
    return gone;
  }

  /**
   * Items read one by one (single-item GETs with `$expand=fields($select=…)`, in `$batch` requests of 20): each as
   * read, or 'gone' for a 404. SharePoint throttles each inner request on its own (graph.md): an inner 429, or a 503
   * with Retry-After, blocks the app for the largest wait (shared with every worker, so the run stops at its
   * deadline, I16) and only those reads are sent again; another inner 5xx is retried with back-off, as the transport
   * retries a read (I10). Any other status fails the read; an item answered without its fields object, or left
   * unanswered by the batch, fails it with FieldsMissingError (an unread item is never read as empty, I12).
   */
  private async readByIds(
    siteId: string,
    listId: string,
    ids: string[],
    select: string[] | undefined,
  ): Promise<Map<string, ListItem | 'gone'>> {
    const out = new Map<string, ListItem | 'gone'>();
    for (let start = 0; start < ids.length; start += MAX_BATCH_SIZE)
      await this.readChunkByIds(siteId, listId, ids.slice(start, start + MAX_BATCH_SIZE), select, out);
    if ([...out.values()].includes('gone')) await this.confirmListAnswers(siteId, listId);
    return out;
  }

  /** One `$batch` of readByIds, sent again for the reads throttled or failed transiently until each is answered. */
  private async readChunkByIds(
    siteId: string,
    listId: string,
    chunk: string[],
    select: string[] | undefined,
    out: Map<string, ListItem | 'gone'>,
  ): Promise<void> {
    const expand = fieldsExpansion(select);
    const urlOf = (id: string) =>
      `/sites/${siteId}/lists/${listId}/items/${encodeURIComponent(id)}?$expand=${expand}`;
    let pending = chunk;
    let throttledMs = 0;
    let transientAttempts = 0;
    while (pending.length > 0) {
      const requests = pending.map((id, index) => ({ id: String(index), method: 'GET', url: urlOf(id) }));
      const batch = await this.transport.request('POST', '$batch', batchResponseSchema, {
        body: { requests },
        resourceUnits: requests.length,
        safeToRetry: true,
      });
      const answered = new Set<number>();
      const throttled: string[] = [];
      const transient: string[] = [];
      let throttleWaitMs = 0;
      let throttleStatus: 429 | 503 = 429;
      let lastThrottled: GraphResponse | undefined;
      let failure: GraphResponse | undefined;
      for (const response of batch.responses) {
        const id = pending[Number(response.id)];
        if (id === undefined) continue;
        answered.add(Number(response.id));
        const headers = new Headers(response.headers ?? {});
        this.transport.noteRateLimitHeaders(headers);
        const throttling = throttlingOf(response.status, headers);
        const answer: GraphResponse = {
          method: 'GET',
          url: this.transport.url(urlOf(id)),
          status: response.status,
          body: response.body,
          headers,
        };
        if (throttling) {
          throttled.push(id);
          lastThrottled = answer;
          if (throttling.waitMs >= throttleWaitMs)
            [throttleWaitMs, throttleStatus] = [throttling.waitMs, throttling.status];
          continue;
        }
        if (response.status >= 500) {
          transient.push(id);
          failure ??= answer;
          continue;
        }
        if (response.status === 404) {
          out.set(id, 'gone');
          continue;
        }
        const read = parseListItem(response.body);
        if (response.status !== 200 || !read.success) throw requestErrorOf(answer);
        if (!hasFields(read.data)) throw new FieldsMissingError('GET', this.transport.url(urlOf(id)), [id]);
        out.set(id, toListItem(read.data));
      }
      const unanswered = pending.filter((_, index) => !answered.has(index));
      if (unanswered.length > 0)
        throw new FieldsMissingError('POST', this.transport.url('$batch'), unanswered);
      if (throttled.length > 0) {
        // The next attempt waits out the block in the transport's clearance, which stops the run at its deadline.
        const honouredMs = await this.transport.noteThrottled(
          throttleWaitMs,
          throttled.length,
          throttleStatus,
        );
        throttledMs += honouredMs;
        if (throttledMs > this.transport.maxThrottleWaitMs && lastThrottled)
          throw requestErrorOf(lastThrottled);
      }
      if (transient.length > 0) {
        if (transientAttempts >= this.transport.maxTransientRetries && failure) throw requestErrorOf(failure);
        transientAttempts += 1;
        await this.transport.transientBackoff(transientAttempts);
      }
      pending = [...throttled, ...transient];
    }
  }

  /**
   * I15 at the target: an item read by id that answers 404 is gone only while its list still answers. A list
   * deleted (or replaced) between a page and the reads by id answers every item 404; taken as tombstones, those
   * would delete rows. So one GET of the list by id (1 resource unit, only when some item answered 404): a 404
   * there fails the read with that not_found, which the engine confirms as ListGoneError or ListReplacedError.
   */
  private async confirmListAnswers(siteId: string, listId: string): Promise<void> {
    const response = await this.transport.send('GET', `/sites/${siteId}/lists/${encodeURIComponent(listId)}`);
    if (response.status !== 200) throw requestErrorOf(response);
  }

  private async *pages<T>(
    firstUrl: string,
    item: z.ZodType<T>,
    headers?: Record<string, string>,
  ): AsyncGenerator<T[]> {
    const schema = collectionSchema(item);
    let url: string | undefined = firstUrl;
    while (url !== undefined) {
      const page: z.output<typeof schema> = await this.transport.request('GET', url, schema, { headers });
      yield page.value;
      url = page['@odata.nextLink'];
    }
  }

  private cached<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
    let entry = cache.get(key);
    if (!entry) {
      entry = load();
      cache.set(key, entry);
      // A failed resolution is not remembered: the next call tries again.
      entry.catch(() => cache.delete(key));
    }
    return entry;
  }

  /**
   * Runs a create that must not be repeated blindly: after an unknown outcome, `findExisting` decides
   * whether it was applied; only if not is it sent again.
   */
  private async createOnce<T>(
    create: () => Promise<T>,
    findExisting: () => Promise<T | undefined>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await create();
      } catch (error) {
        if (!(error instanceof GraphOutcomeUnknownError) || attempt > this.transport.maxTransientRetries)
          throw error;
        await this.transport.transientBackoff(attempt);
        const existing = await findExisting();
        if (existing !== undefined) return existing;
      }
    }
  }
}

function requestShapeError(url: string, problem: string): GraphResponseShapeError {
  return new GraphResponseShapeError('GET', url, 'a Graph collection page', problem);
}
