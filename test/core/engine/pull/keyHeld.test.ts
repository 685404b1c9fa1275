import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * I13 (docs/design.md): a new SharePoint item whose key another item's pair still holds in the ledger is not
 * inserted, or that pair would be replaced and its item left in SharePoint unpaired, beside the new one.
 */
describe('a new item taking a key another pair holds', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  const ledgerItems = async (table: string) =>
    (
      await h.db.pool.query<{ sp_item_id: string; state: string }>(
        `SELECT l.sp_item_id, l.state FROM arcore.sync_ledger l JOIN arcore.sync_definitions d
          ON d.id = l.definition_id WHERE d.name = $1 ORDER BY l.sp_item_id`,
        [table],
      )
    ).rows;

  /**
   * A table keyed by a code (name → Title, code → Code) holding one row, its definition, and one push and pull so
   * that the row and its item are paired.
   */
  const pairedCodes = async (
    table: string,
    code: string,
    name: string,
    deletes?: { push: 'PROPAGATE' | 'IGNORE'; pull: 'PROPAGATE' },
  ) => {
    await h.db.pool.query(`CREATE TABLE ${table} (code text PRIMARY KEY, name text,
      updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO ${table} (code, name) VALUES ($$${code}$$, $$${name}$$)`);
    await h.define({
      name: table,
      source: { table, key: ['code'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: table },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code' },
      ],
      ...(deletes ? { deletes } : {}),
    });
    await runPush(h.ctx, table, { trigger: 'test' });
    await runPull(h.ctx, table, { trigger: 'test' });
  };

  it('waits, parked, until the push deleted the item whose row was deleted; then it is inserted and paired', async () => {
    await pairedCodes('codes', 'A', 'first');
    const [old] = await h.items('codes');
    await h.db.pool.query("DELETE FROM codes WHERE code = 'A'");
    const base = `/sites/${h.siteId}/lists/codes/items`;
    expect((await h.asUser('POST', base, { fields: { Title: 'second', Code: 'A' } })).status).toBe(201);

    const parked = await runPull(h.ctx, 'codes', { trigger: 'test' });
    expect(parked).toMatchObject({ created: 0, failed: 1 });
    expect((await h.db.pool.query('SELECT * FROM codes')).rows).toEqual([]);
    expect(await ledgerItems('codes')).toEqual([{ sp_item_id: old.id, state: 'SYNCED' }]);
    const { rows: failures } = await h.db.pool.query<{ error: string }>(
      "SELECT last_error AS error FROM arcore.sync_failures WHERE status = 'PARKED' AND direction = 'PULL'",
    );
    expect(failures).toHaveLength(1);
    expect(failures[0].error).toContain(
      `key code="A" is paired with item ${old.id}, whose row is no longer in Postgres`,
    );

    const pushed = await runPush(h.ctx, 'codes', { trigger: 'test' });
    expect(pushed.deleted).toBe(1);
    await h.db.pool.query("UPDATE arcore.sync_failures SET next_attempt_at = now() WHERE status = 'PARKED'");
    await runPull(h.ctx, 'codes', { trigger: 'test' });
    const items = await h.items('codes');
    expect(items.map((i) => i.fields.Title)).toEqual(['second']);
    expect((await h.db.pool.query('SELECT code, name FROM codes')).rows).toEqual([
      { code: 'A', name: 'second' },
    ]);
    expect(await ledgerItems('codes')).toEqual([{ sp_item_id: items[0].id, state: 'SYNCED' }]);
  });

  it('a serial key restarted by TRUNCATE … RESTART IDENTITY does not take over the pairs of the old rows', async () => {
    await h.db.pool.query(`CREATE TABLE tickets (id serial PRIMARY KEY, name text,
      updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO tickets (name) VALUES ('old 1'), ('old 2')`);
    await h.define({
      name: 'tickets',
      source: { table: 'tickets', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'tickets' },
      fields: [{ source: 'name', target: 'Title' }],
    });
    await runPush(h.ctx, 'tickets', { trigger: 'test' });
    await runPull(h.ctx, 'tickets', { trigger: 'test' });
    const before = await ledgerItems('tickets');
    expect(before).toHaveLength(2);
    await h.db.pool.query('TRUNCATE tickets RESTART IDENTITY');
    const base = `/sites/${h.siteId}/lists/tickets/items`;
    for (const title of ['new a', 'new b', 'new c'])
      expect((await h.asUser('POST', base, { fields: { Title: title } })).status).toBe(201);

    const pulled = await runPull(h.ctx, 'tickets', { trigger: 'test' });
    // ids 1 and 2 are the old pairs' keys: the inserts that drew them are rolled back, and the sequence (which
    // rollbacks do not rewind) gives the new items ids no pair holds.
    expect(pulled).toMatchObject({ created: 3, failed: 0 });
    const ids = (await h.db.pool.query<{ id: number }>('SELECT id FROM tickets')).rows.map((r) => r.id);
    expect(ids).toHaveLength(3);
    expect(ids.every((id) => id > 2)).toBe(true);
    const after = await ledgerItems('tickets');
    for (const entry of before) expect(after).toContainEqual(entry);
    expect(after).toHaveLength(5);
  });
  it('a new item taking the key of a pair whose item the same page deletes keeps its own pair (no duplicate by the push)', async () => {
    await pairedCodes('freed', 'A', 'old a', { push: 'PROPAGATE', pull: 'PROPAGATE' });
    const [old] = await h.items('freed');
    const base = `/sites/${h.siteId}/lists/freed/items`;
    // One delta page: the item of key A deleted, a new item taking key A.
    expect((await h.asUser('DELETE', `${base}/${old.id}`)).status).toBe(204);
    expect((await h.asUser('POST', base, { fields: { Title: 'new a', Code: 'A' } })).status).toBe(201);

    expect(await runPull(h.ctx, 'freed', { trigger: 'test' })).toMatchObject({
      deleted: 1,
      created: 1,
      failed: 0,
    });
    const [fresh] = await h.items('freed');
    expect((await h.db.pool.query('SELECT code, name FROM freed')).rows).toEqual([
      { code: 'A', name: 'new a' },
    ]);
    // The page removed the deleted item's pair after saving the new one under the same key: the new pair was lost.
    expect(await ledgerItems('freed')).toEqual([{ sp_item_id: fresh.id, state: 'SYNCED' }]);
    await h.db.pool.query("UPDATE freed SET name = 'new a, edited'");
    expect(await runPush(h.ctx, 'freed', { trigger: 'test' })).toMatchObject({ created: 0, updated: 1 });
    expect((await h.items('freed')).map((i) => i.fields.Title)).toEqual(['new a, edited']);
  });
  it('an item kept as ORPHANED (deletes IGNORE) holds its key: the new item is parked, told to delete the old one', async () => {
    await pairedCodes('kept', 'K', 'archived', { push: 'IGNORE', pull: 'PROPAGATE' });
    await h.db.pool.query("DELETE FROM kept WHERE code = 'K'");
    await runPush(h.ctx, 'kept', { trigger: 'test' });
    const [old] = await h.items('kept');
    expect(await ledgerItems('kept')).toEqual([{ sp_item_id: old.id, state: 'ORPHANED' }]);
    const base = `/sites/${h.siteId}/lists/kept/items`;
    expect((await h.asUser('POST', base, { fields: { Title: 'new', Code: 'K' } })).status).toBe(201);
    expect(await runPull(h.ctx, 'kept', { trigger: 'test' })).toMatchObject({ created: 0, failed: 1 });
    const { rows } = await h.db.pool.query<{ error: string }>(
      `SELECT f.last_error AS error FROM arcore.sync_failures f JOIN arcore.sync_definitions d
        ON d.id = f.definition_id WHERE d.name = 'kept' AND f.status = 'PARKED'`,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].error).toContain(
      `item ${old.id}, kept in SharePoint when its row was deleted in Postgres`,
    );
    expect(rows[0].error).toContain('Next step: delete that item in SharePoint (it is no longer synced)');
    expect((await h.db.pool.query('SELECT * FROM kept')).rows).toEqual([]);
  });
});
