import { runBackfill } from '../../../src/core/engine/backfill';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import { spEdit } from '../../support/routed';
import { createCodeTable, insertCodes } from '../../support/transformHarness';

describe('r33: a pull backfill on a table another definition pushes from', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('the other definition pushes the value the backfill wrote into Postgres', async () => {
    const def = await createCodeTable(h, 'shared', () => ({}));
    await h.define(def(''));
    await h.define({ ...def(''), name: 'shared_copy', target: { site: SITE, list: 'shared_copy' } });
    await insertCodes(h, 'shared', ['c1', 'c2']);
    // Row 1 was last changed a day ago: behind every push's overlap window.
    await h.db.pool.query('ALTER TABLE shared DISABLE TRIGGER USER');
    await h.db.pool.query(`UPDATE shared SET updated_at = now() - interval '1 day' WHERE id = 1`);
    await h.db.pool.query('ALTER TABLE shared ENABLE TRIGGER USER');
    for (const n of ['shared', 'shared_copy']) {
      expect((await runPush(h.ctx, n, { trigger: 'test' })).created).toBe(2);
      await runPull(h.ctx, n, { trigger: 'test' });
    }
    const [item] = (await h.items('shared')).filter((i) => i.fields.Title === 'a');
    await spEdit(h, 'shared', item.id, { Code: 'edited in SharePoint' });
    const bf = await runBackfill(h.ctx, 'shared', { fields: ['Code'], direction: 'pull', trigger: 'test' });
    expect(bf).toMatchObject({ status: 'SUCCEEDED', updated: 1 });
    expect((await h.db.pool.query(`SELECT code FROM shared WHERE id = 1`)).rows[0].code).toBe('edited in SharePoint');
    // The copy's push must carry the new value to its list, as it does after a regular pull.
    await runPush(h.ctx, 'shared_copy', { trigger: 'test' });
    const copy = (await h.items('shared_copy')).find((i) => i.fields.Title === 'a');
    expect(copy?.fields.Code).toBe('edited in SharePoint');
  });
});
