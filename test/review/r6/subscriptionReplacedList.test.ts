/**
 * r6: I15 and the change-notification subscription. The definition's list is deleted and re-created under the same
 * name (restored from an export) and the operator relinks, as the run's error tells them to. Subscription upkeep
 * must then subscribe to the current list; the old list's subscription is gone with its list, so until it does,
 * no SharePoint edit of the current list asks for a pull.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { provisionList } from '../../../src/core/engine/provision';
import { relinkDefinition } from '../../../src/core/engine/relink';
import { runPush } from '../../../src/core/engine/push';
import { ensureSubscriptions, listStoredSubscriptions } from '../../../src/core/subscriptions';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

/** Answers Graph's validation handshake; keeps nothing else. */
async function receiver(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('validationToken');
    req.resume();
    req.on('end', () => {
      if (token !== null) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(token);
        return;
      }
      res.writeHead(202);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let h: Harness;
let endpoint: Awaited<ReturnType<typeof receiver>>;
beforeAll(async () => {
  h = await startHarness({ notificationDelayMs: 0 });
  endpoint = await receiver();
});
afterAll(async () => {
  await endpoint.close();
  await h.close();
});

describe('I15 subscription of a replaced list', () => {
  it('after relink, upkeep subscribes to the list the definition now syncs with', async () => {
    const urls = { notificationUrl: `${endpoint.url}/api/graph/notifications?code=k` };
    await createProjectsTable(h.db);
    await h.define(projectsDefinition({ fields: [{ source: 'name', target: 'Title' }] }));
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'a')");
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    expect((await ensureSubscriptions(h.ctx, urls)).actions.map((a) => a.action)).toEqual(['created']);

    // The list is deleted and re-created with the same name, its item restored from an export.
    const [item] = await h.items('Projects');
    const { body } = await h.asUser('GET', `/sites/${h.siteId}/lists/Projects`);
    const oldListId = (body as { id: string }).id;
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${oldListId}`)).status).toBe(204);
    await provisionList(h.ctx, 'projects');
    const restored = await h.asUser('POST', `/sites/${h.siteId}/lists/Projects/items`, {
      fields: { ArcoreKey: item.fields.ArcoreKey, Title: 'a' },
    });
    expect(restored.status).toBe(201);
    const relinked = await relinkDefinition(h.ctx, 'projects');
    expect(relinked.listId).not.toBe(oldListId);

    await ensureSubscriptions(h.ctx, urls);
    const live = (await listStoredSubscriptions(h.db.pool)).filter((s) => s.state !== 'REMOVED');
    expect(live.map((s) => s.listId)).toEqual([relinked.listId]);
  });
});
