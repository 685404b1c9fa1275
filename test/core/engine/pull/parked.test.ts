import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { applyDefinitions } from '../../../../src/core/engine/apply';
import { parseDefinition } from '../../../../src/core/definition/parse';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';
import { checkedRun, defineRoutedTitles, ledgerPair, spEdit, whereRouted } from '../../../support/routed';

/**
 * I12: a SharePoint edit its Postgres column cannot hold parks that item alone, with a message naming the item, the
 * column and the next step. Postgres's own words for a value too long for varchar(n) ("value too long for type
 * character varying(5)") or too large for numeric(p, s) ("numeric field overflow") name no column, and were all the
 * parked item said: the operator had to guess which of the item's values to change.
 */
describe('I12 a pulled value Postgres cannot hold', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('parks that item naming the column, the value and the next step; the rest of the page is applied', async () => {
    await h.db.pool
      .query(`CREATE TABLE codes (id int PRIMARY KEY, name text CHECK (name <> 'bad'), code varchar(5),
      amount numeric(5,2), updated_at timestamptz NOT NULL DEFAULT now())`);
    await h.define({
      name: 'codes',
      source: { table: 'codes', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'Codes' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code' },
        { source: 'amount', target: 'Amount' },
      ],
    });
    await h.db.pool.query(`INSERT INTO codes (id, name, code, amount)
      VALUES (1, 'a', 'A1', 1), (2, 'b', 'B1', 2), (3, 'c', 'C1', 3), (4, 'd', 'D1', 4)`);
    expect(await runPush(h.ctx, 'codes', { trigger: 'test' })).toMatchObject({ created: 4, failed: 0 });
    const ids = new Map((await h.items('Codes')).map((i) => [String(i.fields.Title), i.id]));
    const edit = async (title: string, fields: Record<string, unknown>) => {
      const path = `/sites/${h.siteId}/lists/Codes/items/${ids.get(title)}/fields`;
      expect((await h.asUser('PATCH', path, fields)).status).toBe(200);
    };
    await edit('a', { Code: 'TOOLONG' });
    await edit('b', { Title: 'b renamed' });
    await edit('c', { Amount: 999.995 });
    await edit('d', { Title: 'bad' });

    expect(await runPull(h.ctx, 'codes', { trigger: 'test' })).toMatchObject({ updated: 1, failed: 3 });
    const { rows } = await h.db.pool.query<{ sp_item_id: string; last_error: string }>(
      "SELECT sp_item_id, last_error FROM arcore.sync_failures WHERE status = 'PARKED' AND direction = 'PULL'",
    );
    const errors = new Map(rows.map((r) => [r.sp_item_id, r.last_error]));
    const [a, c, d] = ['a', 'c', 'd'].map((t) => ids.get(t) as string);
    expect(Object.fromEntries(errors)).toEqual({
      [a]:
        `item ${a}: field code: invalid text value "TOOLONG": 7 characters, more than column code (varchar(5)) ` +
        `holds. Next step: change Code of item ${a} in SharePoint to a value Postgres column code can hold (text); ` +
        'the item is retried by the next pulls',
      [c]:
        `item ${c}: field amount: invalid number value 999.995: out of range for column amount (numeric(5,2)): it ` +
        `holds at most 3 digits before the point. Next step: change Amount of item ${c} in SharePoint to a value ` +
        'Postgres column amount can hold (number); the item is retried by the next pulls',
      [d]: expect.stringMatching(
        new RegExp(
          `^item ${d}: .*violates check constraint "codes_name_check".*Next step: change item ${d} in SharePoint ` +
            'to a value check constraint "codes_name_check" accepts, or change the constraint',
        ),
      ),
    });
    const { rows: table } = await h.db.pool.query('SELECT name, code, amount::text FROM codes ORDER BY id');
    expect(table).toEqual([
      { name: 'a', code: 'A1', amount: '1.00' },
      { name: 'b renamed', code: 'B1', amount: '2.00' },
      { name: 'c', code: 'C1', amount: '3.00' },
      { name: 'd', code: 'D1', amount: '4.00' },
    ]);
  });

  it('an item parked in a list a routes change retired is still retried: its fix is applied and the row moves', async () => {
    const [table, open, closed] = ['retired', 'RtOpen', 'RtClosed'];
    await defineRoutedTitles(h, table, open, closed);
    await h.db.pool.query(`ALTER TABLE ${table} ADD CHECK (title <> 'bad')`);
    await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (1, 'one', 'CLOSED')`);
    await checkedRun(h, 'push', table);
    const pair = await ledgerPair(h, table);
    await spEdit(h, closed, pair.itemId, { Title: 'bad' });
    expect(await runPull(h.ctx, table, { trigger: 'test' })).toMatchObject({ failed: 1 });
    // Every row goes to Open now: Closed is routed to no more (its items move as their rows are read).
    const { rows } = await h.db.pool.query<{ document: unknown }>(
      'SELECT document FROM arcore.sync_definitions WHERE name = $1',
      [table],
    );
    const def = parseDefinition(rows[0].document);
    await applyDefinitions(h.db.pool, [{ ...def, target: { ...def.target, routes: [{ list: open }] } }]);
    // The user does what the park said: the item's title is fixed in SharePoint.
    await spEdit(h, closed, pair.itemId, { Title: 'fixed' });
    await checkedRun(h, 'pull', table);
    const { rows: row } = await h.db.pool.query(`SELECT title FROM ${table} WHERE id = 1`);
    expect(row).toEqual([{ title: 'fixed' }]);
    const { rows: parked } = await h.db.pool.query(
      "SELECT item_key FROM arcore.sync_failures WHERE definition_id = $1 AND status = 'PARKED'",
      [pair.definitionId],
    );
    expect(parked).toEqual([]);
    expect(await checkedRun(h, 'push', table)).toMatchObject({ moved: 1 });
    expect(await whereRouted(h, open, closed, pair.hash)).toEqual([{ list: 'Open', title: 'fixed' }]);
  });
});
