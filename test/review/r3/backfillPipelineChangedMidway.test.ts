import { applyDefinitions } from '../../../src/core/engine/apply';
import { runBackfill } from '../../../src/core/engine/backfill';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * A push backfill of a transformed field stops at its time budget after the first batch; the operator corrects the
 * pipeline and runs the backfill again. The rerun "continues" the stored backfill (same fields, strategy,
 * direction), so the rows of the first batch, written under the intermediate pipeline, are never examined again,
 * yet the backfill reports complete. Pushes and pulls never rewrite them by themselves (I14).
 */
describe('review r3: a pipeline changed while a backfill is half done', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('the completed backfill leaves every item under the current pipeline', async () => {
    const name = 'r3bm1';
    await h.db.pool.query(
      `CREATE TABLE ${name} (id int PRIMARY KEY, name text, code text, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    const def = (transform: string): SyncDefinitionInput => ({
      name,
      source: {
        table: name,
        key: ['id'],
        cursor: { type: 'TIMESTAMP', column: 'updated_at' },
        pageSize: 2,
      },
      target: { site: SITE, list: name },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code', transform },
      ],
    });
    await h.define(def('UPPER'));
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name, code) SELECT g, 'n' || g, 'c' || g FROM generate_series(1, 4) g`,
    );
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(4);
    await runPull(h.ctx, name, { trigger: 'test' });

    await applyDefinitions(h.db.pool, [parseDefinition(def("UPPER | PREFIX('A-')"))]);
    const first = await runBackfill(h.ctx, name, {
      fields: ['Code'],
      direction: 'push',
      trigger: 'test',
      maxSeconds: 0.001,
    });
    expect(first).toMatchObject({ complete: false, examined: 2, updated: 2 });

    // The operator sees 'A-' was a mistake, fixes the pipeline, and runs the backfill again.
    await applyDefinitions(h.db.pool, [parseDefinition(def("UPPER | PREFIX('B-')"))]);
    const second = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' });
    expect(second.complete).toBe(true);

    const codes = (await h.items(name)).map((i) => i.fields.Code as string).sort();
    expect(codes).toEqual(['B-C1', 'B-C2', 'B-C3', 'B-C4']);
  });
});
