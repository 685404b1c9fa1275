import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * A field cleared in SharePoint, pulled into a `text NOT NULL DEFAULT ''` or `text[] NOT NULL DEFAULT '{}'` column
 * (docs/design.md I2: '' is null and [] is null, one canonical value). The pull wrote that value as NULL, which such
 * a column refuses: the item was parked on every retry and the cleared value never reached Postgres. A NOT NULL text
 * column is now given '' and a NOT NULL array column '{}' (nullable columns still get NULL). Both read back as the
 * same canonical null, so the ledger, the next push and the next pull agree: nothing is written back and forth (I3,
 * I4). A new item with such a field empty is inserted the same way, in the page's batched insert and alone.
 */
describe('I2 a field cleared in SharePoint, pulled into a NOT NULL column', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  const parkedErrors = async () =>
    (
      await h.db.pool.query<{ last_error: string }>(
        "SELECT last_error FROM arcore.sync_failures WHERE status = 'PARKED' AND direction = 'PULL'",
      )
    ).rows.map((r) => r.last_error);

  it("clears the row's text to '' and its array to '{}', and neither side is written again", async () => {
    await h.db.pool.query(`CREATE TABLE nn (id int PRIMARY KEY, name text,
        note text NOT NULL DEFAULT '', tags text[] NOT NULL DEFAULT '{}', memo text,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO nn (id, name, note, tags, memo) VALUES (1, 'one', 'a note', '{red}', 'a memo')`);
    await h.define({
      name: 'nn',
      source: { table: 'nn', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'nn' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'note', target: 'Note' },
        { source: 'tags', target: 'Tags' },
        { source: 'memo', target: 'Memo' },
      ],
    });
    expect(await runPush(h.ctx, 'nn', { trigger: 'test' })).toMatchObject({ created: 1 });
    await runPull(h.ctx, 'nn', { trigger: 'test' });
    const [item] = await h.items('nn');
    const cleared = await h.asUser('PATCH', `/sites/${h.siteId}/lists/nn/items/${item.id}/fields`, {
      Note: '',
      'Tags@odata.type': 'Collection(Edm.String)',
      Tags: [],
      Memo: '',
    });
    expect(cleared.status).toBe(200);

    const pull = await runPull(h.ctx, 'nn', { trigger: 'test' });
    const { rows } = await h.db.pool.query('SELECT note, tags, memo FROM nn');
    expect({
      pull: [pull.status, pull.updated, pull.failed],
      row: rows[0],
      parked: await parkedErrors(),
    }).toEqual({
      pull: ['SUCCEEDED', 1, 0],
      // A nullable column still takes NULL.
      row: { note: '', tags: [], memo: null },
      parked: [],
    });

    // '' and NULL are one canonical value: the row is in sync, the push writes nothing back, the pull sees no edit.
    const push = await runPush(h.ctx, 'nn', { trigger: 'test', full: true });
    expect(push).toMatchObject({ status: 'SUCCEEDED', created: 0, updated: 0, conflicts: 0 });
    const again = await runPull(h.ctx, 'nn', { trigger: 'test' });
    expect(again).toMatchObject({ status: 'SUCCEEDED', updated: 0, created: 0, conflicts: 0 });
  });

  it('inserts new items whose such fields are empty, batched and alone', async () => {
    await h.db.pool.query(`CREATE TABLE nn_new (id serial PRIMARY KEY, name text,
        note text NOT NULL DEFAULT 'unset', tags text[] NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now())`);
    await h.define({
      name: 'nn_new',
      source: { table: 'nn_new', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'nn_new' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'note', target: 'Note' },
        { source: 'tags', target: 'Tags' },
      ],
    });
    const base = `/sites/${h.siteId}/lists/nn_new/items`;
    const post = async (fields: object) =>
      expect((await h.asUser('POST', base, { fields })).status).toBe(201);
    // Two new items: one batched INSERT.
    await post({ Title: 'a' });
    await post({ Title: 'b', Note: 'n' });
    expect(await runPull(h.ctx, 'nn_new', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      created: 2,
      failed: 0,
    });
    // An item a unique index refuses makes the page's insert go in halves, down to single items (INSERT alone).
    await h.db.pool.query('CREATE UNIQUE INDEX nn_new_name ON nn_new (name)');
    await post({ Title: 'c' });
    await post({ Title: 'a' });
    expect(await runPull(h.ctx, 'nn_new', { trigger: 'test' })).toMatchObject({ created: 1, failed: 1 });
    const { rows } = await h.db.pool.query('SELECT name, note, tags FROM nn_new ORDER BY id');
    expect(rows).toEqual([
      { name: 'a', note: '', tags: [] },
      { name: 'b', note: 'n', tags: [] },
      { name: 'c', note: '', tags: [] },
    ]);
    expect(await parkedErrors()).toEqual([
      expect.stringContaining('duplicate key value violates unique constraint'),
    ]);
    // The pushed side agrees: nothing is written to the new items.
    const push = await runPush(h.ctx, 'nn_new', { trigger: 'test', full: true });
    expect(push).toMatchObject({ status: 'SUCCEEDED', updated: 0, conflicts: 0 });
  });

  it("a new item with its text key empty is parked, never inserted as a row keyed ''", async () => {
    await h.db.pool.query(`CREATE TABLE nn_key (code text PRIMARY KEY, note text NOT NULL DEFAULT '',
        updated_at timestamptz NOT NULL DEFAULT now())`);
    await h.define({
      name: 'nn_key',
      source: { table: 'nn_key', key: ['code'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'nn_key' },
      fields: [
        { source: 'code', target: 'Title', direction: 'BIDIRECTIONAL' },
        { source: 'note', target: 'Note' },
      ],
    });
    const base = `/sites/${h.siteId}/lists/nn_key/items`;
    for (const fields of [{ Title: 'k1' }, { Note: 'no key' }])
      expect((await h.asUser('POST', base, { fields })).status).toBe(201);
    expect(await runPull(h.ctx, 'nn_key', { trigger: 'test' })).toMatchObject({ created: 1, failed: 1 });
    const { rows } = await h.db.pool.query('SELECT code, note FROM nn_key');
    expect(rows).toEqual([{ code: 'k1', note: '' }]);
  });
});
