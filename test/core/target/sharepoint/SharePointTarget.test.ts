import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  assertColumnsExist,
  GraphAuthError,
  GraphRequestError,
  ResyncRequiredError,
  UnknownColumnError,
  type DeltaPage,
  type SharePointTarget,
  type WriteOp,
  type WriteOutcome,
} from '../../../../src/core/target/sharepoint';
import { SITE, startHarness, type EmulatorHarness } from './emulatorSupport';

let h: EmulatorHarness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const creates = (count: number, prefix: string): WriteOp[] =>
  Array.from({ length: count }, (_, i) => ({
    kind: 'create',
    ref: `${prefix}${i}`,
    fields: { Title: `${prefix} ${i}`, Key: `${prefix}${i}` },
    adoptBy: { field: 'Key', value: `${prefix}${i}` },
  }));

function created(outcome: WriteOutcome): { itemId: string; eTag: string } {
  if (outcome.status !== 'created') throw new Error(`expected created, got ${JSON.stringify(outcome)}`);
  return outcome;
}

/** Keys of the list's items as the emulator holds them (no resource units, not logged). */
function keysOf(listId: string): string[] {
  return h.emulator.control
    .listItems(h.siteId, listId)
    .map((item) => String(item.fields.Key))
    .sort();
}

async function collect(pages: AsyncGenerator<DeltaPage>): Promise<DeltaPage[]> {
  const all: DeltaPage[] = [];
  for await (const page of pages) all.push(page);
  return all;
}

describe('resolution', () => {
  it('resolves a site by host:/path and by composite id, and a list by name and by GUID', async () => {
    const target = h.target();
    const byPath = await target.resolveSite(SITE);
    expect(byPath.id).toBe(h.siteId);
    expect(byPath.webUrl).toBe('https://contoso.sharepoint.com/sites/demo');
    expect((await target.resolveSite(h.siteId)).id).toBe(h.siteId);

    const listId = await h.newList();
    const byGuid = await target.resolveList(h.siteId, listId);
    expect(byGuid.id).toBe(listId);
    expect((await target.resolveList(h.siteId, byGuid.displayName)).id).toBe(listId);
  });

  it('a missing list is a GraphRequestError naming the status, Graph code and URL', async () => {
    const error: unknown = await h
      .target()
      .resolveList(h.siteId, 'No Such List')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphRequestError);
    const graphError = error as GraphRequestError;
    expect(graphError.status).toBe(404);
    expect(graphError.code).not.toBe('');
    expect(graphError.method).toBe('GET');
    expect(graphError.message).toContain('No%20Such%20List');
  });

  it('reads columns once per run and maps internal names, types and read-only flags', async () => {
    const listId = await h.newList([
      { name: 'Project_x0020_Budget', displayName: 'Project Budget', currency: {} },
      { name: 'Due', dateTime: { format: 'dateOnly' } },
    ]);
    const target = h.target();
    const columnRequests = () =>
      h.emulator.control.requestLog().filter((e) => e.path.endsWith(`/lists/${listId}/columns`)).length;
    const before = columnRequests();
    const columns = await target.getColumns(h.siteId, listId);
    await target.getColumns(h.siteId, listId);
    expect(columnRequests() - before).toBe(1);

    expect(columns.find((c) => c.name === 'Project_x0020_Budget')).toMatchObject({
      type: 'currency',
      displayName: 'Project Budget',
      isSystem: false,
    });
    expect(columns.find((c) => c.name === 'Due')).toMatchObject({ type: 'dateTime', dateOnly: true });
    expect(columns.find((c) => c.name === 'Modified')).toMatchObject({ isSystem: true });
    expect(() => assertColumnsExist('Budgets', columns, ['Key', 'Project Budget'])).toThrow(
      UnknownColumnError,
    );
    expect(() => assertColumnsExist('Budgets', columns, ['Key', 'Project Budget'])).toThrow(
      /"Budgets".*"Project Budget".*did you mean "Project_x0020_Budget"/,
    );
  });

  it('addColumn adds a column and the next read of columns sees it', async () => {
    const listId = await h.newList();
    const target = h.target();
    expect((await target.getColumns(h.siteId, listId)).some((c) => c.name === 'Extra')).toBe(false);
    await target.addColumn(h.siteId, listId, { name: 'Extra', number: {} });
    expect((await target.getColumns(h.siteId, listId)).find((c) => c.name === 'Extra')?.type).toBe('number');
  });
});

