import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { parseDefinition } from '../../../src/core/definition/parse';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { resolveConflict } from '../../../src/core/engine/resolve';
import { upsertDefinitions } from '../../../src/core/store/definitions';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import { createSplitsTable, createUnfitSouth, itemsWithKey, spEdit } from '../../support/routed';

/**
 * routing.ts planLists/writeProblem: a routed list that does not fit the mapping gets no create or update; the rows
 * routed to it wait (parked) naming the list's problem. 68fa7e1 makes resolve re-create a gone item "where the row
 * routes" (createIn) through target.writeItems directly, without writeProblem.
 */
describe('resolve of a routed row whose route is a list that does not fit the mapping (docs/design.md, I6)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  const splitDefinition = (routes: { when?: string; list: string }[]): SyncDefinitionInput => ({
    name: 'split',
    source: { table: 'splits', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
    target: { site: SITE, routes },
    conflictPolicy: 'MANUAL',
    fields: [
      { source: 'title', target: 'Title' },
      { source: 'region', target: 'Region' },
    ],
  });

  it('re-creates the item where it was, never in the unfit list, whose problem the push then names', async () => {
    await createSplitsTable(h);
    await h.define(splitDefinition([{ list: 'North' }]));
    await createUnfitSouth(h); // South lacks the Region column: it has a list problem
    await upsertDefinitions(h.db.pool, [
      parseDefinition(splitDefinition([{ when: "region == 'S'", list: 'South' }, { list: 'North' }])),
    ]);
    await h.db.pool.query("INSERT INTO splits (id, title, region) VALUES (1, 'n1', 'N')");
    expect(await runPush(h.ctx, 'split', { trigger: 'test' })).toMatchObject({ created: 1 });
    await runPull(h.ctx, 'split', { trigger: 'test' });
    const { rows } = await h.db.pool.query<{ h: string; item: string; d: string }>(
      `SELECT l.source_identity_hash AS h, l.sp_item_id AS item, l.definition_id AS d FROM arcore.sync_ledger l`,
    );
    const { h: hash, item, d: definitionId } = rows[0];
    await h.db.pool.query("UPDATE splits SET title = 'pg' WHERE id = 1");
    await spEdit(h, 'North', item, { Title: 'sp' });
    expect((await runPull(h.ctx, 'split', { trigger: 'test' })).conflicts).toBe(1);
    const conflictId = (
      await h.db.pool.query<{ id: string }>(
        "SELECT id FROM arcore.sync_conflicts WHERE definition_id = $1 AND status = 'OPEN'",
        [definitionId],
      )
    ).rows[0].id;
    // The item is deleted in SharePoint, and the row now routes to South (which does not fit the mapping).
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/North/items/${item}`)).status).toBe(204);
    await h.db.pool.query("UPDATE splits SET region = 'S' WHERE id = 1");

    // South gets no create, as in a push: the item is re-created in North, where it was; the next push's move
    // then parks the row naming South's problem, and nothing reaches South until it is provisioned.
    await resolveConflict(h.ctx, conflictId, { take: 'postgres' }, 'test');
    expect((await itemsWithKey(h, ['North', 'South'], hash)).map((i) => [i.list, i.fields.Title])).toEqual([
      ['North', 'pg'],
    ]);
    const s = await runPush(h.ctx, 'split', { trigger: 'test' });
    expect(s).toMatchObject({ moved: 0, created: 0 });
    const parked = await h.db.pool.query<{ e: string }>(
      "SELECT last_error AS e FROM arcore.sync_failures WHERE item_key = $1 AND status = 'PARKED'",
      [hash],
    );
    expect(parked.rows[0]?.e).toMatch(/South/);
    expect(await itemsWithKey(h, ['South'], hash)).toEqual([]);
  });
});
