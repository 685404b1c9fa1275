import { runCli, tempDir, writeJson } from '../../cli/cliHarness';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinition, SyncDefinitionInput } from '../../../src/core/definition/schema';
import { applyDefinitions } from '../../../src/core/engine/apply';
import { provisionList } from '../../../src/core/engine/provision';
import { runPush } from '../../../src/core/engine/push';
import { ledgerListNames, previewRouteMoves } from '../../../src/core/engine/routeMoves';
import { fnv1a32 } from '../../../src/core/routing';
import { upsertDefinitions } from '../../../src/core/store/definitions';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

/** Routing (#21): provision creates every routed list; apply counts the moves a routes change makes. */
describe('routed lists: provision and the moves apply reports', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
    await h.db.pool.query('ALTER TABLE projects ADD COLUMN status text');
  });
  afterAll(async () => h.close());

  const columnsOf = async (list: string) => {
    const target = h.ctx.target();
    try {
      const resolved = await target.resolveList(h.siteId, list);
      return new Map((await target.getColumns(h.siteId, resolved.id)).map((c) => [c.name, c]));
    } finally {
      await target.close();
    }
  };

  const routed = (routes: { when?: string; list: string }[], name = 'projects'): SyncDefinitionInput => {
    const base = projectsDefinition({ name });
    return {
      ...base,
      target: { site: base.target.site, routes },
      fields: [...base.fields, { source: 'status', target: 'Status' }],
    };
  };

  it('creates every routed list with the mapped columns and the hidden key column, once', async () => {
    const def = parseDefinition(
      routed(
        [
          { when: "status == 'ACTIVE'", list: 'Tasks Active' },
          { when: "status == 'ARCHIVED'", list: 'Tasks Archive' },
          { list: 'Tasks Other' },
        ],
        'tasks',
      ),
    );
    await upsertDefinitions(h.db.pool, [def]);
    const first = await provisionList(h.ctx, 'tasks');
    expect(first.lists.map((l) => [l.list, l.listCreated])).toEqual([
      ['Tasks Active', true],
      ['Tasks Archive', true],
      ['Tasks Other', true],
    ]);
    expect(new Set(first.lists.map((l) => l.listId)).size).toBe(3);
    for (const list of ['Tasks Active', 'Tasks Archive', 'Tasks Other']) {
      const columns = await columnsOf(list);
      for (const name of ['Budget', 'Due', 'Done', 'Tags', 'Status']) expect(columns.has(name)).toBe(true);
      expect(columns.get('ArcoreKey')).toMatchObject({ hidden: true, indexed: true, type: 'text' });
    }
    const again = await provisionList(h.ctx, 'tasks');
    expect(again.lists.map((l) => [l.list, l.listCreated, l.columnsAdded])).toEqual([
      ['Tasks Active', false, []],
      ['Tasks Archive', false, []],
      ['Tasks Other', false, []],
    ]);
    expect(again.lists.map((l) => l.listId)).toEqual(first.lists.map((l) => l.listId));
  });

  it('apply counts, before anything moves, how many synced rows new routes move and between which lists', async () => {
    // Rows 1–8 are synced into one list; rows 9–10 are not synced yet and cannot move.
    const statuses = ['ACTIVE', 'ACTIVE', 'ARCHIVED', 'ARCHIVED', 'ARCHIVED', null, 'DRAFT', 'DRAFT'];
    for (const [i, status] of statuses.entries())
      await h.db.pool.query('INSERT INTO projects (id, name, status) VALUES ($1, $2, $3)', [
        i + 1,
        `P${i + 1}`,
        status,
      ]);
    await h.define({
      ...projectsDefinition(),
      fields: [...projectsDefinition().fields, { source: 'status', target: 'Status' }],
    });
    const push = await runPush(h.ctx, 'projects', { trigger: 'test' });
    expect(push).toMatchObject({ status: 'SUCCEEDED', created: 8 });
    await h.db.pool.query(
      "INSERT INTO projects (id, name, status) VALUES (9, 'P9', 'ARCHIVED'), (10, 'P10', NULL)",
    );

    const apply = async (def: SyncDefinition) =>
      applyDefinitions(h.db.pool, [def], {
        previewRouteMoves: async (before, after, stored) =>
          previewRouteMoves(
            h.db.pool,
            h.db.pool,
            stored.id,
            after,
            await ledgerListNames(h.ctx, stored.id, stored.listId, before, after),
          ),
      });

    const toRoutes = parseDefinition(
      routed([
        { when: "status == 'ACTIVE'", list: 'Projects' },
        { when: "status == 'ARCHIVED'", list: 'Archive' },
        { when: 'status is not null', list: 'Other' },
      ]),
    );
    const first = await apply(toRoutes);
    const applied = first.definitions[0];
    expect(applied.changes.map((c) => [c.kind, c.path])).toEqual([['routes-changed', 'target.routes']]);
    expect(applied.changes[0].change).toBe(
      `list "Projects" → routes status == 'ACTIVE' → "Projects"; status == 'ARCHIVED' → "Archive"; ` +
        `status is not null → "Other"`,
    );
    expect(applied.moves).toEqual({
      synced: 8,
      moving: 5,
      unrouted: 1,
      moves: [
        { from: 'Projects', to: 'Archive', rows: 3 },
        { from: 'Projects', to: 'Other', rows: 2 },
        { from: 'Projects', to: null, rows: 1 },
      ],
    });
    // Nothing moved: the items are all still in the one list.
    expect(await h.items('Projects')).toHaveLength(8);

    // Routed → routed: the ledger's list ids are named by resolving the lists (Archive does not exist yet).
    const sharded = parseDefinition(
      routed([{ when: 'hash(id) % 2 == 0', list: 'Even' }, { list: 'Projects' }]),
    );
    const second = await apply(sharded);
    const evenIds = [1, 2, 3, 4, 5, 6, 7, 8].filter((id) => fnv1a32(String(id)) % 2 === 0);
    expect(second.definitions[0].moves).toEqual({
      synced: 8,
      moving: evenIds.length,
      unrouted: 0,
      moves: evenIds.length > 0 ? [{ from: 'Projects', to: 'Even', rows: evenIds.length }] : [],
    });

    // The command prints the same count in text before anything moves.
    const dir = tempDir('arcore-route-moves-');
    const caFile = writeJson(dir, 'ca.pem', h.emulator.caCert);
    const file = writeJson(dir, 'definitions.json', {
      definitions: [routed([{ when: "status == 'DRAFT'", list: 'Drafts' }, { list: 'Projects' }])],
    });
    const env = {
      DATABASE_URL: h.db.url,
      GRAPH_BASE_URL: h.emulator.baseUrl,
      GRAPH_TOKEN: h.emulator.appToken,
      GRAPH_CA_CERT_FILE: caFile,
    };
    const printed = await runCli(['apply', file], env);
    expect(printed.stderr).toBe('');
    expect(printed.stdout).toContain(
      '    2 synced rows would move (a create and a delete each) of 8 checked:\n' +
        '    2 rows "Projects" → "Drafts"\n',
    );
    expect(printed.code).toBe(0);
    expect(await h.items('Projects')).toHaveLength(8);
  });
});
