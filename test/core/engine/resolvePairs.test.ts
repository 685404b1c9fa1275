import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { resolveConflict } from '../../../src/core/engine/resolve';
import { startHarness, type Harness } from '../../support/engineHarness';
import { spEdit } from '../../support/routed';
import { createdPrefixedCode, openConflictOf } from '../../support/transformHarness';

/**
 * I3/I7: resolving a conflict on one field must not rewrite another field that both sides hold in sync. resolve
 * reads the row through the pipelines without the ledger's pairs (resolve.ts: rowToCanonical(plan, row.values)),
 * so a transformed field whose value pull wrote (a pullTransform that does not undo transform) looks different.
 */
describe('I7/I3 resolve keeps fields outside the conflict (docs/design.md, I7: resolve)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('take postgres on a Title conflict leaves Code (pulled through pullTransform) as it is', async () => {
    const name = 'rvr1';
    const item = await createdPrefixedCode(h, name);
    const edit = (f: Record<string, unknown>) => spEdit(h, name, item.id, f);
    await edit({ Code: '  X-k9 ' });
    expect(await runPull(h.ctx, name, { trigger: 'test' })).toMatchObject({ updated: 1, conflicts: 0 });
    expect((await runPush(h.ctx, name, { trigger: 'test' })).updated).toBe(0); // in sync through the pair

    // A conflict on Title only.
    await h.db.pool.query(`UPDATE ${name} SET name = 'pg' WHERE id = 1`);
    await edit({ Title: 'sp' });
    expect((await runPull(h.ctx, name, { trigger: 'test' })).conflicts).toBe(1);
    await resolveConflict(h.ctx, await openConflictOf(h, name), { take: 'postgres' }, 'review');
    const after = (await h.items(name))[0].fields;
    expect({ Title: after.Title, Code: after.Code }).toEqual({ Title: 'pg', Code: '  X-k9 ' });
  });
});
