import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * A new SharePoint item holding a value with no canonical form for its column (2.5 in a number column mapped to an
 * integer column, docs/design.md I2), and a copy of a synced item (its hidden key, I7) holding one. Both were read
 * for the whole page before any item's savepoint (the claims of kept rows read every new item's row values, and a
 * copy's conflict record read its values), so the error failed the page and every later pull failed on it again.
 * Now such an item is parked on its own with a message naming the field, the value and the next step, the page's
 * other items land (I12), and a copy is still recorded as a copy.
 */
describe('I12 a new item with a value its column cannot take', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  const parked = async (definition: string) =>
    (
      await h.db.pool.query<{ sp_item_id: string; last_error: string }>(
        `SELECT f.sp_item_id, f.last_error FROM arcore.sync_failures f
           JOIN arcore.sync_definitions d ON d.id = f.definition_id
          WHERE d.name = $1 AND f.status = 'PARKED' AND f.direction = 'PULL'`,
        [definition],
      )
    ).rows;

  it('parks that item with the field, the value and the next step; the others are inserted', async () => {
    await h.db.pool.query(`CREATE TABLE stock (id serial PRIMARY KEY, name text, qty int,
        updated_at timestamptz NOT NULL DEFAULT now())`);
    await h.define({
      name: 'stock',
      source: { table: 'stock', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'stock' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'qty', target: 'Qty' },
      ],
    });
    const base = `/sites/${h.siteId}/lists/stock/items`;
    const ids: string[] = [];
    for (const fields of [
      { Title: 'a', Qty: 1 },
      { Title: 'b', Qty: 2.5 },
      { Title: 'c', Qty: 3 },
    ]) {
      const res = await h.asUser('POST', base, { fields });
      expect(res.status).toBe(201);
      ids.push((res.body as { id: string }).id);
    }

    const first = await runPull(h.ctx, 'stock', { trigger: 'test' });
    // Its retry meets the same value and parks it again; the run is not stuck on the page.
    const second = await runPull(h.ctx, 'stock', { trigger: 'test' });
    const { rows } = await h.db.pool.query<{ name: string; qty: number }>(
      'SELECT name, qty FROM stock ORDER BY name',
    );
    const failures = await parked('stock');
    expect({
      first: [first.status, first.error, first.created, first.failed],
      second: [second.status, second.error, second.failed],
      rows,
      parked: failures.map((f) => f.sp_item_id),
    }).toEqual({
      first: ['PARTIAL', null, 2, 1],
      second: ['PARTIAL', null, 1],
      rows: [
        { name: 'a', qty: 1 },
        { name: 'c', qty: 3 },
      ],
      parked: [ids[1]],
    });
    expect(failures[0].last_error).toBe(
      `item ${ids[1]}: field Qty: invalid integer value 2.5: not an integer within ±2^53. Next step: change Qty of ` +
        `item ${ids[1]} in SharePoint to a value Postgres column qty can hold (integer); the item is retried by the next pulls`,
    );

    // Corrected in SharePoint, the item is inserted by the next pull and its park settled.
    expect((await h.asUser('PATCH', `${base}/${ids[1]}/fields`, { Qty: 2 })).status).toBe(200);
    expect(await runPull(h.ctx, 'stock', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      created: 1,
    });
    expect((await h.db.pool.query("SELECT qty FROM stock WHERE name = 'b'")).rows).toEqual([{ qty: 2 }]);
    expect(await parked('stock')).toEqual([]);
  });

  it('a copy of a synced item (its hidden key) with such a value is recorded as a copy; the page goes on', async () => {
    await h.db.pool.query(`CREATE TABLE stock2 (id int PRIMARY KEY, name text, qty int,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO stock2 (id, name, qty) VALUES (1, 'one', 1), (2, 'two', 2)`);
    await h.define({
      name: 'stock2',
      source: { table: 'stock2', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'stock2' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'qty', target: 'Qty' },
      ],
    });
    expect(await runPush(h.ctx, 'stock2', { trigger: 'test' })).toMatchObject({ created: 2 });
    await runPull(h.ctx, 'stock2', { trigger: 'test' });
    const items = await h.items('stock2');
    const one = items.find((i) => i.fields.Title === 'one') as (typeof items)[number];
    const two = items.find((i) => i.fields.Title === 'two') as (typeof items)[number];
    // A user copies item one (the copy carries its hidden key) and types 1.5; item two is edited validly.
    const base = `/sites/${h.siteId}/lists/stock2/items`;
    const copy = await h.asUser('POST', base, {
      fields: { Title: 'one copy', Qty: 1.5, ArcoreKey: one.fields.ArcoreKey },
    });
    expect(copy.status).toBe(201);
    const copyId = (copy.body as { id: string }).id;
    expect((await h.asUser('PATCH', `${base}/${two.id}/fields`, { Title: 'two edited' })).status).toBe(200);

    const pull = await runPull(h.ctx, 'stock2', { trigger: 'test' });
    const { rows } = await h.db.pool.query<{ name: string }>('SELECT name FROM stock2 ORDER BY id');
    expect({
      status: [pull.status, pull.error, pull.updated, pull.conflicts],
      rows: rows.map((r) => r.name),
    }).toEqual({
      status: ['SUCCEEDED', null, 1, 1],
      rows: ['one', 'two edited'],
    });
    const conflicts = await h.db.pool.query<{
      kind: string;
      sp_item_id: string;
      reason: string;
      sharepoint_values: object;
    }>("SELECT kind, sp_item_id, reason, sharepoint_values FROM arcore.sync_conflicts WHERE status = 'OPEN'");
    expect(conflicts.rows).toHaveLength(1);
    expect(conflicts.rows[0]).toMatchObject({
      kind: 'COPY',
      sp_item_id: copyId,
      // The values it holds that have a canonical form; the one that has none is named in the reason.
      sharepoint_values: { Title: 'one copy' },
    });
    expect(conflicts.rows[0].reason).toContain(
      `carries the hidden key (ArcoreKey) of the row paired with item ${one.id}`,
    );
    expect(conflicts.rows[0].reason).toContain('(its field Qty: invalid integer value 1.5');
    expect((await parked('stock2')).map((f) => f.sp_item_id)).toEqual([copyId]);
  });
});
