/**
 * Review of the push write window (push/pageWindow.ts, issue 23.1): pages written while the page before is still
 * out, against I5c, I6 and I16.
 */
import { runPush } from '../../src/core/engine/push';
import type { RunSummary } from '../../src/core/engine/types';
import { startHarness, timestampSource, type Harness } from '../support/engineHarness';

/** The run's outcome, or a failure naming what it waited for when it never ends (a hang, not a slow run). */
async function settles(what: string, run: Promise<RunSummary>, ms = 8_000): Promise<RunSummary> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: the run did not end within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([run, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A view whose key repeats on consecutive pages (2 rows a page): every page carries a key of the page before, as
 * a row updated between two reads does. A view is allowed such a key (the definition check only warns, I13), and
 * the page read ahead then waits for the page before it to settle (push/prefetch.ts).
 */
async function createChainedView(h: Harness, name: string): Promise<void> {
  await h.db.pool.query(`
    CREATE TABLE ${name}_rows (rid serial PRIMARY KEY, id integer NOT NULL, name text,
      updated_at timestamptz NOT NULL);
    INSERT INTO ${name}_rows (id, name, updated_at) VALUES
      (1, 'a1', '2026-01-01 00:00:01'), (2, 'a2', '2026-01-01 00:00:02'),
      (2, 'b2', '2026-01-01 00:00:03'), (3, 'a3', '2026-01-01 00:00:04'),
      (3, 'b3', '2026-01-01 00:00:05'), (4, 'a4', '2026-01-01 00:00:06'),
      (4, 'b4', '2026-01-01 00:00:07'), (5, 'a5', '2026-01-01 00:00:08'),
      (6, 'a6', '2026-01-01 00:00:09');
    CREATE VIEW ${name} AS SELECT id, name, updated_at FROM ${name}_rows;`);
  await h.define({
    name,
    source: timestampSource(name, 2),
    target: { site: 'contoso.sharepoint.com:/sites/demo', list: `L_${name}` },
    fields: [{ source: 'name', target: 'Title' }],
  });
}

describe('push write window (review)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('the run out of time ends though the page read ahead shares a row with the page it drops', async () => {
    await createChainedView(h, 'budgetchain');
    // Out of time from the start: page 1 is written (a run always makes progress), page 2 is dropped at its turn
    // while page 3, sharing key 3 with it, is being looked up ahead.
    const summary = await settles(
      'time budget',
      runPush(h.ctx, 'budgetchain', { trigger: 'test', maxSeconds: 0.001 }),
    );
    // Key 2 is held by two rows of the view (a2 here, b2 on page 2): a2 is parked, not written (I13).
    expect(summary).toMatchObject({
      status: 'PARTIAL',
      complete: false,
      created: 1,
      failed: 1,
      processed: 2,
    });
    const items = await h.items('L_budgetchain');
    expect(items.map((i) => String(i.fields.Title)).sort()).toEqual(['a1']);
  });

  it('the run whose page failed ends though the page read ahead shares a row with the page it drops', async () => {
    await createChainedView(h, 'failchain');
    // Page 1's writes fail (recording its pending creates): page 2, looked up once page 1 settled, is dropped
    // at its turn, while page 3, sharing key 3 with it, is being looked up ahead.
    await h.db.pool.query(`
      CREATE FUNCTION arcore.fail_first_page() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.state = 'PENDING_CREATE' AND NEW.source_identity->>'id' = '1' THEN
          RAISE EXCEPTION 'review: page 1 cannot record its creates';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER fail_first_page BEFORE INSERT OR UPDATE ON arcore.sync_ledger
        FOR EACH ROW EXECUTE FUNCTION arcore.fail_first_page();`);
    try {
      const summary = await settles('failed page', runPush(h.ctx, 'failchain', { trigger: 'test' }));
      expect(summary.status).toBe('FAILED');
      expect(summary.error).toContain('page 1 cannot record its creates');
    } finally {
      await h.db.pool.query(
        'DROP TRIGGER fail_first_page ON arcore.sync_ledger; DROP FUNCTION arcore.fail_first_page()',
      );
    }
    expect(await h.items('L_failchain')).toEqual([]);
  });

  it("a page that fails after the loop read past it is the run's error, not the read that failed later", async () => {
    await h.db.pool.query(`
      CREATE TABLE lateread_rows (id integer PRIMARY KEY, name text, updated_at timestamptz NOT NULL);
      INSERT INTO lateread_rows (id, name, updated_at)
        SELECT g, 'r' || g, '2026-01-01'::timestamptz + make_interval(secs => g) FROM generate_series(1, 6) g;
      CREATE FUNCTION review_readable(id integer, name text) RETURNS text LANGUAGE plpgsql AS $$
      BEGIN
        -- Readable until page 1's writes begin (whatever rows a read evaluates this for).
        IF id = 5 AND EXISTS (SELECT 1 FROM arcore.sync_ledger WHERE state = 'PENDING_CREATE') THEN
          RAISE EXCEPTION 'review: row 5 cannot be read';
        END IF;
        RETURN name;
      END $$;
      CREATE VIEW lateread AS SELECT id, review_readable(id, name) AS name, updated_at FROM lateread_rows;
      CREATE FUNCTION arcore.fail_page_one_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.state = 'SYNCED' AND NEW.source_identity->>'id' = '1' THEN
          RAISE EXCEPTION 'review: page 1 cannot commit';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER fail_page_one_commit BEFORE INSERT OR UPDATE ON arcore.sync_ledger
        FOR EACH ROW EXECUTE FUNCTION arcore.fail_page_one_commit();`);
    await h.define({
      name: 'lateread',
      source: timestampSource('lateread', 2),
      target: { site: 'contoso.sharepoint.com:/sites/demo', list: 'L_lateread' },
      fields: [{ source: 'name', target: 'Title' }],
    });
    // Page 1's commit comes after its writes are answered; the loop starts page 2 meanwhile and reads on, and
    // the read of row 5 fails first in time. Page 1 comes first in page order: its failure is the run's error.
    // (The loop before the window had this gap for a commit only; with the window, a page's writes too.)
    h.emulator.control.setLatency(300);
    try {
      const summary = await settles('late read', runPush(h.ctx, 'lateread', { trigger: 'test' }));
      expect(summary.status).toBe('FAILED');
      expect(summary.error).toContain('page 1 cannot commit');
    } finally {
      h.emulator.control.setLatency(0);
      await h.db.pool.query(
        'DROP TRIGGER fail_page_one_commit ON arcore.sync_ledger; DROP FUNCTION arcore.fail_page_one_commit()',
      );
    }
  });

  it('a page whose writes failed while the page before was still out stops the loop before the next page', async () => {
    await h.db.pool.query(`
      CREATE TABLE failsecond (id integer PRIMARY KEY, name text, updated_at timestamptz NOT NULL);
      INSERT INTO failsecond (id, name, updated_at)
        SELECT g, 'r' || g, '2026-01-01'::timestamptz + make_interval(secs => g) FROM generate_series(1, 6) g;
      CREATE FUNCTION arcore.fail_page_two() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.state = 'PENDING_CREATE' AND NEW.source_identity->>'id' = '3' THEN
          RAISE EXCEPTION 'review: page 2 cannot record its creates';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER fail_page_two BEFORE INSERT OR UPDATE ON arcore.sync_ledger
        FOR EACH ROW EXECUTE FUNCTION arcore.fail_page_two();`);
    await h.define({
      name: 'failsecond',
      source: timestampSource('failsecond', 2),
      target: { site: 'contoso.sharepoint.com:/sites/demo', list: 'L_failsecond' },
      fields: [{ source: 'name', target: 'Title' }],
    });
    // Page 1's writes are out (slow answers) when page 2's fail at once: page 3's turn comes after page 1's
    // commit, with page 2's failure known, so page 3 is never written.
    h.emulator.control.setLatency(300);
    try {
      const summary = await settles('second page failed', runPush(h.ctx, 'failsecond', { trigger: 'test' }));
      expect(summary.status).toBe('FAILED');
      expect(summary.error).toContain('page 2 cannot record its creates');
      expect(summary.created).toBe(2);
    } finally {
      h.emulator.control.setLatency(0);
      await h.db.pool.query(
        'DROP TRIGGER fail_page_two ON arcore.sync_ledger; DROP FUNCTION arcore.fail_page_two()',
      );
    }
    const items = await h.items('L_failsecond');
    expect(items.map((i) => String(i.fields.Title)).sort()).toEqual(['r1', 'r2']);
  });
});
