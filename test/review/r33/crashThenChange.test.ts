import { runBackfill } from '../../../src/core/engine/backfill';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { startHarness, type Harness } from '../../support/engineHarness';
import {
  applyPipeline,
  installBackfillCrash,
  interruptedBackfill,
  pgCode,
  spCode,
  syncedCodeTable,
} from '../../support/transformHarness';

describe('r33: a push backfill stopped before its ledger commit, then the transform changed again', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await installBackfillCrash(h);
  });
  afterAll(async () => h.close());

  it('the next pull leaves the Postgres value alone, and the backfill gives SharePoint the newest pipeline value', async () => {
    const name = 'cc1';
    const def = await syncedCodeTable(h, name, (transform) => ({ transform }), 'SCALE(10)', [5], {
      codeType: 'double precision',
    });
    expect(await spCode(h, name)).toBe(50);
    await applyPipeline(h, def('SCALE(100)'));
    expect(await interruptedBackfill(h, name, 'push')).not.toBe('SUCCEEDED');
    expect(await spCode(h, name)).toBe(500); // written; the ledger did not learn it
    await applyPipeline(h, def('SCALE(1000)'));
    const pull = await runPull(h.ctx, name, { trigger: 'test' });
    console.log(JSON.stringify(pull));
    expect(await pgCode(h, name)).toBe(5);
    const bf = await runBackfill(h.ctx, name, { fields: ['Code'], trigger: 'test' });
    console.log(JSON.stringify({ ...bf, sample: undefined }));
    expect(await spCode(h, name)).toBe(5000);
    expect(await pgCode(h, name)).toBe(5);
    const push = await runPush(h.ctx, name, { trigger: 'test' });
    expect(push.updated + push.conflicts).toBe(0);
  });
});
