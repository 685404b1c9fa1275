import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * Review r1: a field with pipelines is recognised as in sync through the ledger's pairs (what Postgres holds for
 * what SharePoint holds, transform.ts). settle.ts records the pairs of a pulled field only when the item needs no
 * write-back; when the same item also has a Postgres edit to write back (another field), the pull writes the
 * transformed field into Postgres, and the write-back's confirmation (writeBacks.ts) saves the ledger with the
 * entry's old pairs. The next push then reads the pulled value through the push pipeline, finds it "changed" and
 * overwrites what the user typed in SharePoint (an echo write, I3, and a user's value replaced).
 */
describe('I3 a transformed field pulled beside a write-back', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  it("keeps the user's value and does not echo", async () => {
    await h.db.pool.query(`CREATE TABLE tfwb (id integer PRIMARY KEY, code text, amount double precision,
      updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO tfwb VALUES (1, 'c1', 1)`);
    await h.define({
      name: 'tfwb',
      source: { table: 'tfwb', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'tfwb' },
      fields: [
        // The pull pipeline is not the push pipeline's inverse: only the ledger's pairs keep this from looping.
        { source: 'code', target: 'Code', transform: "PREFIX('X-')", pullTransform: 'TRIM' },
        { source: 'amount', target: 'Amount' },
      ],
    });
    await runPush(h.ctx, 'tfwb', { trigger: 'test' });
    await runPull(h.ctx, 'tfwb', { trigger: 'test' });
    const [item] = await h.items('tfwb');

    // SharePoint edits Code, Postgres edits Amount: the pull writes code and sends Amount back.
    await h.db.pool.query('UPDATE tfwb SET amount = 2, updated_at = now()');
    const fields = `/sites/${h.siteId}/lists/tfwb/items/${item.id}/fields`;
    expect((await h.asUser('PATCH', fields, { Code: '  X-k9 ' })).status).toBe(200);
    expect(await runPull(h.ctx, 'tfwb', { trigger: 'test' })).toMatchObject({ failed: 0, conflicts: 0 });

    const push = await runPush(h.ctx, 'tfwb', { trigger: 'test' });
    const [after] = await h.items('tfwb');
    const row = (await h.db.pool.query('SELECT code, amount FROM tfwb')).rows[0];
    expect({ pushed: push.updated, code: after.fields.Code, amount: after.fields.Amount, row }).toEqual({
      pushed: 0,
      code: '  X-k9 ',
      amount: 2,
      row: { code: 'X-k9', amount: 2 },
    });
  });
});
