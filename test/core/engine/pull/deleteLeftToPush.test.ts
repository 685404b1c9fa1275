import { runBackfill } from '../../../../src/core/engine/backfill';
import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { verifyDefinition } from '../../../../src/core/engine/verify';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * I8 (docs/design.md): a row deleted in Postgres whose item the pull meets unchanged (a re-enumeration, an edit of
 * a field the definition does not sync) is the push's to delete, as its deletes policy says: the pull keeps the
 * pair for it. It used to drop the pair without deleting the item, which then stayed in SharePoint unpaired.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ deltaOrder: 'stable' });
});
afterAll(async () => h.close());

describe('a row deleted in Postgres, its item met unchanged by a pull before the push', () => {
  const setUp = async (name: string, push: 'PROPAGATE' | 'IGNORE') => {
    await h.db.pool.query(`CREATE TABLE ${name} (code text PRIMARY KEY, name text,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO ${name} (code, name) VALUES ('A', 'first'), ('B', 'second')`);
    await h.define({
      name,
      source: { table: name, key: ['code'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [{ source: 'name', target: 'Title' }],
      deletes: { push, pull: 'PROPAGATE' },
    });
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 2 });
    await runPull(h.ctx, name, { trigger: 'test' });
    await h.db.pool.query(`DELETE FROM ${name} WHERE code = 'A'`);
    // The pull reads the whole list again (410), meeting item A unchanged.
    h.emulator.control.expireDeltaTokens();
    await runPull(h.ctx, name, { trigger: 'test' });
  };

  const ledger = async (name: string) =>
    (
      await h.db.pool.query<{ identity: unknown; state: string }>(
        `SELECT l.source_identity AS identity, l.state FROM arcore.sync_ledger l
          JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = $1 ORDER BY 1`,
        [name],
      )
    ).rows;

  it('deletes propagate: the next push deletes the item', async () => {
    await setUp('gone_propagate', 'PROPAGATE');
    expect(await ledger('gone_propagate')).toHaveLength(2);
    expect(await runPush(h.ctx, 'gone_propagate', { trigger: 'test' })).toMatchObject({ deleted: 1 });
    expect((await h.items('gone_propagate')).map((i) => i.fields.Title)).toEqual(['second']);
    expect(await ledger('gone_propagate')).toEqual([{ identity: { code: 'B' }, state: 'SYNCED' }]);
  });

  it('deletes ignored: the item stays, kept as ORPHANED by the push, not forgotten by the pull', async () => {
    await setUp('gone_ignore', 'IGNORE');
    await runPush(h.ctx, 'gone_ignore', { trigger: 'test' });
    expect((await h.items('gone_ignore')).map((i) => i.fields.Title).sort()).toEqual(['first', 'second']);
    expect(await ledger('gone_ignore')).toEqual([
      { identity: { code: 'A' }, state: 'ORPHANED' },
      { identity: { code: 'B' }, state: 'SYNCED' },
    ]);
  });
});

/**
 * I8 (docs/design.md, README `deletes.pull`): under deletes.pull IGNORE an item deleted in SharePoint leaves its
 * row in Postgres, and the pull keeps an ITEM_DELETED entry holding the row. Found by review (r1): the pull
 * dropped the pair, the row looked new, and its next edit made the push create the item again, undoing the delete.
 */
describe('I8 deletes.pull IGNORE: an item deleted in SharePoint', () => {
  const state = async () => ({
    rows: (await h.db.pool.query('SELECT id, name FROM ign ORDER BY id')).rows,
    items: (await h.items('ign')).map((i) => i.fields.Title),
    ledger: (
      await h.db.pool.query(
        `SELECT l.state FROM arcore.sync_ledger l
           JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = 'ign' ORDER BY l.state`,
      )
    ).rows.map((r: { state: string }) => r.state),
    conflicts: Number((await h.db.pool.query('SELECT count(*) AS n FROM arcore.sync_conflicts')).rows[0].n),
  });

  it('keeps the row, never re-creates the item on its edits, and a full resync pushing brings it back', async () => {
    await h.db.pool.query(`CREATE TABLE ign (id integer PRIMARY KEY, name text,
      updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO ign (id, name) VALUES (1, 'one'), (2, 'two')`);
    await h.define({
      name: 'ign',
      source: { table: 'ign', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'ign' },
      fields: [{ source: 'name', target: 'Title' }],
      deletes: { push: 'PROPAGATE', pull: 'IGNORE' },
    });
    await runPush(h.ctx, 'ign', { trigger: 'test' });
    await runPull(h.ctx, 'ign', { trigger: 'test' });
    for (const item of await h.items('ign'))
      expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/ign/items/${item.id}`)).status).toBe(204);
    expect(await runPull(h.ctx, 'ign', { trigger: 'test' })).toMatchObject({ deleted: 0, skipped: 2 });

    // Both rows edited (one after the other run): the push leaves them alone.
    await h.db.pool.query("UPDATE ign SET name = name || ', edited', updated_at = now()");
    expect(await runPush(h.ctx, 'ign', { trigger: 'test' })).toMatchObject({ created: 0, failed: 0 });
    expect(await runPull(h.ctx, 'ign', { trigger: 'test' })).toMatchObject({ processed: 0 });
    expect(await state()).toEqual({
      rows: [
        { id: 1, name: 'one, edited' },
        { id: 2, name: 'two, edited' },
      ],
      items: [],
      ledger: ['ITEM_DELETED', 'ITEM_DELETED'],
      conflicts: 0,
    });
    expect(await verifyDefinition(h.ctx, 'ign')).toMatchObject({
      agree: true,
      softDeletedRows: 2,
      unpaired: 0,
    });

    // Row 2 deleted in Postgres: its entry goes with it. A full resync pushing re-creates row 1's item, asked to.
    await h.db.pool.query('DELETE FROM ign WHERE id = 2');
    await runPush(h.ctx, 'ign', { trigger: 'test' });
    expect(
      await runBackfill(h.ctx, 'ign', { fields: ['Title'], strategy: 'full_resync', trigger: 'test' }),
    ).toMatchObject({ created: 1, failed: 0 });
    expect(await runPush(h.ctx, 'ign', { trigger: 'test' })).toMatchObject({ created: 0, updated: 0 });
    expect(await runPull(h.ctx, 'ign', { trigger: 'test' })).toMatchObject({ created: 0, updated: 0 });
    expect(await state()).toEqual({
      rows: [{ id: 1, name: 'one, edited' }],
      items: ['one, edited'],
      ledger: ['SYNCED'],
      conflicts: 0,
    });
  });
});
