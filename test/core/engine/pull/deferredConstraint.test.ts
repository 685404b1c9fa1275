import { runBackfill } from '../../../../src/core/engine/backfill';
import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * A pulled value a DEFERRABLE INITIALLY DEFERRED constraint refuses (docs/design.md, I12: a row Postgres refuses is
 * parked with Postgres's message, the rest of the page is applied). Django declares every foreign key so. Such a
 * constraint is checked only at COMMIT, after every item's savepoint was released: the page's commit failed, its
 * valid edits were lost with it, and every later pull met the same page again, stuck for good. The page's source
 * transaction now checks deferrable constraints statement by statement (SET CONSTRAINTS ALL IMMEDIATE), so the
 * refusal surfaces in the item's own write and only that item is parked.
 */
describe('I12 a deferred constraint refusing one pulled value', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  it('parks the refused item with the constraint named and applies the others of its page', async () => {
    await h.db.pool.query(`CREATE TABLE cats (id int PRIMARY KEY);
      INSERT INTO cats VALUES (1), (2);
      CREATE TABLE things (id int PRIMARY KEY, name text,
        cat int REFERENCES cats(id) DEFERRABLE INITIALLY DEFERRED,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO things (id, name, cat) VALUES (1, 'one', 1), (2, 'two', 1), (3, 'three', 1)`);
    await h.define({
      name: 'things',
      source: { table: 'things', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'things' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'cat', target: 'Cat' },
      ],
    });
    expect(await runPush(h.ctx, 'things', { trigger: 'test' })).toMatchObject({ created: 3 });
    await runPull(h.ctx, 'things', { trigger: 'test' });
    const items = await h.items('things');
    const byTitle = new Map(items.map((i) => [String(i.fields.Title), i.id]));
    const patch = (id: string, fields: object) =>
      h.asUser('PATCH', `/sites/${h.siteId}/lists/things/items/${id}/fields`, fields);
    expect((await patch(byTitle.get('one') as string, { Title: 'one edited' })).status).toBe(200);
    expect((await patch(byTitle.get('two') as string, { Cat: 999 })).status).toBe(200);
    expect((await patch(byTitle.get('three') as string, { Title: 'three edited' })).status).toBe(200);

    const first = await runPull(h.ctx, 'things', { trigger: 'test' });
    // The parked item is retried by the next pull and refused again, alone: the run is not stuck on the page.
    const second = await runPull(h.ctx, 'things', { trigger: 'test' });
    const { rows } = await h.db.pool.query<{ id: number; name: string; cat: number }>(
      'SELECT id, name, cat FROM things ORDER BY id',
    );
    const parked = await h.db.pool.query<{ sp_item_id: string; last_error: string }>(
      "SELECT sp_item_id, last_error FROM arcore.sync_failures WHERE status = 'PARKED' AND direction = 'PULL'",
    );
    expect({
      first: [first.status, first.updated, first.failed],
      second: [second.status, second.failed],
      rows,
      parked: parked.rows.map((r) => r.sp_item_id),
    }).toEqual({
      first: ['PARTIAL', 2, 1],
      second: ['PARTIAL', 1],
      rows: [
        { id: 1, name: 'one edited', cat: 1 },
        { id: 2, name: 'two', cat: 1 },
        { id: 3, name: 'three edited', cat: 1 },
      ],
      parked: [byTitle.get('two')],
    });
    expect(parked.rows[0].last_error).toContain('violates foreign key constraint "things_cat_fkey"');

    // Fixed in SharePoint, the item lands and its park is settled.
    expect((await patch(byTitle.get('two') as string, { Cat: 2 })).status).toBe(200);
    expect(await runPull(h.ctx, 'things', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      failed: 0,
    });
    expect((await h.db.pool.query('SELECT cat FROM things WHERE id = 2')).rows).toEqual([{ cat: 2 }]);
  });

  it('applies an item whose reference another item of the same page makes good, in either order, and a parent deleted before its child', async () => {
    // One page: a new item (c), an existing row pointed at it (b), a new item pointing at one created after it
    // (e → f), and an item deleted before the item that references it (a ← g). Each is refused where it stands
    // in the page; once the page's other writes are in, each is good.
    await h.db.pool.query(`CREATE TABLE staff (code text PRIMARY KEY, name text,
        boss text REFERENCES staff(code) DEFERRABLE INITIALLY DEFERRED,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO staff (code, name, boss) VALUES ('a', 'Ann', NULL), ('b', 'Bob', NULL), ('g', 'Gus', 'a')`);
    await h.define({
      name: 'staff',
      source: { table: 'staff', key: ['code'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'staff' },
      fields: [
        { source: 'code', target: 'Code' },
        { source: 'name', target: 'Title' },
        { source: 'boss', target: 'Boss' },
      ],
    });
    expect(await runPush(h.ctx, 'staff', { trigger: 'test' })).toMatchObject({ created: 3 });
    await runPull(h.ctx, 'staff', { trigger: 'test' });
    const byCode = new Map((await h.items('staff')).map((i) => [String(i.fields.Code), i.id]));
    const base = `/sites/${h.siteId}/lists/staff/items`;
    const post = async (fields: object) =>
      expect((await h.asUser('POST', base, { fields })).status).toBe(201);
    const patch = async (code: string, fields: object) =>
      expect((await h.asUser('PATCH', `${base}/${byCode.get(code)}/fields`, fields)).status).toBe(200);
    await post({ Code: 'c', Title: 'Cat' });
    await patch('b', { Boss: 'c' });
    await post({ Code: 'e', Title: 'Eve', Boss: 'f' });
    await post({ Code: 'f', Title: 'Fay' });
    expect((await h.asUser('DELETE', `${base}/${byCode.get('a')}`)).status).toBe(204);
    expect((await h.asUser('DELETE', `${base}/${byCode.get('g')}`)).status).toBe(204);

    const pull = await runPull(h.ctx, 'staff', { trigger: 'test' });
    const { rows } = await h.db.pool.query('SELECT code, name, boss FROM staff ORDER BY code');
    const parked = await h.db.pool.query(
      "SELECT last_error FROM arcore.sync_failures WHERE status = 'PARKED' AND direction = 'PULL'",
    );
    expect({
      pull: [pull.status, pull.created, pull.updated, pull.deleted, pull.failed],
      rows,
      parked: parked.rows,
    }).toEqual({
      pull: ['SUCCEEDED', 3, 1, 2, 0],
      rows: [
        { code: 'b', name: 'Bob', boss: 'c' },
        { code: 'c', name: 'Cat', boss: null },
        { code: 'e', name: 'Eve', boss: 'f' },
        { code: 'f', name: 'Fay', boss: null },
      ],
      parked: [],
    });
  });

  it('a pull-direction backfill fails only the refused row, as the pull does (same per-row savepoints)', async () => {
    await h.db.pool.query(`CREATE TABLE tools (id int PRIMARY KEY, name text,
        cat int REFERENCES cats(id) DEFERRABLE INITIALLY DEFERRED,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO tools (id, name, cat) VALUES (1, 'one', 1), (2, 'two', 1)`);
    await h.define({
      name: 'tools',
      source: { table: 'tools', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'tools' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'cat', target: 'Cat' },
      ],
    });
    expect(await runPush(h.ctx, 'tools', { trigger: 'test' })).toMatchObject({ created: 2 });
    await runPull(h.ctx, 'tools', { trigger: 'test' });
    const items = await h.items('tools');
    const byTitle = new Map(items.map((i) => [String(i.fields.Title), i.id]));
    const patch = (id: string, fields: object) =>
      h.asUser('PATCH', `/sites/${h.siteId}/lists/tools/items/${id}/fields`, fields);
    expect((await patch(byTitle.get('one') as string, { Cat: 2 })).status).toBe(200);
    expect((await patch(byTitle.get('two') as string, { Cat: 999 })).status).toBe(200);

    const summary = await runBackfill(h.ctx, 'tools', {
      fields: ['cat'],
      direction: 'pull',
      trigger: 'test',
    });
    expect(summary).toMatchObject({ updated: 1, failed: 1 });
    const { rows } = await h.db.pool.query('SELECT id, cat FROM tools ORDER BY id');
    expect(rows).toEqual([
      { id: 1, cat: 2 },
      { id: 2, cat: 1 },
    ]);
  });
});