describe('auth', () => {
  it('a rejected token surfaces as GraphAuthError naming the base URL and auth kind', async () => {
    const target = h.target({ auth: { kind: 'token', token: 'not-a-valid-token' } });
    const error: unknown = await target.resolveSite(SITE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphAuthError);
    const authError = error as GraphAuthError;
    expect(authError.status).toBe(401);
    expect(authError.baseUrl).toBe(h.emulator.baseUrl);
    expect(authError.authKind).toBe('token');
    expect(authError.message).toContain(h.emulator.baseUrl);
    expect(authError.message).toContain('"token"');
  });

  it('decorates every request with the NONISV User-Agent', async () => {
    await h.target().resolveSite(SITE);
    const last = h.emulator.control.requestLog().at(-1);
    expect(last?.headers['user-agent']).toMatch(/^NONISV\|Arcore\|ArcoreSyncBridge\/\d+\.\d+\.\d+/);
  });
});

describe('I10 throttle discipline: batched writes', () => {
  it('a 21-item write becomes two $batch requests, each item with its own outcome', async () => {
    const listId = await h.newList();
    const target = h.target();
    const before = h.outerBatchCount();
    const outcomes = await target.writeItems(h.siteId, listId, creates(21, 'b'));
    expect(h.outerBatchCount() - before).toBe(2);
    expect(outcomes.map((o) => o.ref)).toEqual(creates(21, 'b').map((op) => op.ref));
    expect(outcomes.every((o) => o.status === 'created')).toBe(true);
    expect(new Set(outcomes.map((o) => created(o).itemId)).size).toBe(21);
    expect(keysOf(listId)).toHaveLength(21);
  });

  it('the batches of two writes in flight at once leave in the order the writes began (one queue per run)', async () => {
    // No ambiguous 503s here: a re-sent item would add a batch out of order.
    const own = await startHarness({ throttling: { enabled: false }, batchAmbiguous503Rate: 0 });
    try {
      const listId = await own.newList();
      const target = own.target({ maxConcurrency: 2, resourceUnitsPerMinute: 100_000 });
      const before = own.emulator.control.requestLog().length;
      // A page of 100 writes, and the next page's 40 begun while the first's batches are out.
      const first = target.writeItems(own.siteId, listId, creates(100, 'p1-'));
      const second = target.writeItems(own.siteId, listId, creates(40, 'p2-'));
      const [a, b] = await Promise.all([first, second]);
      expect([...a, ...b].every((o) => o.status === 'created')).toBe(true);
      const pageOfBatch = own.emulator.control
        .requestLog()
        .slice(before)
        .filter((entry) => entry.path === '/$batch' && !entry.batch)
        .map((entry) => {
          const body = entry.body as { requests: { body: { fields: { Key: string } } }[] };
          return body.requests[0].body.fields.Key.slice(0, 3);
        });
      // Each write alone would have taken two slots, interleaving the pages' batches.
      expect(pageOfBatch).toEqual(['p1-', 'p1-', 'p1-', 'p1-', 'p1-', 'p2-', 'p2-']);
    } finally {
      await own.close();
    }
  });

  it('I11 no batch leaves once the run may no longer write (beforeWrite throws): the write fails with that error', async () => {
    // No ambiguous 503s here: a re-sent item would be one more batch asking to leave.
    const own = await startHarness({ throttling: { enabled: false }, batchAmbiguous503Rate: 0 });
    try {
      const listId = await own.newList();
      let allowed = 2;
      const lockLost = new Error('the lock is lost');
      const target = own.target({
        maxConcurrency: 1,
        beforeWrite: () => {
          if (allowed-- <= 0) throw lockLost;
        },
      });
      const before = own.outerBatchCount();
      await expect(target.writeItems(own.siteId, listId, creates(100, 'l'))).rejects.toBe(lockLost);
      // Two batches were allowed out; the three queued behind them never left.
      expect(own.outerBatchCount() - before).toBe(2);
      expect(own.emulator.control.listItems(own.siteId, listId)).toHaveLength(40);
    } finally {
      await own.close();
    }
  });

  it('throttled items inside a batch are re-sent alone after Retry-After and written exactly once', async () => {
    const listId = await h.newList();
    const target = h.target();
    h.emulator.control.injectFault({
      method: 'POST',
      pathPattern: `/lists/${listId}/items$`,
      count: 4,
      status: 429,
      retryAfterSeconds: 1,
    });
    const before = h.outerBatchCount();
    const started = Date.now();
    const outcomes = await target.writeItems(h.siteId, listId, creates(10, 't'));
    expect(outcomes.every((o) => o.status === 'created')).toBe(true);
    expect(keysOf(listId)).toEqual(
      creates(10, 't')
        .map((op) => op.ref)
        .sort(),
    );
    expect(h.outerBatchCount() - before).toBe(2);
    const retried = h.emulator.control
      .requestLog()
      .filter((e) => e.batch && e.path.endsWith(`/lists/${listId}/items`) && e.status === 201);
    expect(retried).toHaveLength(10);
    expect(target.stats().throttled429).toBe(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(target.stats().throttleWaitMs).toBeGreaterThanOrEqual(900);
  });

  it('an inner 503 is retried for those items only', async () => {
    const listId = await h.newList();
    const target = h.target();
    h.emulator.control.injectFault({
      method: 'POST',
      pathPattern: `/lists/${listId}/items$`,
      count: 2,
      status: 503,
    });
    const outcomes = await target.writeItems(h.siteId, listId, creates(5, 's'));
    expect(outcomes.map((o) => o.status)).toEqual(Array(5).fill('created'));
    expect(keysOf(listId)).toHaveLength(5);
    expect(target.stats().transientRetries).toBe(1);
  });
});

describe('I7 conflicts: writes carry If-Match', () => {
  let target: SharePointTarget;
  let listId: string;
  let item: { itemId: string; eTag: string };

  beforeEach(async () => {
    target = h.target();
    listId = await h.newList([{ name: 'Amount', number: {} }]);
    [item] = (await target.writeItems(h.siteId, listId, creates(1, 'c'))).map(created);
  });

  it('an update with the current eTag is applied and returns the new eTag', async () => {
    const [outcome] = await target.writeItems(h.siteId, listId, [
      { kind: 'update', ref: 'u', itemId: item.itemId, eTag: item.eTag, fields: { Amount: 42 } },
    ]);
    expect(outcome.status).toBe('updated');
    const stored = h.emulator.control.listItems(h.siteId, listId)[0];
    expect(stored.fields.Amount).toBe(42);
    // eTags are opaque (the item eTag and the fields @odata.etag are spelled differently): the returned
    // one must be accepted by If-Match, the old one refused.
    expect(outcome.status).toBe('updated');
    const [again] = await target.writeItems(h.siteId, listId, [
      {
        kind: 'update',
        ref: 'again',
        itemId: item.itemId,
        fields: { Amount: 43 },
        eTag: (outcome as { eTag: string }).eTag,
      },
    ]);
    expect(again.status).toBe('updated');
    const [stale] = await target.writeItems(h.siteId, listId, [
      { kind: 'update', ref: 'stale', itemId: item.itemId, fields: { Amount: 44 }, eTag: item.eTag },
    ]);
    expect(stale.status).toBe('precondition_failed');
  });

  it('a 412 comes back as precondition_failed and changes nothing', async () => {
    await target.writeItems(h.siteId, listId, [
      { kind: 'update', ref: 'first', itemId: item.itemId, eTag: item.eTag, fields: { Amount: 1 } },
    ]);
    const outcomes = await target.writeItems(h.siteId, listId, [
      { kind: 'update', ref: 'stale-update', itemId: item.itemId, eTag: item.eTag, fields: { Amount: 2 } },
      { kind: 'delete', ref: 'stale-delete', itemId: item.itemId, eTag: item.eTag },
    ]);
    expect(outcomes).toEqual([
      { ref: 'stale-update', status: 'precondition_failed' },
      { ref: 'stale-delete', status: 'precondition_failed' },
    ]);
    expect(h.emulator.control.listItems(h.siteId, listId)[0].fields.Amount).toBe(1);
  });

  it('deletes, reports missing items as not_found and Graph refusals as rejected with its message', async () => {
    const outcomes = await target.writeItems(h.siteId, listId, [
      { kind: 'delete', ref: 'd', itemId: item.itemId, eTag: item.eTag },
      { kind: 'update', ref: 'gone', itemId: '99999', fields: { Amount: 1 } },
      { kind: 'create', ref: 'bad', fields: { Key: 'x', NoSuchColumn: 1 } },
    ]);
    expect(outcomes[0]).toEqual({ ref: 'd', status: 'deleted' });
    expect(outcomes[1]).toEqual({ ref: 'gone', status: 'not_found' });
    expect(outcomes[2]).toMatchObject({ ref: 'bad', status: 'rejected', httpStatus: 400 });
    expect(outcomes[2].status === 'rejected' && outcomes[2].message).toContain('NoSuchColumn');
    expect(keysOf(listId)).toEqual([]);
  });
});

describe('I6 crash safety: faults are retried without duplicates', () => {
  const faults = [
    { name: '503 on the batch', fault: { status: 503 } },
    { name: 'connection dropped before the batch ran', fault: { drop: 'before' as const } },
    { name: 'connection dropped after the batch ran', fault: { drop: 'after' as const } },
  ];

  it.each(faults)('$name: exactly one item per create, updates and deletes settled', async ({ fault }) => {
    const target = h.target();
    const listId = await h.newList([{ name: 'Amount', number: {} }]);
    const [toUpdate, toDelete] = (await target.writeItems(h.siteId, listId, creates(2, 'pre'))).map(created);
    h.emulator.control.injectFault({ method: 'POST', pathPattern: '^/\\$batch$', count: 1, ...fault });

    const outcomes = await target.writeItems(h.siteId, listId, [
      ...creates(3, 'new'),
      { kind: 'update', ref: 'upd', itemId: toUpdate.itemId, eTag: toUpdate.eTag, fields: { Amount: 7 } },
      { kind: 'delete', ref: 'del', itemId: toDelete.itemId, eTag: toDelete.eTag },
    ]);

    expect(outcomes.map((o) => o.status)).toEqual(['created', 'created', 'created', 'updated', 'deleted']);
    const adopted = outcomes.slice(0, 3).map((o) => o.status === 'created' && o.adopted);
    expect(adopted).toEqual(Array(3).fill(fault.drop === 'after'));
    expect(keysOf(listId)).toEqual(['new0', 'new1', 'new2', 'pre0']);
    const items = h.emulator.control.listItems(h.siteId, listId);
    const updated = items.find((i) => i.id === toUpdate.itemId);
    expect(updated?.fields.Amount).toBe(7);
    expect(sameVersion((outcomes[3] as { eTag: string }).eTag, updated!.eTag)).toBe(true);
    for (const outcome of outcomes.slice(0, 3)) {
      expect(items.find((i) => i.id === created(outcome).itemId)?.eTag).toBe(created(outcome).eTag);
    }
    expect(target.stats().transientRetries).toBeGreaterThanOrEqual(1);
  });

  it('a create without adoptBy whose outcome is unknown fails instead of risking a duplicate', async () => {
    const target = h.target();
    const listId = await h.newList();
    h.emulator.control.injectFault({ method: 'POST', pathPattern: '^/\\$batch$', count: 1, drop: 'after' });
    const [outcome] = await target.writeItems(h.siteId, listId, [
      { kind: 'create', ref: 'x', fields: { Key: 'only-once' } },
    ]);
    expect(outcome.status).toBe('failed');
    expect(outcome.status === 'failed' && outcome.message).toContain('adoptBy');
    expect(keysOf(listId)).toEqual(['only-once']);
  });

  it('a create re-sent after an unknown outcome and then refused stays unknown: the first attempt may land', async () => {
    const target = h.target();
    const listId = await h.newList();
    // The first attempt's outcome is unknown (503), the look-up finds nothing, the re-sent create is refused.
    h.emulator.control.injectFault({ method: 'POST', pathPattern: '^/\\$batch$', count: 1, status: 503 });
    h.emulator.control.injectFault({ method: 'POST', pathPattern: '^/\\$batch$', count: 1, status: 400 });
    const [outcome] = await target.writeItems(h.siteId, listId, creates(1, 'again'));
    expect(outcome).toMatchObject({ status: 'failed', message: expect.stringContaining('400') });
    expect(outcome.status === 'failed' && outcome.notSent).toBeFalsy();
    // Refused at its first attempt, a create is known not applied.
    h.emulator.control.injectFault({ method: 'POST', pathPattern: '^/\\$batch$', count: 1, status: 400 });
    const [first] = await target.writeItems(h.siteId, listId, creates(1, 'once'));
    expect(first).toMatchObject({ status: 'rejected', httpStatus: 400 });
  });

  it('reads are retried through 503s and dropped connections', async () => {
    const target = h.target();
    const listId = await h.newList();
    const [item] = (await target.writeItems(h.siteId, listId, creates(1, 'r'))).map(created);
    h.emulator.control.injectFault({ method: 'GET', pathPattern: '/items/\\d+$', count: 1, status: 503 });
    h.emulator.control.injectFault({ method: 'GET', pathPattern: '/items/\\d+$', count: 1, drop: 'before' });
    const read = await target.getItem(h.siteId, listId, item.itemId);
    expect(read?.fields.Key).toBe('r0');
    expect(target.stats().transientRetries).toBe(2);
  });

  it('gives up after maxTransientRetries with an error naming the status', async () => {
    const target = h.target({ maxTransientRetries: 2 });
    const listId = await h.newList();
    h.emulator.control.injectFault({ method: 'GET', pathPattern: '/items/1$', count: 3, status: 503 });
    const error: unknown = await target.getItem(h.siteId, listId, '1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphRequestError);
    expect((error as GraphRequestError).status).toBe(503);
    expect(target.stats().transientRetries).toBe(2);
  });

  it('an outer 429 holds every request of the app until Retry-After, then succeeds', async () => {
    const appKey = `shared-${Date.now()}`;
    const first = h.target({ appKey });
    const second = h.target({ appKey });
    h.emulator.control.injectFault({
      method: 'GET',
      pathPattern: '^/sites/[^/]+$',
      count: 1,
      status: 429,
      retryAfterSeconds: 2,
    });
    const started = Date.now();
    const firstRead = first.resolveSite(h.siteId);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await second.resolveSite(SITE);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect((await firstRead).id).toBe(h.siteId);
    expect(first.stats().throttled429).toBe(1);
    expect(second.stats().throttleWaitMs).toBeGreaterThanOrEqual(1000);
  });
});

/**
 * Whether two eTags name the same version, knowing the emulator's two spellings. Only tests do this:
 * the client never compares eTags (it sends them back in If-Match).
 */
function sameVersion(a: string, b: string): boolean {
  const identity = (e: string) => e.replace(/^W\//, '').replace(/"/g, '').replace(/[{}]/g, '').toLowerCase();
  return identity(a) === identity(b);
}

describe('delta', () => {
  it('enumerates in pages, then returns changes, tombstones and a new link', async () => {
    const target = h.target();
    const listId = await h.newList();
    const items = (await target.writeItems(h.siteId, listId, creates(12, 'd'))).map(created);

    const first = await collect(target.deltaPages(h.siteId, listId, { top: 5, select: ['Title', 'Key'] }));
    // Items may repeat across pages (Graph documents it; the emulator does it by default): 3 pages still.
    expect(first).toHaveLength(3);
    expect(first.slice(0, 2).every((p) => p.nextLink && !p.deltaLink)).toBe(true);
    const deltaLink = first[2].deltaLink;
    expect(deltaLink).toBeDefined();
    const lastOccurrence = new Map(
      first.flatMap((p) => p.entries).flatMap((e) => (e.kind === 'upsert' ? [[e.item.id, e] as const] : [])),
    );
    const upserted = [...lastOccurrence.values()];
    // The hidden-free select still reads the indexed Key column explicitly.
    expect(upserted.map((e) => e.item.fields.Key).sort()).toEqual(
      creates(12, 'd')
        .map((op) => op.ref)
        .sort(),
    );
    expect(upserted.every((e) => e.item.eTag !== '' && e.item.lastModifiedDateTime !== '')).toBe(true);

    const alice = h.userTarget('alice');
    await alice.writeItems(h.siteId, listId, [
      { kind: 'update', ref: 'u', itemId: items[0].itemId, fields: { Title: 'edited' } },
      { kind: 'delete', ref: 'd', itemId: items[1].itemId },
    ]);
    const feed = (await collect(target.deltaPages(h.siteId, listId, { deltaLink }))).flatMap(
      (p) => p.entries,
    );
    // The last occurrence of each item is its latest state (earlier, stale ones may precede it).
    const changes = [...new Map(feed.map((e) => [e.kind === 'upsert' ? e.item.id : e.id, e])).values()];
    expect(changes).toEqual(
      expect.arrayContaining([
        { kind: 'deleted', id: items[1].itemId },
        expect.objectContaining({ kind: 'upsert', item: expect.objectContaining({ id: items[0].itemId }) }),
      ]),
    );
    expect(changes).toHaveLength(2);
    const edit = changes.find((e) => e.kind === 'upsert');
    expect(edit?.kind === 'upsert' && edit.item.fields.Title).toBe('edited');
  });

  it('tolerates repeated items: every occurrence is yielded, the last one is the latest state', async () => {
    const target = h.target();
    const listId = await h.newList();
    const [item] = (await target.writeItems(h.siteId, listId, creates(1, 'rep'))).map(created);
    const link = await target.latestDeltaLink(h.siteId, listId);
    await target.writeItems(h.siteId, listId, [
      { kind: 'update', ref: 'u1', itemId: item.itemId, fields: { Title: 'one' } },
    ]);
    await target.writeItems(h.siteId, listId, [
      { kind: 'update', ref: 'u2', itemId: item.itemId, fields: { Title: 'two' } },
    ]);
    h.emulator.control.setDeltaRepeats(1);
    try {
      const entries = (await collect(target.deltaPages(h.siteId, listId, { deltaLink: link }))).flatMap(
        (p) => p.entries,
      );
      const occurrences = entries.filter((e) => e.kind === 'upsert' && e.item.id === item.itemId);
      expect(occurrences.length).toBeGreaterThan(1);
      const last = occurrences.at(-1);
      expect(last?.kind === 'upsert' && last.item.fields.Title).toBe('two');
    } finally {
      h.emulator.control.setDeltaRepeats(true);
    }
  });

  it('token=latest gives a link with no past changes', async () => {
    const target = h.target();
    const listId = await h.newList();
    await target.writeItems(h.siteId, listId, creates(3, 'l'));
    const link = await target.latestDeltaLink(h.siteId, listId);
    expect(
      (await collect(target.deltaPages(h.siteId, listId, { deltaLink: link }))).flatMap((p) => p.entries),
    ).toEqual([]);
    await target.writeItems(h.siteId, listId, creates(1, 'after'));
    const later = (await collect(target.deltaPages(h.siteId, listId, { deltaLink: link }))).flatMap(
      (p) => p.entries,
    );
    expect(later).toHaveLength(1);
  });

  it('a 410 comes back as ResyncRequiredError with the fresh link, which re-enumerates', async () => {
    const target = h.target();
    const listId = await h.newList();
    await target.writeItems(h.siteId, listId, creates(3, 'x'));
    const link = await target.latestDeltaLink(h.siteId, listId, ['Key']);
    h.emulator.control.expireDeltaTokens();
    const error: unknown = await collect(target.deltaPages(h.siteId, listId, { deltaLink: link })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ResyncRequiredError);
    const resync = error as ResyncRequiredError;
    expect(resync.code).toMatch(/^resync/);
    expect(resync.freshLink).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v1\.0\/sites\/.+\/items\/delta/);
    const again = await collect(target.deltaPages(h.siteId, listId, { deltaLink: resync.freshLink }));
    expect(again.flatMap((p) => p.entries)).toHaveLength(3);
    expect(again.at(-1)?.deltaLink).toBeDefined();
  });

  it('a 410 for a token Graph cannot read restarts from its own enumeration with the selection; its Location is not followed', async () => {
    const target = h.target();
    const listId = await h.newList();
    await target.writeItems(h.siteId, listId, creates(2, 'u'));
    const link = await target.latestDeltaLink(h.siteId, listId, ['Title', 'Key']);
    const unreadable = link.replace(/token=[^&]*/, 'token=unreadable');
    const error: unknown = await collect(
      target.deltaPages(h.siteId, listId, { deltaLink: unreadable, select: ['Title', 'Key'] }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResyncRequiredError);
    const resync = error as ResyncRequiredError;
    // Graph's Location for a token it cannot read keeps no known options: the emulator's selects no fields.
    expect(resync.location).toBeDefined();
    expect(resync.freshLink).not.toBe(resync.location);
    expect(decodeURIComponent(resync.freshLink)).toContain('fields($select=Title,Key)');
    const again = (
      await collect(target.deltaPages(h.siteId, listId, { deltaLink: resync.freshLink }))
    ).flatMap((p) => p.entries);
    expect(again.map((e) => (e.kind === 'upsert' ? e.item.fields.Key : e.id)).sort()).toEqual(['u0', 'u1']);
  });

  it('I12 an item a delta page carried without its fields is read again by id, never read as empty values', async () => {
    const target = h.target();
    const listId = await h.newList();
    await target.writeItems(h.siteId, listId, creates(2, 'f'));
    const link = await target.latestDeltaLink(h.siteId, listId, ['Title', 'Key']);
    const gone: unknown = await collect(
      target.deltaPages(h.siteId, listId, { deltaLink: link.replace(/token=[^&]*/, 'token=unreadable') }),
    ).catch((e: unknown) => e);
    // Graph's own restart link, which the engine never follows, reads the items without their fields.
    const location = (gone as ResyncRequiredError).location;
    expect(location).toBeDefined();
    const ids = h.emulator.control
      .listItems(h.siteId, listId)
      .map((i) => i.id)
      .sort((a, b) => Number(a) - Number(b));
    h.emulator.control.clearRequestLog();
    const pages = await collect(
      target.deltaPages(h.siteId, listId, { deltaLink: location, select: ['Title', 'Key'] }),
    );
    const entries = pages.flatMap((p) => p.entries);
    expect(pages.flatMap((p) => p.readAgain ?? []).sort((a, b) => Number(a) - Number(b))).toEqual(ids);
    expect(
      entries.map((e) => (e.kind === 'upsert' ? [e.item.id, e.item.fields.Key, e.item.fields.Title] : e)),
    ).toEqual([
      [ids[0], 'f0', 'f 0'],
      [ids[1], 'f1', 'f 1'],
    ]);
    // The read again selected the page's fields: one $batch of two single-item GETs.
    const batches = h.emulator.control.requestLog().filter((r) => r.path.endsWith('/$batch'));
    expect(batches).toHaveLength(1);
    expect(JSON.stringify(batches[0].body)).toContain('fields($select=Title,Key)');
  });
});

describe('reads', () => {
  it('lists items in pages, finds by an indexed field and reads one item', async () => {
    const target = h.target();
    const listId = await h.newList();
    const outcomes = await target.writeItems(h.siteId, listId, [
      ...creates(11, 'p'),
      { kind: 'create', ref: 'q', fields: { Key: "O'Brien", Title: 'quote' } },
    ]);
    const pages: number[] = [];
    for await (const page of target.listItems(h.siteId, listId, { top: 5, select: ['Key'] })) {
      pages.push(page.length);
      expect(page.every((item) => item.fields.Key !== undefined && item.fields.Title === undefined)).toBe(
        true,
      );
    }
    expect(pages).toEqual([5, 5, 2]);

    const found = await target.findItemsByField(h.siteId, listId, 'Key', "O'Brien");
    expect(found.map((item) => item.fields.Title)).toEqual(['quote']);
    expect(await target.findItemsByField(h.siteId, listId, 'Key', 'nobody')).toEqual([]);

    const item = await target.getItem(h.siteId, listId, created(outcomes[3]).itemId);
    expect(item?.fields.Key).toBe('p3');
    expect(item?.eTag).toBe(created(outcomes[3]).eTag);
    expect(await target.getItem(h.siteId, listId, '424242')).toBeNull();
  });
});

describe('subscriptions', () => {
  let receiver: Server;
  let notificationUrl: string;

  beforeAll(async () => {
    // Answers Graph's validation handshake: 200 text/plain with the decoded token.
    receiver = createServer((req, res) => {
      const token = new URL(req.url ?? '/', 'http://localhost').searchParams.get('validationToken');
      res.writeHead(token === null ? 202 : 200, { 'Content-Type': 'text/plain' });
      res.end(token ?? '');
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    notificationUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/notify`;
  });
  afterAll(async () => {
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('creates, lists, renews, reauthorizes and deletes a list subscription', async () => {
    const target = h.target();
    const listId = await h.newList();
    const expiry = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
    const subscription = await target.createSubscription({
      resource: `sites/${h.siteId}/lists/${listId}`,
      notificationUrl,
      lifecycleNotificationUrl: `${notificationUrl}/lifecycle`,
      clientState: 'secret-state',
      expirationDateTime: expiry(2),
    });
    expect(subscription).toMatchObject({
      changeType: 'updated',
      notificationUrl,
      clientState: 'secret-state',
    });
    expect((await target.listSubscriptions()).map((s) => s.id)).toContain(subscription.id);

    const renewed = await target.renewSubscription(subscription.id, expiry(20));
    expect(Date.parse(renewed.expirationDateTime)).toBeGreaterThan(
      Date.parse(subscription.expirationDateTime),
    );
    await target.reauthorizeSubscription(subscription.id);

    await target.deleteSubscription(subscription.id);
    expect((await target.listSubscriptions()).map((s) => s.id)).not.toContain(subscription.id);
    await expect(target.deleteSubscription(subscription.id)).resolves.toBeUndefined();
    await expect(target.renewSubscription(subscription.id, expiry(3))).rejects.toMatchObject({ status: 404 });
  });
});
