/**
 * The SharePoint target where the strict emulator fails like SharePoint: permissions, hidden columns,
 * the 12-lookup threshold and ambiguous 503s inside $batch.
 */
import {
  GraphPermissionError,
  type SharePointTarget,
  type WriteOp,
  type WriteOutcome,
} from '../../../../src/core/target/sharepoint';
import { Agent } from 'undici';
import { errorKindOf } from '../../../../src/core/errors/classify';
import { SITE, startHarness, type EmulatorHarness } from './emulatorSupport';

let h: EmulatorHarness;
beforeAll(async () => {
  // The permission and read tests assert exact outcomes; the ambiguous 503 test starts its own emulator.
  h = await startHarness({ throttling: { enabled: false }, batchAmbiguous503Rate: 0 });
});
afterAll(() => h.close());

function created(outcome: WriteOutcome): { itemId: string; eTag: string } {
  if (outcome.status !== 'created') throw new Error(`expected created, got ${JSON.stringify(outcome)}`);
  return outcome;
}

/**
 * A list of 13 person columns (one past the lookup threshold, so each item's 13th is read by id) holding one item:
 * its id, and the selection that reads them all.
 */
async function itemPastThreshold(
  target: SharePointTarget,
  prefix: string,
): Promise<{ listId: string; itemId: string; select: string[] }> {
  const people = Array.from({ length: 13 }, (_, i) => ({ name: `${prefix}${i}`, personOrGroup: {} }));
  const listId = await h.newList(people);
  const alice = h.emulator.control.userLookupId('alice');
  const fields: Record<string, unknown> = { Key: `${prefix}1` };
  for (const p of people) fields[`${p.name}LookupId`] = alice;
  const [c] = await target.writeItems(h.siteId, listId, [{ kind: 'create', ref: prefix, fields }]);
  return { listId, itemId: created(c).itemId, select: ['Key', ...people.map((p) => `${p.name}LookupId`)] };
}

describe('permissions', () => {
  it('a 403 is a GraphPermissionError naming the permission the operation needs', async () => {
    const listId = await h.newList();
    const reader: SharePointTarget = h.appTarget(['Sites.Read.All']);
    const site = await reader.resolveSite(SITE);
    expect(site.id).toBe(h.siteId);
    await expect(reader.createList(h.siteId, 'Denied', [])).rejects.toThrow(GraphPermissionError);
    await expect(reader.createList(h.siteId, 'Denied', [])).rejects.toThrow(/Sites\.Manage\.All/);
    const [outcome] = await reader.writeItems(h.siteId, listId, [
      { kind: 'create', ref: 'x', fields: { Key: 'x' } },
    ]);
    expect(outcome).toMatchObject({ status: 'rejected', httpStatus: 403, code: 'accessDenied' });
    expect(outcome.status === 'rejected' && outcome.message).toMatch(/needs Sites\.ReadWrite\.All/);
    const selected = h.appTarget(['Sites.Selected']);
    const denied = await selected.resolveList(h.siteId, listId).catch((error: unknown) => error);
    expect(denied).toBeInstanceOf(GraphPermissionError);
    expect((denied as GraphPermissionError).neededPermission).toMatch(/Sites\.Read\.All/);
    await expect(
      h.appTarget(['Sites.Selected'], { [h.siteId]: 'fullcontrol' }).listSubscriptions(),
    ).rejects.toThrow(/Sites\.Selected cannot subscribe/);
  });
});

