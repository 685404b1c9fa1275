import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { DefinitionBusyError, removeDefinition } from '../../../src/core/ops';
import { UnknownDefinitionError } from '../../../src/core/store/definitions';
import { tryLockDefinition } from '../../../src/core/store/locks';
import { ensureSubscriptions, listStoredSubscriptions } from '../../../src/core/subscriptions';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

/** Answers Graph's validation handshake, so the emulator accepts subscriptions to it. */
async function receiver(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('validationToken');
    req.resume();
    req.on('end', () => {
      res.writeHead(token === null ? 202 : 200, { 'content-type': 'text/plain' });
      res.end(token ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const METADATA_TABLES = [
  'sync_ledger',
  'sync_cursors',
  'sync_runs',
  'sync_conflicts',
  'sync_failures',
  'pending_pulls',
  'graph_subscriptions',
  'field_mappings',
];

describe('remove', () => {
  let h: Harness;
  let endpoint: Awaited<ReturnType<typeof receiver>>;
  let dispatcher: Agent;

  const idOf = async (name: string) =>
    (
      await h.db.pool.query<{ id: string }>(
        'SELECT id::text AS id FROM arcore.sync_definitions WHERE name = $1',
        [name],
      )
    ).rows[0]?.id;
  const metadataCounts = async (definitionId: string) => {
    const counts: Record<string, number> = {};
    for (const t of METADATA_TABLES) {
      const { rows } = await h.db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM arcore.${t} WHERE definition_id = $1`,
        [definitionId],
      );
      counts[t] = rows[0].n;
    }
    return counts;
  };
  const graphSubscriptionIds = async () => {
    const res = await fetch(`${h.emulator.baseUrl}/subscriptions`, {
      headers: { authorization: `Bearer ${h.emulator.appToken}` },
      dispatcher,
    } as RequestInit);
    return ((await res.json()) as { value: { id: string }[] }).value.map((s) => s.id);
  };

  beforeEach(async () => {
    h = await startHarness();
    endpoint = await receiver();
    dispatcher = new Agent({ connect: { ca: h.emulator.caCert } });
    await createProjectsTable(h.db);
    await createProjectsTable(h.db, 'others');
    await h.define(projectsDefinition());
    await h.define(
      projectsDefinition(
        {
          name: 'others',
          source: { table: 'others', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
        },
        'Others',
      ),
    );
    for (const table of ['projects', 'others'])
      await h.db.pool.query(
        `INSERT INTO ${table} (id, name) SELECT i, 'n' || i FROM generate_series(1, 4) i`,
      );
    for (const name of ['projects', 'others']) {
      await runPush(h.ctx, name, { trigger: 'test' });
      await runPull(h.ctx, name, { trigger: 'test' });
    }
    const projectsId = await idOf('projects');
    await h.db.pool.query(
      `INSERT INTO arcore.sync_failures (definition_id, direction, item_key, last_error) VALUES ($1, 'PUSH', 'k', 'boom')`,
      [projectsId],
    );
    await h.db.pool.query(
      `INSERT INTO arcore.sync_conflicts (definition_id, source_identity_hash, source_identity, detected_by, policy,
         outcome, status) VALUES ($1, 'h', '{"id":1}', 'PULL', 'MANUAL', 'PARKED', 'OPEN')`,
      [projectsId],
    );
    await h.db.pool.query(`INSERT INTO arcore.pending_pulls (definition_id, reason) VALUES ($1, 'test')`, [
      projectsId,
    ]);
    const subscribed = await ensureSubscriptions(h.ctx, {
      notificationUrl: `${endpoint.url}/api/graph/notifications`,
    });
    expect(subscribed.errors).toEqual([]);
  });
  afterEach(async () => {
    await endpoint.close();
    await dispatcher.close();
    await h.close();
  });

  it('deletes the definition, all its metadata and its subscription at Graph, and leaves both sides’ data', async () => {
    const projectsId = await idOf('projects');
    const othersId = await idOf('others');
    const othersBefore = await metadataCounts(othersId);
    const rowsBefore = (await h.db.pool.query('SELECT * FROM projects ORDER BY id')).rows;
    const itemsBefore = await h.items('Projects');
    const [projectsSub] = (await listStoredSubscriptions(h.db.pool)).filter(
      (s) => s.definitionId === projectsId,
    );
    expect(await graphSubscriptionIds()).toContain(projectsSub.subscriptionId);

    const result = await removeDefinition(h.ctx, 'projects');
    expect(result).toMatchObject({
      definition: 'projects',
      removed: {
        ledger: 4,
        cursors: 2,
        runs: 2,
        conflicts: 1,
        failures: 1,
        pendingPulls: 1,
        subscriptions: 1,
      },
      subscriptionsDeleted: [projectsSub.subscriptionId],
      subscriptionsLeft: [],
    });
    expect(await idOf('projects')).toBeUndefined();
    expect(Object.values(await metadataCounts(projectsId))).toEqual(METADATA_TABLES.map(() => 0));
    expect(await graphSubscriptionIds()).not.toContain(projectsSub.subscriptionId);
    // Both sides' data and the other definition are untouched.
    expect((await h.db.pool.query('SELECT * FROM projects ORDER BY id')).rows).toEqual(rowsBefore);
    expect(await h.items('Projects')).toEqual(itemsBefore);
    expect(await metadataCounts(othersId)).toEqual(othersBefore);
    expect(othersBefore.sync_ledger).toBe(4);
  });

  it('reports a subscription Graph would not delete, and removes the metadata all the same', async () => {
    h.emulator.control.injectFault({
      method: 'DELETE',
      pathPattern: '^/subscriptions/',
      count: 10,
      status: 403,
    });
    const result = await removeDefinition(h.ctx, 'projects');
    expect(result.subscriptionsDeleted).toEqual([]);
    expect(result.subscriptionsLeft).toEqual([
      expect.objectContaining({ subscriptionId: expect.any(String), error: expect.stringContaining('403') }),
    ]);
    expect(await idOf('projects')).toBeUndefined();
    expect(await graphSubscriptionIds()).toContain(result.subscriptionsLeft[0].subscriptionId);
  });

  it('refuses while a run holds the lock, changing nothing', async () => {
    const projectsId = await idOf('projects');
    const before = await metadataCounts(projectsId);
    const lock = await tryLockDefinition(h.db.pool, projectsId);
    try {
      await expect(removeDefinition(h.ctx, 'projects')).rejects.toBeInstanceOf(DefinitionBusyError);
    } finally {
      await lock?.release();
    }
    expect(await metadataCounts(projectsId)).toEqual(before);
    expect((await removeDefinition(h.ctx, 'projects')).definition).toBe('projects');
  });

  it('fails with UnknownDefinitionError for a name that is not defined', async () => {
    await expect(removeDefinition(h.ctx, 'nope')).rejects.toBeInstanceOf(UnknownDefinitionError);
  });
});
