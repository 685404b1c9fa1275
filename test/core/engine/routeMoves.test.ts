import { runCli, tempDir, writeJson } from '../../cli/cliHarness';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinition, SyncDefinitionInput } from '../../../src/core/definition/schema';
import { applyDefinitions } from '../../../src/core/engine/apply';
import { provisionList } from '../../../src/core/engine/provision';
import { runPush } from '../../../src/core/engine/push';
import { ledgerListNames, previewRouteMoves } from '../../../src/core/engine/routeMoves';
import { fnv1a32 } from '../../../src/core/routing';
import { upsertDefinitions } from '../../../src/core/store/definitions';
import { runBackfill } from '../../../src/core/engine/backfill/run';
import { describeRouteMoves } from '../../../src/core/routing/moves';
import {
  createProjectsTable,
  projectsDefinition,
  SITE,
  startHarness,
  type Harness,
} from '../../support/engineHarness';
import {
  checkedRun,
  defineRoutedTitles,
  definitionListId,
  ledgerPair,
  whereRouted,
} from '../../support/routed';

/**
 * Routing (#21): provision creates every routed list; apply counts the moves a routes change makes, and names apart
 * the rows held without an item (ITEM_DELETED), which do not move.
 */
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

  /** `apply` of `def` as the CLI applies it: with the preview of the moves its routes make. */
  const applyPreviewing = (def: SyncDefinition) =>
    applyDefinitions(h.db.pool, [def], {
      previewRouteMoves: async (before, after, stored) =>
        previewRouteMoves(
          h.db.pool,
          h.db.pool,
          stored,
          after,
          await ledgerListNames(h.ctx, stored.listId, before, after),
        ),
    });

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

    const apply = applyPreviewing;

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
      itemDeleted: 0,
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
      itemDeleted: 0,
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

  it('a row kept by deletes.pull IGNORE is held, not moved: the preview says so, and full_resync re-creates its item where it routes now', async () => {
    await defineRoutedTitles(h, 'kept', 'KeptOpen', 'KeptClosed', {
      deletes: { push: 'PROPAGATE', pull: 'IGNORE' },
    });
    await h.db.pool.query(
      "INSERT INTO kept (id, title, status) VALUES (1, 'one', 'OPEN'), (2, 'two', 'OPEN')",
    );
    expect(await checkedRun(h, 'push', 'kept')).toMatchObject({ created: 2 });
    await checkedRun(h, 'pull', 'kept');
    const one = await ledgerPair(h, 'kept', 1);
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/KeptOpen/items/${one.itemId}`)).status).toBe(
      204,
    );
    await checkedRun(h, 'pull', 'kept');

    // OPEN rows now go to a new list; KeptOpen is no longer routed to. Row 2 moves; row 1 has no item to move.
    const rerouted = parseDefinition({
      name: 'kept',
      source: {
        table: 'kept',
        key: ['id'],
        cursor: { type: 'TIMESTAMP', column: 'updated_at' },
        overlapSeconds: 0,
      },
      target: {
        site: SITE,
        routes: [{ when: "status == 'OPEN'", list: 'KeptArchive' }, { list: 'KeptClosed' }],
      },
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'status', target: 'Status' },
      ],
      deletes: { push: 'PROPAGATE', pull: 'IGNORE' },
    });
    const applied = await applyPreviewing(rerouted);
    const moves = applied.definitions[0].moves!;
    expect(moves).toEqual({
      synced: 1,
      moving: 1,
      unrouted: 0,
      itemDeleted: 1,
      moves: [{ from: 'KeptOpen', to: 'KeptArchive', rows: 1 }],
    });
    expect(describeRouteMoves(moves)).toEqual([
      '1 synced row would move (a create and a delete each) of 1 checked:',
      '1 row "KeptOpen" → "KeptArchive"',
      '1 row whose item was deleted in SharePoint (kept by deletes.pull IGNORE) is held, not moved: it has no ' +
        'item; it follows its new route without one, and "backfill --strategy full_resync" re-creates its item there',
    ]);

    await provisionList(h.ctx, 'kept');
    expect(await checkedRun(h, 'push', 'kept')).toMatchObject({ moved: 1, created: 0, deleted: 0 });
    await checkedRun(h, 'pull', 'kept');
    expect(await whereRouted(h, 'KeptArchive', 'KeptOpen', one.hash)).toEqual([]);
    const held = await ledgerPair(h, 'kept', 1);
    expect(held).toMatchObject({
      itemId: null,
      listId: await definitionListId(h, one.definitionId, 'KeptArchive'),
    });

    // The next step the preview names: the item comes back in the list the row routes to now.
    const resync = await runBackfill(h.ctx, 'kept', {
      fields: ['Title'],
      strategy: 'full_resync',
      trigger: 'test',
    });
    expect(resync.error).toBeNull();
    expect(await whereRouted(h, 'KeptArchive', 'KeptOpen', one.hash)).toEqual([
      { list: 'Open', title: 'one' },
    ]);
    expect(await checkedRun(h, 'push', 'kept')).toMatchObject({ created: 0, moved: 0 });

    // The same lists named by their ids (a list may be named by id): nothing moves, and the preview says so.
    const archiveId = await definitionListId(h, one.definitionId, 'KeptArchive');
    const byId = parseDefinition({
      ...rerouted,
      target: {
        ...rerouted.target,
        routes: [{ when: "status == 'OPEN'", list: archiveId as string }, { list: 'KeptClosed' }],
      },
    });
    const renamed = await applyPreviewing(byId);
    expect(renamed.definitions[0].moves).toMatchObject({ moving: 0, unrouted: 0, moves: [] });
    expect(await checkedRun(h, 'push', 'kept')).toMatchObject({ created: 0, moved: 0 });
  });
});
