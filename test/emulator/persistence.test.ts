import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../../src/emulator';
import { STATE_FILE } from '../../src/emulator/persistence';
import {
  DEMO_SITE,
  startReceiver,
  startTestEmulator,
  type EntityShape,
  type ListItemShape,
  type PageShape,
} from './support';

describe('persistence', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'emu-state-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keeps lists, items, ids, tokens, subscriptions, delta positions, the recycle bin and the certificate across a restart', async () => {
    const receiver = await startReceiver();
    try {
      const first = await startTestEmulator({ stateDir: dir, persist: true });
      const listId = await first.createList('Durable', [{ name: 'Qty', number: {} }]);
      const items = `/sites/${first.siteId}/lists/${listId}/items`;
      for (const qty of [1, 2, 3])
        await first.graph('POST', items, { body: { fields: { Title: `q${qty}`, Qty: qty } } });
      await first.graph('DELETE', `${items}/3`);
      const delta = await first.graph<PageShape>('GET', `${items}/delta?token=latest`);
      const subscription = await first.graph<EntityShape>('POST', '/subscriptions', {
        body: {
          changeType: 'updated',
          notificationUrl: receiver.url,
          resource: `sites/${first.siteId}/lists/${listId}`,
          expirationDateTime: new Date(Date.now() + 600_000).toISOString(),
        },
      });
      const appToken = first.emulator.appToken;
      const aliceToken = first.emulator.userToken('alice');
      const caCert = first.emulator.caCert;
      await first.stop();

      const second = await startTestEmulator({ stateDir: dir, persist: true });
      try {
        expect(second.emulator.appToken).toBe(appToken);
        expect(second.emulator.userToken('alice')).toBe(aliceToken);
        expect(second.emulator.caCert).toBe(caCert);
        const page = await second.graph<PageShape>('GET', `${items}?$expand=fields`);
        expect(page.body.value.map((i) => [i.id, i.fields!.Qty])).toEqual([
          ['1', 1],
          ['2', 2],
        ]);
        const created = await second.graph<ListItemShape>('POST', items, {
          body: { fields: { Title: 'after restart' } },
        });
        expect(created.body.id).toBe('4');
        await second.graph('PATCH', `${items}/1/fields`, { body: { Qty: 10 } });
        // The restarted emulator listens on another free port; the token itself stays valid.
        const link = delta.body['@odata.deltaLink']!.replace(first.emulator.origin, second.emulator.origin);
        const changes = await second.graph<PageShape>('GET', link);
        expect(changes.status).toBe(200);
        // A repeated (stale) occurrence may precede the latest one: compare the distinct ids.
        expect([...new Set(changes.body.value.map((i) => i.id))].sort()).toEqual(['1', '4']);
        expect((await second.graph('GET', `/subscriptions/${subscription.body.id}`)).status).toBe(200);
        // The deleted item is still in the recycle bin: a user restores it under its id, with its values.
        const restored = await fetch(`${second.emulator.origin}/_emulator/recycle-bin/restore`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ siteId: second.siteId, list: listId, itemId: '3', user: 'alice' }),
          dispatcher: second.dispatcher,
        } as RequestInit);
        expect(restored.status).toBe(204);
        const back = await second.graph<ListItemShape>('GET', `${items}/3?$expand=fields`);
        expect(back.body.fields).toMatchObject({ Title: 'q3', Qty: 3 });
      } finally {
        await second.stop();
      }
    } finally {
      await receiver.close();
    }
  });

  it('saves shortly after a change, before stop', async () => {
    const t = await startTestEmulator({ stateDir: dir, persist: true });
    try {
      await t.createList('Debounced');
      await new Promise((resolve) => setTimeout(resolve, 800));
      const saved = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as {
        sites: { lists: { displayName: string }[] }[];
      };
      expect(saved.sites[0].lists.map((l) => l.displayName)).toEqual(['Debounced']);
    } finally {
      await t.stop();
    }
  });

  it('refuses to start on a state file that is not a saved emulator state', async () => {
    await writeFile(join(dir, STATE_FILE), JSON.stringify({ version: 1, sites: 'nope' }));
    await expect(startEmulator({ stateDir: dir, persist: true })).rejects.toThrow(
      /not a saved emulator state/,
    );
    await writeFile(join(dir, STATE_FILE), '{broken');
    await expect(startEmulator({ stateDir: dir, persist: true })).rejects.toThrow(/not valid JSON/);
  });

  it('keeps state in memory only without persist', async () => {
    const first = await startTestEmulator({ stateDir: dir });
    await first.createList('Ephemeral');
    await first.stop();
    const second = await startTestEmulator({ stateDir: dir });
    try {
      const lists = await second.graph<PageShape<EntityShape>>('GET', `/sites/${second.siteId}/lists`);
      expect(lists.body.value).toEqual([]);
    } finally {
      await second.stop();
    }
  });

  it('keeps serving a persisted site that a restart does not name, so its lists are not dropped', async () => {
    const extra = 'fabrikam.sharepoint.com:/sites/sales';
    const first = await startTestEmulator({ stateDir: dir, persist: true, sites: [DEMO_SITE, extra] });
    const extraId = first.emulator.control.getSiteId(extra);
    const created = await first.graph<EntityShape>('POST', `/sites/${extraId}/lists`, {
      body: { displayName: 'Kept' },
    });
    expect(created.status).toBe(201);
    await first.stop();

    const second = await startTestEmulator({ stateDir: dir, persist: true });
    try {
      expect(second.emulator.control.getSiteId(extra)).toBe(extraId);
      expect(second.emulator.sites).toEqual([DEMO_SITE, extra]);
      const lists = await second.graph<PageShape<EntityShape>>('GET', `/sites/${extraId}/lists`);
      expect(lists.status).toBe(200);
      expect(lists.body.value.map((l) => l.id)).toEqual([created.body.id]);
    } finally {
      await second.stop();
    }
  });
});