describe('reads select what a bare $expand=fields leaves out', () => {
  it('getItem and findItemsByField return the hidden key column', async () => {
    const target = h.target();
    const listId = await h.newList([{ name: 'SyncKey', text: {}, hidden: true, indexed: true }]);
    const [c] = await target.writeItems(h.siteId, listId, [
      { kind: 'create', ref: 'k', fields: { Title: 't', SyncKey: 'hk1' } },
    ]);
    const item = await target.getItem(h.siteId, listId, created(c).itemId);
    expect(item?.fields.SyncKey).toBe('hk1');
    const found = await target.findItemsByField(h.siteId, listId, 'SyncKey', 'hk1');
    expect(found.map((i) => i.fields.SyncKey)).toEqual(['hk1']);
  });

  it('splits a selection of more than 12 lookup columns: delta and list reads still return every one', async () => {
    const target = h.target();
    const people = Array.from({ length: 14 }, (_, i) => ({ name: `Who${i}`, personOrGroup: {} }));
    const listId = await h.newList([
      ...people,
      { name: 'Many', personOrGroup: { allowMultipleSelection: true } },
    ]);
    const alice = h.emulator.control.userLookupId('alice');
    const bob = h.emulator.control.userLookupId('bob');
    const fields: Record<string, unknown> = { Key: 'p1' };
    for (const p of people) fields[`${p.name}LookupId`] = alice;
    fields['ManyLookupId@odata.type'] = 'Collection(Edm.Int32)';
    fields.ManyLookupId = [alice, bob];
    const [c] = await target.writeItems(h.siteId, listId, [{ kind: 'create', ref: 'p', fields }]);
    created(c);
    const select = ['Key', ...people.map((p) => `${p.name}LookupId`), 'ManyLookupId'];
    const pages = [];
    for await (const page of target.deltaPages(h.siteId, listId, { select })) pages.push(page);
    const entry = pages.flatMap((p) => p.entries).find((e) => e.kind === 'upsert');
    expect(entry?.kind).toBe('upsert');
    const read = entry?.kind === 'upsert' ? entry.item.fields : {};
    for (const p of people) expect(read[`${p.name}LookupId`]).toBe(String(alice));
    expect((read.Many as { LookupId: number }[]).map((v) => v.LookupId)).toEqual([alice, bob]);
    const listed = [];
    for await (const page of target.listItems(h.siteId, listId, { select })) listed.push(...page);
    expect(listed[0].fields.Who13LookupId).toBe(String(alice));
  });

  it('I12 an item gone before its lookups past 12 are read is a tombstone, never an item with those lookups empty', async () => {
    const target = h.target();
    const { listId, itemId, select } = await itemPastThreshold(target, 'Gone');
    // The single-item read of the 13th lookup finds the item deleted since the page was read.
    const perItemRead = { method: 'GET', pathPattern: `/items/${itemId}$`, status: 404 };
    h.emulator.control.injectFault({ ...perItemRead, count: 1 });
    const entries = [];
    for await (const page of target.deltaPages(h.siteId, listId, { select })) entries.push(...page.entries);
    expect(entries).toEqual([{ kind: 'deleted', id: itemId }]);
    h.emulator.control.injectFault({ ...perItemRead, count: 1 });
    const listed = [];
    for await (const page of target.listItems(h.siteId, listId, { select })) listed.push(...page);
    expect(listed).toEqual([]);
  });

  it('I15 a list deleted while its items are read by id fails the read as not_found, never as tombstones', async () => {
    const target = h.target();
    const { listId, itemId, select } = await itemPastThreshold(target, 'Away');
    // The per-item read (inside $batch) waits 1.5 s before it is served: the list is deleted meanwhile.
    h.emulator.control.injectFault({
      method: 'GET',
      pathPattern: `/items/${itemId}$`,
      latencyMs: 1500,
      count: 1,
    });
    const dispatcher = new Agent({ connect: { ca: h.emulator.caCert } });
    const reading = (async () => {
      const entries = [];
      for await (const page of target.deltaPages(h.siteId, listId, { select })) entries.push(...page.entries);
      return entries;
    })().catch((e: unknown) => e);
    const deltaRead = () =>
      h.emulator.control
        .requestLog()
        .some((r) => r.path === `/sites/${h.siteId}/lists/${listId}/items/delta`);
    while (!deltaRead()) await new Promise((resolve) => setTimeout(resolve, 20));
    const deleted = await fetch(`${h.emulator.baseUrl}/sites/${h.siteId}/lists/${listId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${h.emulator.appToken}` },
      dispatcher,
    });
    expect(deleted.status).toBe(204);
    const outcome = await reading;
    await dispatcher.close();
    // Without the list's own read, the item's 404 would have come back as { kind: 'deleted' } (a row deleted).
    expect(Array.isArray(outcome)).toBe(false);
    expect(errorKindOf(outcome)).toBe('not_found');
    const listRead = h.emulator.control
      .requestLog()
      .filter((r) => r.method === 'GET' && r.path.endsWith(`/lists/${listId}`));
    expect(listRead.map((r) => r.status)).toEqual([404]);
  });
});

describe('ambiguous 503 inside $batch', () => {
  it('a create answered 503 after it was applied is found by its key, not sent twice', async () => {
    const ops: WriteOp[] = Array.from({ length: 5 }, (_, i) => ({
      kind: 'create',
      ref: `a${i}`,
      fields: { Title: `a${i}`, Key: `a${i}` },
      adoptBy: { field: 'Key', value: `a${i}` },
    }));
    // Every applied write answered 503: the worst case of the default (a share of them).
    const ambiguous = await startHarness({ throttling: { enabled: false }, batchAmbiguous503Rate: 1 });
    try {
      const target = ambiguous.target();
      const listId = await ambiguous.newList();
      const outcomes = await target.writeItems(ambiguous.siteId, listId, ops);
      expect(outcomes.every((o) => o.status === 'created' && o.adopted)).toBe(true);
      const keys = ambiguous.emulator.control.listItems(ambiguous.siteId, listId).map((i) => i.fields.Key);
      expect(keys.sort()).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    } finally {
      await ambiguous.close();
    }
  });
});
