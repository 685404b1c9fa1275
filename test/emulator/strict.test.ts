/**
 * The emulator fails where SharePoint would: permissions, hidden fields, the lookup and list view
 * thresholds, internal-name truncation, the documented choice facet and ambiguous batch answers.
 */
import {
  startTestEmulator,
  type EntityShape,
  type ErrorShape,
  type ListItemShape,
  type PageShape,
  type TestEmulator,
} from './support';

describe('strict emulator', () => {
  let t: TestEmulator;
  beforeAll(async () => {
    // These tests count items and statuses exactly; ambiguous 503s have their own block below.
    t = await startTestEmulator({ batchAmbiguous503Rate: 0 });
  });
  afterAll(() => t.stop());

  async function token(body: unknown): Promise<{ status: number; token?: string }> {
    const res = await fetch(`${t.emulator.origin}/_emulator/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      dispatcher: t.dispatcher,
    } as RequestInit);
    const answer = (await res.json()) as { token?: string };
    return { status: res.status, token: answer.token };
  }

  describe('application permissions', () => {
    let listId: string;
    let items: string;
    beforeAll(async () => {
      listId = await t.createList('Guarded', [{ name: 'Qty', number: {} }]);
      items = `/sites/${t.siteId}/lists/${listId}/items`;
      await t.graph('POST', items, { body: { fields: { Title: 'one', Qty: 1 } } });
    });

    it('issues tokens through POST /_emulator/tokens and refuses unknown roles or grants without Sites.Selected', async () => {
      const issued = await token({ roles: ['Sites.Read.All'] });
      expect(issued.status).toBe(200);
      expect(issued.token).toMatch(/^emu\.app\./);
      expect((await token({ roles: ['Sites.Everything'] })).status).toBe(400);
      expect((await token({ roles: ['Sites.Read.All'], sites: { [t.siteId]: 'read' } })).status).toBe(400);
      expect((await token({ roles: ['Sites.Selected'], sites: { [t.siteId]: 'admin' } })).status).toBe(400);
    });

    it('Sites.Read.All reads and enumerates delta but every write answers 403 accessDenied', async () => {
      const reader = (await token({ roles: ['Sites.Read.All'] })).token!;
      expect((await t.graph('GET', `${items}?$expand=fields`, { token: reader })).status).toBe(200);
      expect((await t.graph('GET', `${items}/delta`, { token: reader })).status).toBe(200);
      const denied = await t.graph<ErrorShape>('POST', items, {
        token: reader,
        body: { fields: { Title: 'x' } },
      });
      expect(denied.status).toBe(403);
      expect(denied.body.error.code).toBe('accessDenied');
      expect(denied.body.error.innerError['request-id']).toEqual(expect.any(String));
      expect(t.emulator.control.listItems(t.siteId, listId)).toHaveLength(1);
    });

    it('Sites.ReadWrite.All writes items and subscribes, but creating lists and columns needs Sites.Manage.All', async () => {
      const writer = (await token({ roles: ['Sites.ReadWrite.All'] })).token!;
      expect((await t.graph('POST', items, { token: writer, body: { fields: { Title: 'w' } } })).status).toBe(
        201,
      );
      expect(
        (await t.graph('POST', `/sites/${t.siteId}/lists`, { token: writer, body: { displayName: 'No' } }))
          .status,
      ).toBe(403);
      expect(
        (
          await t.graph('POST', `/sites/${t.siteId}/lists/${listId}/columns`, {
            token: writer,
            body: { name: 'More', text: {} },
          })
        ).status,
      ).toBe(403);
      const manager = (await token({ roles: ['Sites.Manage.All'] })).token!;
      expect(
        (
          await t.graph('POST', `/sites/${t.siteId}/lists/${listId}/columns`, {
            token: manager,
            body: { name: 'More', text: {} },
          })
        ).status,
      ).toBe(201);
    });

    it('Sites.Selected grants act per site; list subscriptions are not open to Sites.Selected', async () => {
      const readOnly = (await token({ roles: ['Sites.Selected'], sites: { [t.siteId]: 'read' } })).token!;
      expect((await t.graph('GET', `${items}/1`, { token: readOnly })).status).toBe(200);
      expect(
        (await t.graph('PATCH', `${items}/1/fields`, { token: readOnly, body: { Qty: 2 } })).status,
      ).toBe(403);
      const writer = (await token({ roles: ['Sites.Selected'], sites: { [t.siteId]: 'write' } })).token!;
      expect((await t.graph('PATCH', `${items}/1/fields`, { token: writer, body: { Qty: 2 } })).status).toBe(
        200,
      );
      const noGrant = (await token({ roles: ['Sites.Selected'] })).token!;
      expect((await t.graph('GET', `${items}/1`, { token: noGrant })).status).toBe(403);
      const fullControl = (await token({ roles: ['Sites.Selected'], sites: { [t.siteId]: 'fullcontrol' } }))
        .token!;
      const subscription = await t.graph<ErrorShape>('POST', '/subscriptions', {
        token: fullControl,
        body: {
          changeType: 'updated',
          notificationUrl: 'https://127.0.0.1:9/hook',
          resource: `sites/${t.siteId}/lists/${listId}`,
          expirationDateTime: new Date(Date.now() + 3600_000).toISOString(),
          clientState: 'x',
        },
      });
      expect(subscription.status).toBe(403);
    });

    it('checks each request inside $batch on its own', async () => {
      const reader = (await token({ roles: ['Sites.Read.All'] })).token!;
      const url = `/sites/${t.siteId}/lists/${listId}/items`;
      const batch = await t.graph<{ responses: { id: string; status: number }[] }>('POST', '/$batch', {
        token: reader,
        body: {
          requests: [
            { id: 'r', method: 'GET', url: `${url}/1` },
            {
              id: 'w',
              method: 'POST',
              url,
              headers: { 'Content-Type': 'application/json' },
              body: { fields: {} },
            },
          ],
        },
      });
      expect(batch.status).toBe(200);
      const status = Object.fromEntries(batch.body.responses.map((r) => [r.id, r.status]));
      expect(status).toEqual({ r: 200, w: 403 });
    });
  });

  it('a bare $expand=fields leaves hidden columns out; selecting them by name returns them', async () => {
    const listId = await t.createList('Hidden', [
      { name: 'SecretKey', text: {}, hidden: true, indexed: true },
    ]);
    const items = `/sites/${t.siteId}/lists/${listId}/items`;
    const created = await t.graph<ListItemShape>('POST', items, {
      body: { fields: { Title: 'h', SecretKey: 'k1' } },
    });
    expect(created.body.fields!.SecretKey).toBeUndefined();
    const bare = await t.graph<ListItemShape>('GET', `${items}/${created.body.id}?$expand=fields`);
    expect(bare.body.fields!.Title).toBe('h');
    expect(bare.body.fields!.SecretKey).toBeUndefined();
    const named = await t.graph<ListItemShape>(
      'GET',
      `${items}/${created.body.id}?$expand=fields(select=SecretKey)`,
    );
    expect(named.body.fields!.SecretKey).toBe('k1');
  });

  it('refuses a collection query joining more than 12 lookup columns (Author and Editor count); a single item may', async () => {
    const people = Array.from({ length: 11 }, (_, i) => ({ name: `P${i}`, personOrGroup: {} }));
    const listId = await t.createList('Lookups', people);
    const items = `/sites/${t.siteId}/lists/${listId}/items`;
    await t.graph('POST', items, { body: { fields: { Title: 'l' } } });
    const bare = await t.graph<ErrorShape>('GET', `${items}?$expand=fields`);
    expect(bare.status).toBe(400);
    expect(bare.body.error.message).toMatch(/lookup column threshold/);
    expect((await t.graph('GET', `${items}/delta?$expand=fields`)).status).toBe(400);
    const twelve = people.map((p) => `${p.name}LookupId`).concat('AuthorLookupId');
    expect((await t.graph('GET', `${items}?$expand=fields(select=${twelve.join(',')})`)).status).toBe(200);
    const thirteen = [...twelve, 'EditorLookupId'];
    expect((await t.graph('GET', `${items}?$expand=fields(select=${thirteen.join(',')})`)).status).toBe(400);
    expect((await t.graph('GET', `${items}/1?$expand=fields`)).status).toBe(200);
  });

  it('cuts internal names to 32 characters and keeps them unique', async () => {
    const listId = await t.createList('Names');
    const long = 'Requested Completion Date Of The Work';
    const first = await t.graph<EntityShape>('POST', `/sites/${t.siteId}/lists/${listId}/columns`, {
      body: { name: long, displayName: long, text: {} },
    });
    expect(first.status).toBe(201);
    expect(first.body.name).toBe('Requested_x0020_Completion_x0020');
    const second = await t.graph<EntityShape>('POST', `/sites/${t.siteId}/lists/${listId}/columns`, {
      body: { name: `${long} Again`, displayName: 'Other', text: {} },
    });
    expect(second.body.name).toBe('Requested_x0020_Completion_x00200');
  });

  it('accepts a multi-choice column only in the documented shape (displayAs checkBoxes)', async () => {
    const listId = await t.createList('Choices');
    const columns = `/sites/${t.siteId}/lists/${listId}/columns`;
    const invented = await t.graph<ErrorShape>('POST', columns, {
      body: { name: 'Tags', choice: { choices: ['a'], allowMultipleValues: true } },
    });
    expect(invented.status).toBe(400);
    const documented = await t.graph<EntityShape>('POST', columns, {
      body: { name: 'Tags', choice: { choices: ['a'], allowTextEntry: true, displayAs: 'checkBoxes' } },
    });
    expect(documented.status).toBe(201);
    const items = `/sites/${t.siteId}/lists/${listId}/items`;
    const created = await t.graph<ListItemShape>('POST', items, {
      body: { fields: { 'Tags@odata.type': 'Collection(Edm.String)', Tags: ['a', 'b'] } },
    });
    expect(created.body.fields!.Tags).toEqual(['a', 'b']);
  });
});

describe('list view threshold', () => {
  it('refuses a $filter on a non-indexed column past 5,000 items even with the Prefer header', async () => {
    // 5,001 items are created through $batch without checking each answer: no ambiguous 503s here.
    const t = await startTestEmulator({ batchAmbiguous503Rate: 0 });
    try {
      const listId = await t.createList('Big', [
        { name: 'Plain', text: {} },
        { name: 'Keyed', text: {}, indexed: true },
      ]);
      const url = `/sites/${t.siteId}/lists/${listId}/items`;
      const prefer = { Prefer: 'HonorNonIndexedQueriesWarningMayFailRandomly' };
      const filterPlain = `${url}?$filter=${encodeURIComponent("fields/Plain eq 'p7'")}`;
      for (let start = 0; start < 5001; start += 20) {
        const requests = Array.from({ length: Math.min(20, 5001 - start) }, (_, i) => ({
          id: String(i),
          method: 'POST',
          url,
          headers: { 'Content-Type': 'application/json' },
          body: { fields: { Plain: `p${start + i}`, Keyed: `k${start + i}` } },
        }));
        await t.graph('POST', '/$batch', { body: { requests } });
        if (start === 4980) expect((await t.graph('GET', filterPlain, { headers: prefer })).status).toBe(200);
      }
      const refused = await t.graph<ErrorShape>('GET', filterPlain, { headers: prefer });
      expect(refused.status).toBe(400);
      expect(refused.body.error.code).toBe('notSupported');
      const indexed = await t.graph<PageShape>(
        'GET',
        `${url}?$filter=${encodeURIComponent("fields/Keyed eq 'k7'")}`,
      );
      expect(indexed.status).toBe(200);
      expect(indexed.body.value).toHaveLength(1);
    } finally {
      await t.stop();
    }
  }, 120_000);
});

describe('ambiguous 503 inside $batch', () => {
  it('applies the write and answers 503 when the rate says so', async () => {
    const t = await startTestEmulator({ batchAmbiguous503Rate: 1 });
    try {
      const listId = await t.createList('Ambiguous');
      const url = `/sites/${t.siteId}/lists/${listId}/items`;
      const batch = await t.graph<{ responses: { status: number }[] }>('POST', '/$batch', {
        body: {
          requests: [
            {
              id: '1',
              method: 'POST',
              url,
              headers: { 'Content-Type': 'application/json' },
              body: { fields: { Title: 'a' } },
            },
          ],
        },
      });
      expect(batch.body.responses[0].status).toBe(503);
      expect(t.emulator.control.listItems(t.siteId, listId)).toHaveLength(1);
    } finally {
      await t.stop();
    }
  });
});
