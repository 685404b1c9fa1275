import { runPush } from '../../../src/core/engine/push';
import { DEFAULT_SLOT_POLICY, slotStatuses } from '../../../src/core/ops/slotHealth';
import { startHarness, type Harness } from '../../support/engineHarness';
import { closeCapturing, lsnDefinition } from '../../support/capture';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => closeCapturing(h));

const push = (name: string) => runPush(h.ctx, name, { trigger: 'test' });

describe('status and the push timer read the slot before its recorded position (docs/design.md, I17)', () => {
  it('a push confirming between the two reads is not reported as a slot moved by someone else', async () => {
    await h.db.pool.query(`CREATE TABLE race (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
    await h.db.pool.query(`INSERT INTO race VALUES (1, 'a', 1)`);
    await h.define(lsnDefinition('race'));
    expect(await push('race')).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    await h.db.pool.query(`UPDATE race SET name = 'b' WHERE id = 1`);
    // slotStatuses reads lsnDefinitionRows (the recorded position) first, then asks for the source pool and reads
    // the slot: a push of the definition (the timer's, running beside maintainSlots) confirms in between.
    const statuses = await slotStatuses(
      h.db.pool,
      async () => {
        expect(await push('race')).toMatchObject({ status: 'SUCCEEDED', updated: 1 });
        return h.db.pool;
      },
      DEFAULT_SLOT_POLICY,
      'race',
    );
    // The push recorded its position before it moved the slot: nothing was moved by anyone else.
    expect([...statuses.values()].map((s) => s.healthy)).toEqual([true]);
  });
});
