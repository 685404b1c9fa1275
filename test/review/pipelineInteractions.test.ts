/**
 * Review of the merged pipelines (issue 23.1) against I5c and I6: interactions the per-branch tests do not reach.
 */
import type { PoolClient } from 'pg';
import { runPush } from '../../src/core/engine/push';
import type { ProgressEvent } from '../../src/core/engine/types';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../support/engineHarness';

describe('pipelined push: a page looked up while the commit of the page two before is still running', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('a row created on page 1 and read again on page 3 gets one item', async () => {
    await createProjectsTable(h.db, 'twoback');
    await h.define({
      ...projectsDefinition({ source: timestampSource('twoback', 2) }, 'TwoBack'),
      name: 'twoback',
    });
    await h.db.pool.query("INSERT INTO twoback (id, name) SELECT g, 'r' || g FROM generate_series(1, 5) g");
    // Row 1 changes the moment page 1 records its pending create (before page 1's writes go out, so before page
    // 3 is read): its cursor moves past every row and page 3 carries it again.
    await h.db.pool.query(`
      CREATE FUNCTION arcore.touch_row_one() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.state = 'PENDING_CREATE' AND NEW.source_identity->>'id' = '1' THEN
          UPDATE public.twoback SET name = 'r1 (changed)' WHERE id = 1 AND name <> 'r1 (changed)';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER touch_row_one AFTER INSERT OR UPDATE ON arcore.sync_ledger
        FOR EACH ROW EXECUTE FUNCTION arcore.touch_row_one();`);
    // Page 1's commit waits (its cursor write) until page 2's writes are answered: page 3 is read and looked up
    // meanwhile, as it is whenever a commit is slower than the next page's read.
    const holder: PoolClient = await h.db.pool.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE arcore.sync_cursors IN EXCLUSIVE MODE');
    let released: Promise<unknown> | null = null;
    const release = () => (released ??= holder.query('COMMIT'));
    let batches = 0;
    const ctx = {
      ...h.ctx,
      onProgress: (e: ProgressEvent) => {
        if (e.trace?.kind === 'batch' && ++batches === 2) void release();
      },
    };
    h.emulator.control.setLatency(150);
    try {
      const summary = await runPush(ctx, 'twoback', { trigger: 'test' });
      expect(summary.status).toBe('SUCCEEDED');
    } finally {
      h.emulator.control.setLatency(0);
      await release();
      holder.release();
      await h.db.pool.query(
        'DROP TRIGGER touch_row_one ON arcore.sync_ledger; DROP FUNCTION arcore.touch_row_one()',
      );
    }
    const items = await h.items('TwoBack');
    expect(items.map((i) => String(i.fields.Title)).sort()).toEqual(['r1 (changed)', 'r2', 'r3', 'r4', 'r5']);
  });
});
