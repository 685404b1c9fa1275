/**
 * Found by review r24: a field mapped both ways from a column Postgres cannot write (a view's computed column, a
 * generated column). A SharePoint edit of it failed the whole item's UPDATE ("cannot update column … of view"), so
 * the other fields edited with it were parked with it, retried by every pull and never applied. Such a field is
 * push-only (docs/design.md, I9): an edit of it in SharePoint is a conflict Postgres wins, and the other edits apply.
 */
import { parseDefinition } from '../../../src/core/definition/parse';
import { validateAgainstDatabase } from '../../../src/core/definition/validateLive';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => h.close());

const sources = {
  'a view whose column is computed': {
    table: 'orders_v',
    ddl: `CREATE TABLE orders (id serial PRIMARY KEY, name text, price numeric(10,2) NOT NULL DEFAULT 1,
        qty int NOT NULL DEFAULT 1, updated_at timestamptz NOT NULL DEFAULT now());
      CREATE VIEW orders_v AS SELECT id, name, price * qty AS total, updated_at FROM orders`,
  },
  'a table whose column is generated': {
    table: 'orders',
    ddl: `CREATE TABLE orders (id serial PRIMARY KEY, name text, price numeric(10,2) NOT NULL DEFAULT 1,
        qty int NOT NULL DEFAULT 1, total numeric GENERATED ALWAYS AS (price * qty) STORED,
        updated_at timestamptz NOT NULL DEFAULT now())`,
  },
};

describe.each(Object.entries(sources))('a field mapped both ways from %s', (_, { table, ddl }) => {
  const push = () => runPush(h.ctx, 'orders', { trigger: 'test' });
  const pull = () => runPull(h.ctx, 'orders', { trigger: 'test' });
  const spEdit = async (itemId: string, fields: Record<string, unknown>) =>
    expect(
      (await h.asUser('PATCH', `/sites/${h.siteId}/lists/Orders/items/${itemId}/fields`, fields)).status,
    ).toBe(200);
  const parked = async () =>
    (await h.db.pool.query("SELECT last_error FROM arcore.sync_failures WHERE status = 'PARKED'")).rows;

  beforeEach(async () => {
    await h.db.pool.query(ddl);
    await h.db.pool.query("INSERT INTO orders (name, price, qty) VALUES ('one', 2.5, 4)");
    await h.define({
      name: 'orders',
      source: { table, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'Orders' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'total', target: 'Total' },
      ],
    });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 1 });
  });

  it('an edit of it in SharePoint is a conflict Postgres wins; the other field edited with it applies', async () => {
    const [item] = await h.items('Orders');
    await spEdit(item.id, { Title: 'renamed', Total: 99 });
    expect(await pull()).toMatchObject({ status: 'SUCCEEDED', failed: 0, conflicts: 1 });
    expect(await parked()).toEqual([]);
    expect((await h.db.pool.query('SELECT name FROM orders')).rows).toEqual([{ name: 'renamed' }]);
    const { rows } = await h.db.pool.query('SELECT reason FROM arcore.sync_conflicts');
    expect(rows[0].reason).toMatch(
      /Total \(SharePoint 99, Postgres 10\) edited in SharePoint: Postgres cannot write/,
    );
    await push();
    expect((await h.items('Orders'))[0].fields).toMatchObject({ Title: 'renamed', Total: 10 });
    expect(await push()).toMatchObject({ updated: 0, failed: 0 });
  });

  it('a new SharePoint item is inserted without it; the push gives the item the value Postgres made', async () => {
    expect(
      (
        await h.asUser('POST', `/sites/${h.siteId}/lists/Orders/items`, {
          fields: { Title: 'new', Total: 7 },
        })
      ).status,
    ).toBe(201);
    expect(await pull()).toMatchObject({ status: 'SUCCEEDED', created: 1, failed: 0 });
    expect((await h.db.pool.query('SELECT name FROM orders ORDER BY id')).rows).toEqual([
      { name: 'one' },
      { name: 'new' },
    ]);
    await push();
    const created = (await h.items('Orders')).find((i) => i.fields.Title === 'new');
    expect(created?.fields.Total).toBe(1);
  });

  it('validate and the run warn that the field is treated as PUSH_ONLY, naming the column', async () => {
    const def = parseDefinition({
      name: 'orders',
      source: { table, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'Orders' },
      fields: [{ source: 'total', target: 'Total' }],
    });
    expect((await validateAgainstDatabase(def, h.db.pool)).warnings).toContainEqual({
      definition: 'orders',
      path: 'fields[0].direction',
      message:
        '"total" is a column Postgres cannot write (computed in the view, or generated): it is synced as ' +
        'PUSH_ONLY, and an edit of it in SharePoint is a conflict Postgres wins; declare it PUSH_ONLY',
    });
    const { runId } = await push();
    const { rows } = await h.db.pool.query('SELECT details FROM arcore.sync_runs WHERE id = $1', [runId]);
    expect(rows[0].details.warnings).toEqual([
      'fields[1]: "total" is a column Postgres cannot write (computed in the view, or generated), so "Total" is ' +
        'treated as PUSH_ONLY (declared BIDIRECTIONAL): an edit of it in SharePoint is recorded as a conflict and ' +
        "Postgres's value is written back; declare it PUSH_ONLY to silence this warning",
    ]);
  });
});

describe('a view Postgres cannot write at all (over a join, no INSTEAD OF trigger)', () => {
  it("keeps its fields as declared: a SharePoint edit is parked in Postgres's words, not reverted", async () => {
    await h.db.pool.query(`CREATE TABLE customers (id int PRIMARY KEY, name text);
      CREATE TABLE orders (id int PRIMARY KEY, customer int REFERENCES customers, name text,
        updated_at timestamptz NOT NULL DEFAULT now());
      CREATE VIEW orders_v AS SELECT o.id, o.name, c.name AS customer, o.updated_at
        FROM orders o JOIN customers c ON c.id = o.customer;
      INSERT INTO customers VALUES (1, 'acme'); INSERT INTO orders (id, customer, name) VALUES (1, 1, 'one')`);
    await h.define({
      name: 'orders',
      source: { table: 'orders_v', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'Orders' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'customer', target: 'Customer' },
      ],
    });
    expect(await runPush(h.ctx, 'orders', { trigger: 'test' })).toMatchObject({ created: 1 });
    const [item] = await h.items('Orders');
    await h.asUser('PATCH', `/sites/${h.siteId}/lists/Orders/items/${item.id}/fields`, { Title: 'renamed' });
    expect(await runPull(h.ctx, 'orders', { trigger: 'test' })).toMatchObject({ failed: 1, conflicts: 0 });
    const { rows } = await h.db.pool.query(
      "SELECT last_error FROM arcore.sync_failures WHERE status = 'PARKED'",
    );
    expect(rows).toEqual([{ last_error: expect.stringMatching(/cannot update view "orders_v"/) }]);
    await runPush(h.ctx, 'orders', { trigger: 'test' });
    expect((await h.items('Orders'))[0].fields.Title).toBe('renamed');
  });
});
