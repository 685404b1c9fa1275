import { runBackfill } from '../../../src/core/engine/backfill';
import { runPush } from '../../../src/core/engine/push';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { startHarness, type Harness } from '../../support/engineHarness';
import { applyPipeline, pgCode, spCode, spCodes, syncedCodeTable } from '../../support/transformHarness';

describe('I14 docs/cli.md (backfill): A→B→A, A→B→C, and pairs saved before the stamps', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  /** Rows 1 and 2 synced under transform UPPER ('c1', 'c2' pushed as 'C1', 'C2'). */
  const table = (name: string) =>
    syncedCodeTable(h, name, (transform) => ({ transform }), 'UPPER', ['c1', 'c2']);
  const codes = (name: string) => spCodes(h, name);
  const apply = (d: SyncDefinitionInput) => applyPipeline(h, d);
  /** As an apply before the upgrade left them: every pair's Code without push/pull stamps. */
  const unstamp = () =>
    h.db.pool.query(
      `UPDATE arcore.sync_ledger SET synced_source_values = jsonb_set(synced_source_values, '{Code}',
         (synced_source_values->'Code') - 'push' - 'pull')`,
    );

  it('A→B→A with a row pushed under B: only that row is rewritten', async () => {
    const name = 'rvf1';
    const def = await table(name);
    await apply(def("UPPER | PREFIX('P-')"));
    await h.db.pool.query(`UPDATE ${name} SET code = 'c2b' WHERE id = 2`);
    await runPush(h.ctx, name, { trigger: 'test' });
    expect(await codes(name)).toEqual(['C1', 'P-C2B']);
    await apply(def('UPPER'));
    const b = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' });
    expect(b).toMatchObject({ status: 'SUCCEEDED', updated: 1, conflicts: 0 });
    expect(await codes(name)).toEqual(['C1', 'C2B']);
  });

  it('A→B→C: the backfill gives every row C', async () => {
    const name = 'rvf2';
    const def = await table(name);
    await apply(def("UPPER | PREFIX('P-')"));
    await h.db.pool.query(`UPDATE ${name} SET name = 'b2' WHERE id = 2`);
    await runPush(h.ctx, name, { trigger: 'test' });
    await apply(def("UPPER | PREFIX('Q-')"));
    const b = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' });
    expect(b).toMatchObject({ status: 'SUCCEEDED', updated: 2, conflicts: 0 });
    expect(await codes(name)).toEqual(['Q-C1', 'Q-C2']);
  });

  it('pairs without stamps (saved before the stamps, pipeline changed then): the backfill', async () => {
    const name = 'rvf3';
    const def = await table(name);
    await apply(def("UPPER | PREFIX('P-')"));
    // As an apply before the upgrade left them: pairs without push/pull stamps.
    await unstamp();
    const b = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' });
    expect({ updated: b.updated, codes: await codes(name) }).toEqual({ updated: 2, codes: ['P-C1', 'P-C2'] });
  });
  it('pairs without stamps on a field with pullTransform alone: a pull backfill re-derives only after a change', async () => {
    const name = 'rvf4';
    const def = await syncedCodeTable(h, name, (pullTransform) => ({ pullTransform }), 'SCALE(0.01)', [5], {
      codeType: 'double precision',
    });
    expect(await spCode(h, name)).toBe(500);
    const pg = () => pgCode(h, name);
    await unstamp();
    const same = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'pull', trigger: 'test' });
    expect({ updated: same.updated, pg: await pg() }).toEqual({ updated: 0, pg: 5 });

    await apply(def('SCALE(0.001)'));
    await unstamp();
    const b = await runBackfill(h.ctx, name, {
      fields: ['Code'],
      direction: 'pull',
      restart: true,
      trigger: 'test',
    });
    expect({ updated: b.updated, pg: await pg(), sp: await spCode(h, name) }).toEqual({
      updated: 1,
      pg: 0.5,
      sp: 500,
    });
  });
});
