import { runBackfill } from '../../../src/core/engine/backfill';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { verifyDefinition } from '../../../src/core/engine/verify';
import { startHarness, type Harness } from '../../support/engineHarness';
import {
  applyPipeline,
  installBackfillCrash,
  interruptedBackfill,
  pgCode,
  spCode,
  syncedCodeTable,
} from '../../support/transformHarness';

/**
 * I6: a transform backfill stopped after its writes but before its metadata commit (a crash, a lost connection:
 * simulated deterministically by making the commit of the backfill's position fail) must reach the end state of an
 * uninterrupted backfill. The rebuild writes a side while the other side is unchanged, so the half-done pair looks
 * like an edit to the next pull or to the resumed backfill.
 */
describe('I6 docs/cli.md (backfill): a transform backfill stopped before its ledger commit ends as an uninterrupted one', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await installBackfillCrash(h);
  });
  afterAll(async () => h.close());

  /** Synced under UPPER ('c1' pushed as 'C1'), then the transform changed to UPPER | PREFIX('P-'). */
  async function transformChanged(name: string) {
    const def = await syncedCodeTable(h, name, (transform) => ({ transform }), 'UPPER', ['c1']);
    await applyPipeline(h, def("UPPER | PREFIX('P-')"));
  }
  /** Synced under TRIM ('C1' both sides), then the pullTransform changed to TRIM | LOWER. */
  async function pullTransformChanged(name: string) {
    const def = await syncedCodeTable(h, name, (pullTransform) => ({ pullTransform }), 'TRIM', ['C1']);
    await applyPipeline(h, def('TRIM | LOWER'));
  }

  it('push backfill: a pull after the interruption leaves the Postgres value alone (as without it)', async () => {
    const name = 'rvc1';
    await transformChanged(name);

    expect(await interruptedBackfill(h, name, 'push')).not.toBe('SUCCEEDED');
    expect(await spCode(h, name)).toBe('P-C1'); // the write went out; the ledger did not learn it
    // The sides agree under the current pipeline: verify finds no difference.
    expect((await verifyDefinition(h.ctx, name)).differences).toBe(0);

    // The next scheduled pull, before anyone resumes the backfill.
    const pull = await runPull(h.ctx, name, { trigger: 'test' });
    // Uninterrupted, Postgres keeps 'c1' (the backfill only rewrites SharePoint).
    expect({ pg: await pgCode(h, name), pulledUpdates: pull.updated }).toEqual({
      pg: 'c1',
      pulledUpdates: 0,
    });
  });

  it('pull backfill: resuming after the interruption records no conflict and leaves SharePoint alone', async () => {
    const name = 'rvc2';
    await pullTransformChanged(name);

    expect(await interruptedBackfill(h, name, 'pull')).not.toBe('SUCCEEDED');
    expect(await pgCode(h, name)).toBe('c1'); // the Postgres write committed; the ledger did not learn it
    expect((await verifyDefinition(h.ctx, name)).differences).toBe(0);

    const resumed = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'pull', trigger: 'test' });
    // Uninterrupted (transformBackfill.test.ts): Postgres 'c1', SharePoint 'C1', no conflict.
    expect({
      status: resumed.status,
      conflicts: resumed.conflicts,
      sp: await spCode(h, name),
      pg: await pgCode(h, name),
    }).toEqual({
      status: 'SUCCEEDED',
      conflicts: 0,
      sp: 'C1',
      pg: 'c1',
    });
  });
  it('pull backfill: a push of the row after the interruption does not send the value back to SharePoint', async () => {
    const name = 'rvc3';
    await pullTransformChanged(name);

    await interruptedBackfill(h, name, 'pull');
    expect(await pgCode(h, name)).toBe('c1');

    // Another column of the row changes: the push reads the row and meets Code as the backfill left it.
    await h.db.pool.query(`UPDATE ${name} SET name = 'a2' WHERE id = 1`);
    const push = await runPush(h.ctx, name, { trigger: 'test' });
    const pull = await runPull(h.ctx, name, { trigger: 'test' });
    const [item] = await h.items(name);
    expect({
      pushed: push.updated,
      conflicts: push.conflicts + pull.conflicts,
      pulled: pull.updated,
      sp: item.fields.Code,
      title: item.fields.Title,
      pg: await pgCode(h, name),
    }).toEqual({ pushed: 1, conflicts: 0, pulled: 0, sp: 'C1', title: 'a2', pg: 'c1' });
  });
  it('push backfill: resumed after the interruption, it ends with no conflict and nothing left to sync', async () => {
    const name = 'rvc4';
    await transformChanged(name);

    await interruptedBackfill(h, name, 'push');
    expect(await spCode(h, name)).toBe('P-C1');

    const resumed = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' });
    const after = [
      await runPull(h.ctx, name, { trigger: 'test' }),
      await runPush(h.ctx, name, { trigger: 'test' }),
    ].map((s) => s.created + s.updated + s.deleted + s.conflicts);
    expect({
      status: resumed.status,
      conflicts: resumed.conflicts,
      after,
      sp: await spCode(h, name),
      pg: await pgCode(h, name),
    }).toEqual({ status: 'SUCCEEDED', conflicts: 0, after: [0, 0], sp: 'P-C1', pg: 'c1' });
  });
  it('the pipeline changed again after the interruption: the next run keeps the other side as it is, and the backfill gives the newest value', async () => {
    // Push: synced under SCALE(10), backfilled under SCALE(100) up to its SharePoint write, then SCALE(1000).
    const push = await syncedCodeTable(h, 'rvc5', (transform) => ({ transform }), 'SCALE(10)', [5], {
      codeType: 'double precision',
    });
    await applyPipeline(h, push('SCALE(100)'));
    expect(await interruptedBackfill(h, 'rvc5', 'push')).not.toBe('SUCCEEDED');
    expect(await spCode(h, 'rvc5')).toBe(500);
    await applyPipeline(h, push('SCALE(1000)'));
    // 500 is what the backfill wrote, not a SharePoint edit: the pull wrote 0.5 over Postgres's 5.
    expect((await runPull(h.ctx, 'rvc5', { trigger: 'test' })).updated).toBe(0);
    expect(await pgCode(h, 'rvc5')).toBe(5);
    expect(await runBackfill(h.ctx, 'rvc5', { fields: ['Code'], trigger: 'test' })).toMatchObject({
      updated: 1,
      conflicts: 0,
    });
    expect({ sp: await spCode(h, 'rvc5'), pg: await pgCode(h, 'rvc5') }).toEqual({ sp: 5000, pg: 5 });

    // Pull: pullTransform SCALE(10), backfilled under SCALE(100) up to its Postgres write, then SCALE(1000).
    const pull = await syncedCodeTable(h, 'rvc6', (pullTransform) => ({ pullTransform }), 'SCALE(10)', [50], {
      codeType: 'double precision',
    });
    await applyPipeline(h, pull('SCALE(100)'));
    expect(await interruptedBackfill(h, 'rvc6', 'pull')).not.toBe('SUCCEEDED');
    expect(await pgCode(h, 'rvc6')).toBe(500);
    await applyPipeline(h, pull('SCALE(1000)'));
    // The push wrote 0.5 over SharePoint's 5.
    expect((await runPush(h.ctx, 'rvc6', { trigger: 'test' })).updated).toBe(0);
    expect(await spCode(h, 'rvc6')).toBe(5);
    await runBackfill(h.ctx, 'rvc6', { fields: ['Code'], direction: 'pull', trigger: 'test' });
    expect({ sp: await spCode(h, 'rvc6'), pg: await pgCode(h, 'rvc6') }).toEqual({ sp: 5, pg: 5000 });
  });
});
