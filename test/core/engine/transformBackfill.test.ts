import { runBackfill } from '../../../src/core/engine/backfill';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { startHarness, type Harness } from '../../support/engineHarness';
import { spEdit } from '../../support/routed';
import {
  applyPipeline,
  createCodeTable,
  insertCodes,
  pgCode,
  pgCodes,
  spCodes,
  syncedCodeTable,
} from '../../support/transformHarness';

/**
 * docs/cli.md: a changed `transform` or `pullTransform` rewrites nothing by itself; synced items (or rows) get the
 * new pipeline's value "by a backfill" (apply's effect text, and the backfill section: "for when ... a transform
 * changed"). The ledger stamps each pair with the pipelines it was made under (I14), so the backfill re-derives
 * the pairs made under the old pipeline and leaves those the current one made (transforms.test.ts: values pull
 * wrote are not rewritten). Adopted from the review's failing tests, plus no loop after it and a pair a push
 * carried over unchanged.
 */
describe('I14 docs/cli.md: a backfill applies a changed transform or pullTransform to synced values', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  const writes = (s: { created: number; updated: number; deleted: number; conflicts: number }) =>
    s.created + s.updated + s.deleted + s.conflicts;
  const quiet = async (name: string) => {
    const again = [
      await runPush(h.ctx, name, { trigger: 'test' }),
      await runPull(h.ctx, name, { trigger: 'test' }),
      await runPush(h.ctx, name, { trigger: 'test' }),
      await runPull(h.ctx, name, { trigger: 'test' }),
    ];
    expect(again.map(writes)).toEqual([0, 0, 0, 0]);
  };

  it('a push backfill of a field whose transform changed writes the new pipeline value', async () => {
    const name = 'tfb1';
    const def = await syncedCodeTable(h, name, (transform) => ({ transform }), 'UPPER', ['c1', 'c2']);
    const codes = () => spCodes(h, name);
    expect(await codes()).toEqual(['C1', 'C2']);

    const applied = await applyPipeline(h, def("UPPER | PREFIX('P-')"));
    const change = applied.definitions[0].changes.find((c) => c.kind === 'transform-changed');
    expect(change?.rewrites).toMatchObject({ evaluated: 2, wouldRewrite: 2 });
    expect(change?.effect).toContain('or by a backfill');

    // A push of another field of row 1 carries Code's pair over unchanged: still made under the old pipeline.
    await h.db.pool.query(`UPDATE ${name} SET name = 'a2' WHERE id = 1`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).updated).toBe(1);
    expect(await codes()).toEqual(['C1', 'C2']); // nothing rewritten by the change itself (docs/cli.md)

    const b = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' });
    expect(b.status).toBe('SUCCEEDED');
    const full = await runBackfill(h.ctx, name, {
      fields: ['Code'],
      direction: 'push',
      strategy: 'full_resync',
      restart: true,
      trigger: 'test',
    });
    expect(full.status).toBe('SUCCEEDED');
    // The backfill is the documented way to give synced items the new pipeline's value.
    expect(await codes()).toEqual(['P-C1', 'P-C2']);
    expect(b.updated + full.updated).toBe(2);
    expect(full).toMatchObject({ updated: 0, conflicts: 0, failed: 0 });
    await quiet(name);
  });

  it('a pull backfill of a field whose pullTransform changed writes the new pipeline value into Postgres', async () => {
    const name = 'tfb2';
    const def = await syncedCodeTable(h, name, (pullTransform) => ({ pullTransform }), 'TRIM', ['C1', 'C2']);

    const applied = await applyPipeline(h, def('TRIM | LOWER'));
    const change = applied.definitions[0].changes.find((c) => c.kind === 'transform-changed');
    expect(change?.rewrites).toMatchObject({ evaluated: 2, wouldRewrite: 2 });
    await quiet(name); // nothing rewritten by the change itself
    const codes = () => pgCodes(h, name);
    expect(await codes()).toEqual(['C1', 'C2']);

    const b = await runBackfill(h.ctx, name, {
      fields: ['Code'],
      direction: 'pull',
      strategy: 'full_resync',
      trigger: 'test',
    });
    expect(b).toMatchObject({ status: 'SUCCEEDED', updated: 2, conflicts: 0, failed: 0 });
    expect(await codes()).toEqual(['c1', 'c2']);
    expect(await spCodes(h, name)).toEqual(['C1', 'C2']);
    // Done once: a second backfill finds the pairs made under the current pipeline, and nothing loops.
    const again = await runBackfill(h.ctx, name, {
      fields: ['Code'],
      direction: 'pull',
      restart: true,
      trigger: 'test',
    });
    expect(again).toMatchObject({ status: 'SUCCEEDED', updated: 0 });
    await quiet(name);
  });

  it('each direction is stamped apart: after a pullTransform change a push backfill rewrites nothing', async () => {
    const name = 'tfb3';
    const def = await createCodeTable(h, name, (pullTransform) => ({
      transform: "PREFIX('X-')",
      pullTransform,
    }));
    await h.define(def('TRIM'));
    await insertCodes(h, name, ['c1']);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    const [item] = await h.items(name);
    await spEdit(h, name, item.id, { Code: '  X-k9 ' });
    expect(await runPull(h.ctx, name, { trigger: 'test' })).toMatchObject({ updated: 1, conflicts: 0 });
    const code = () => pgCode(h, name);
    expect(await code()).toBe('X-k9');

    await applyPipeline(h, def('TRIM | UPPER'));
    const eTag = (await h.items(name))[0].eTag;
    // The push pipeline did not change: the value pull wrote is not pushed back as "X-X-k9".
    const push = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' });
    expect(push).toMatchObject({ status: 'SUCCEEDED', updated: 0, conflicts: 0 });
    expect((await h.items(name))[0]).toMatchObject({
      eTag,
      fields: expect.objectContaining({ Code: '  X-k9 ' }),
    });
    const pull = await runBackfill(h.ctx, name, {
      fields: ['Code'],
      direction: 'pull',
      restart: true,
      trigger: 'test',
    });
    expect(pull).toMatchObject({ status: 'SUCCEEDED', updated: 1, conflicts: 0 });
    expect(await code()).toBe('X-K9');
    expect((await h.items(name))[0].eTag).toBe(eTag);
    await quiet(name);
  });
});
