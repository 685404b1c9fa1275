import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { resolveConflict } from '../../../src/core/engine/resolve';
import { startHarness, type Harness } from '../../support/engineHarness';
import { spEdit } from '../../support/routed';
import { createdPrefixedCode, openConflictOf } from '../../support/transformHarness';

/**
 * Review of fd26ab8: resolve now stores pairs through syncedEntry, but with `written` = {} and the row values read
 * BEFORE its own Postgres write. A transformed field the resolution writes to Postgres (take sharepoint) gets no
 * pair, so the next push reads the value resolve wrote through the push pipeline, finds it differs from SharePoint's,
 * and writes SharePoint (I3: an echo that rewrites the value just taken from SharePoint). The pull pairs it (written).
 */
describe('I3 resolve take sharepoint on a transformed field (docs/design.md, I7: resolve)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('leaves SharePoint as taken: the next push writes nothing', async () => {
    const name = 'rvw1';
    const item = await createdPrefixedCode(h, name);
    // A conflict on Code.
    await h.db.pool.query(`UPDATE ${name} SET code = 'p1' WHERE id = 1`);
    await spEdit(h, name, item.id, { Code: '  X-k9 ' });
    expect((await runPull(h.ctx, name, { trigger: 'test' })).conflicts).toBe(1);
    await resolveConflict(h.ctx, await openConflictOf(h, name), { take: 'sharepoint' }, 'review');
    const pgCode = (await h.db.pool.query(`SELECT code FROM ${name}`)).rows[0].code;
    const push = await runPush(h.ctx, name, { trigger: 'test' });
    const after = (await h.items(name))[0].fields;
    expect({ pgCode, pushed: push.updated, Code: after.Code }).toEqual({
      pgCode: 'X-k9',
      pushed: 0,
      Code: '  X-k9 ',
    });
  });
});
