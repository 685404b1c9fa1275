import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * I3/I7: both sides edited to the same value between syncs. The pull decides "no write either side" (decision.synced
 * holds the new value) but settle's none/none branch saves only the new eTag, keeping the OLD synced values. The
 * stale base then turns a later plain SharePoint edit into a false conflict that SOURCE_WINS (the default)
 * settles by overwriting the SharePoint edit: the edit is lost.
 */
describe('I7 both sides made the same change (docs/design.md, I7: the base is what both sides agree on)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  const name = 'conv';
  const synced = async () =>
    (
      await h.db.pool.query<{ synced: Record<string, unknown> }>(
        `SELECT l.synced_values AS synced FROM arcore.sync_ledger l
          JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = $1`,
        [name],
      )
    ).rows[0].synced;
  const patch = async (itemId: string, fields: Record<string, unknown>) => {
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`, fields);
    expect(res.status).toBe(200);
  };

  it('a SharePoint edit made after both sides agreed is pulled into Postgres, not overwritten', async () => {
    await h.db.pool.query(`CREATE TABLE ${name} (id integer PRIMARY KEY, name text,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO ${name} (id, name) VALUES (1, 'A')`);
    await h.define({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [{ source: 'name', target: 'Title' }],
    });
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 1 });
    await runPull(h.ctx, name, { trigger: 'test' });
    const [item] = await h.items(name);

    // Both sides fix the same typo the same way.
    await h.db.pool.query(`UPDATE ${name} SET name = 'B' WHERE id = 1`);
    await patch(item.id, { Title: 'B' });
    const agreed = await runPull(h.ctx, name, { trigger: 'test' });
    expect(agreed).toMatchObject({ conflicts: 0, failed: 0 });
    // Both sides hold B: that is what they agree on now (checked at the end, after the user-visible loss).
    const baseAfterAgreement = (await synced()).Title;

    // Later, only SharePoint edits the field: a plain edit, no conflict, it must reach Postgres.
    await patch(item.id, { Title: 'X' });
    const later = await runPull(h.ctx, name, { trigger: 'test' });
    const pgName = (await h.db.pool.query(`SELECT name FROM ${name} WHERE id = 1`)).rows[0].name;
    const spTitle = (await h.items(name))[0].fields.Title;
    expect({ pgName, spTitle, conflicts: later.conflicts, baseAfterAgreement }).toEqual({
      pgName: 'X',
      spTitle: 'X',
      conflicts: 0,
      baseAfterAgreement: 'B',
    });
  });
});
