/**
 * The push's write window (push/pageWindow.ts, docs/design.md I5c): pages written back to back, committed in page
 * order, never more than `depth` written and not committed; a failed page stops the loop, and a page written
 * after it commits its ledger rows without its cursor.
 */
import { runPush } from '../../../../src/core/engine/push';
import { PageWindow } from '../../../../src/core/engine/push/pageWindow';
import type { RunSummary } from '../../../../src/core/engine/types';
import { SITE, startHarness, timestampSource, type Harness } from '../../../support/engineHarness';

/** A promise settled from outside, to drive the order in which pages' writes finish. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Recorded {
  commits: { page: number; withCursor: boolean }[];
  settled: number[];
}

function page(n: number, write: Promise<string>, log: Recorded, commit?: () => Promise<void>) {
  return {
    write: () => write,
    commit: async (result: string, withCursor: boolean) => {
      expect(result).toBe(`page ${n}`);
      await commit?.();
      log.commits.push({ page: n, withCursor });
    },
    settled: () => log.settled.push(n),
  };
}

describe('PageWindow (issue 23.1)', () => {
  it('commits in page order even when a later page finishes writing first', async () => {
    const log: Recorded = { commits: [], settled: [] };
    const window = new PageWindow(2);
    const one = deferred<string>();
    const two = deferred<string>();
    await window.room();
    window.start(page(1, one.promise, log));
    await window.room();
    window.start(page(2, two.promise, log));
    two.resolve('page 2');
    await tick();
    expect(log.commits).toEqual([]);
    one.resolve('page 1');
    await window.drain();
    expect(log.commits).toEqual([
      { page: 1, withCursor: true },
      { page: 2, withCursor: true },
    ]);
    expect(log.settled).toEqual([1, 2]);
  });

  it('starts no page while `depth` pages are written and not committed', async () => {
    const log: Recorded = { commits: [], settled: [] };
    const window = new PageWindow(2);
    const writes = [deferred<string>(), deferred<string>()];
    window.start(page(1, writes[0].promise, log));
    window.start(page(2, writes[1].promise, log));
    let roomGiven = false;
    const room = window.room().then(() => (roomGiven = true));
    await tick();
    expect(roomGiven).toBe(false);
    writes[1].resolve('page 2');
    await tick();
    expect(roomGiven).toBe(false); // page 2 is written but page 1 is not: two pages still uncommitted
    writes[0].resolve('page 1');
    await room;
    expect(roomGiven).toBe(true);
    expect(log.commits.map((c) => c.page)).toEqual([1, 2]);
  });

  it('depth 1 is the serial loop: the next page waits for the commit of the one before', async () => {
    const log: Recorded = { commits: [], settled: [] };
    const window = new PageWindow(1);
    const commitGate = deferred<void>();
    window.start(page(1, Promise.resolve('page 1'), log, () => commitGate.promise));
    let roomGiven = false;
    const room = window.room().then(() => (roomGiven = true));
    await tick();
    expect(roomGiven).toBe(false);
    commitGate.resolve();
    await room;
    expect(log.commits).toEqual([{ page: 1, withCursor: true }]);
  });

  it('a failed page is not committed and stops the loop; the page written after it commits without its cursor', async () => {
    const log: Recorded = { commits: [], settled: [] };
    const window = new PageWindow(2);
    const one = deferred<string>();
    window.start(page(1, Promise.resolve('page 1'), log));
    await window.room();
    window.start(page(2, one.promise, log));
    await window.room();
    window.start(page(3, Promise.resolve('page 3'), log));
    one.reject(new Error('Graph refused page 2'));
    await expect(window.room()).rejects.toThrow('Graph refused page 2');
    await expect(window.drain()).rejects.toThrow('Graph refused page 2');
    expect(log.commits).toEqual([
      { page: 1, withCursor: true },
      { page: 3, withCursor: false },
    ]);
    expect(log.settled.sort()).toEqual([1, 2, 3]);
  });

  it('reports the first failure in page order, not the first in time', async () => {
    const log: Recorded = { commits: [], settled: [] };
    const window = new PageWindow(2);
    const one = deferred<string>();
    const two = deferred<string>();
    window.start(page(1, one.promise, log));
    window.start(page(2, two.promise, log));
    two.reject(new Error('second page failed first'));
    await tick();
    one.reject(new Error('first page failed later'));
    await expect(window.drain()).rejects.toThrow('first page failed later');
    expect(log.commits).toEqual([]);
  });

  it('a failed commit stops the loop with its own error; later pages commit without the cursor', async () => {
    const log: Recorded = { commits: [], settled: [] };
    const window = new PageWindow(2);
    window.start(
      page(1, Promise.resolve('page 1'), log, () => Promise.reject(new Error('cursor write refused'))),
    );
    window.start(page(2, Promise.resolve('page 2'), log));
    await expect(window.drain()).rejects.toThrow('cursor write refused');
    expect(log.commits).toEqual([{ page: 2, withCursor: false }]);
  });

  it('refuses a depth below one', () => {
    expect(() => new PageWindow(0)).toThrow(/at least one page/);
  });
});

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

/** Definition `name` of table or view `name`, 2 rows a page, name → Title, into list L_`name`. */
async function defineTwoRowPages(h: Harness, name: string): Promise<void> {
  await h.define({
    name,
    source: timestampSource(name, 2),
    target: { site: SITE, list: `L_${name}` },
    fields: [{ source: 'name', target: 'Title' }],
  });
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
  await defineTwoRowPages(h, name);
}

/** Rows 1 to 6 of table `table` (id, name, updated_at), one second apart. */
const sixRows = (table: string) =>
  `INSERT INTO ${table} (id, name, updated_at)
    SELECT g, 'r' || g, '2026-01-01'::timestamptz + make_interval(secs => g) FROM generate_series(1, 6) g`;

/**
 * A trigger on the ledger that refuses the write of row `id`'s entry in `state` with `message`, until the
 * returned function drops it.
 */
async function refuseLedgerWrite(
  h: Harness,
  fn: string,
  state: 'PENDING_CREATE' | 'SYNCED',
  id: string,
  message: string,
): Promise<() => Promise<unknown>> {
  await h.db.pool.query(`
    CREATE FUNCTION arcore.${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.state = '${state}' AND NEW.source_identity->>'id' = '${id}' THEN
        RAISE EXCEPTION '${message}';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER ${fn} BEFORE INSERT OR UPDATE ON arcore.sync_ledger
      FOR EACH ROW EXECUTE FUNCTION arcore.${fn}();`);
  return () => h.db.pool.query(`DROP TRIGGER ${fn} ON arcore.sync_ledger; DROP FUNCTION arcore.${fn}()`);
}

describe('the push write window in runPush: pages written while the page before is still out (I5c, I6, I16)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  /** Runs `body` with every Graph answer `latencyMs` late, then drops the ledger trigger `refusal`. */
  async function whileRefused<T>(
    refusal: () => Promise<unknown>,
    body: () => Promise<T>,
    latencyMs = 0,
  ): Promise<T> {
    h.emulator.control.setLatency(latencyMs);
    try {
      return await body();
    } finally {
      h.emulator.control.setLatency(0);
      await refusal();
    }
  }

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
    const refusal = await refuseLedgerWrite(
      h,
      'fail_first_page',
      'PENDING_CREATE',
      '1',
      'page 1 cannot record its creates',
    );
    await whileRefused(refusal, async () => {
      const summary = await settles('failed page', runPush(h.ctx, 'failchain', { trigger: 'test' }));
      expect(summary.status).toBe('FAILED');
      expect(summary.error).toContain('page 1 cannot record its creates');
    });
    expect(await h.items('L_failchain')).toEqual([]);
  });

  it("a page that fails after the loop read past it is the run's error, not the read that failed later", async () => {
    await h.db.pool.query(`
      CREATE TABLE lateread_rows (id integer PRIMARY KEY, name text, updated_at timestamptz NOT NULL);
      ${sixRows('lateread_rows')};
      CREATE FUNCTION readable_until_writes(id integer, name text) RETURNS text LANGUAGE plpgsql AS $$
      BEGIN
        -- Readable until page 1's writes begin (whatever rows a read evaluates this for).
        IF id = 5 AND EXISTS (SELECT 1 FROM arcore.sync_ledger WHERE state = 'PENDING_CREATE') THEN
          RAISE EXCEPTION 'row 5 cannot be read';
        END IF;
        RETURN name;
      END $$;
      CREATE VIEW lateread AS SELECT id, readable_until_writes(id, name) AS name, updated_at FROM lateread_rows;`);
    const refusal = await refuseLedgerWrite(h, 'fail_page_one_commit', 'SYNCED', '1', 'page 1 cannot commit');
    await defineTwoRowPages(h, 'lateread');
    // Page 1's commit comes after its writes are answered; the loop starts page 2 meanwhile and reads on, and
    // the read of row 5 fails first in time. Page 1 comes first in page order: its failure is the run's error.
    // (The loop before the window had this gap for a commit only; with the window, a page's writes too.)
    await whileRefused(
      refusal,
      async () => {
        const summary = await settles('late read', runPush(h.ctx, 'lateread', { trigger: 'test' }));
        expect(summary.status).toBe('FAILED');
        expect(summary.error).toContain('page 1 cannot commit');
      },
      300,
    );
  });

  it('a page whose writes failed while the page before was still out stops the loop before the next page', async () => {
    await h.db.pool.query(`
      CREATE TABLE failsecond (id integer PRIMARY KEY, name text, updated_at timestamptz NOT NULL);
      ${sixRows('failsecond')}`);
    const refusal = await refuseLedgerWrite(
      h,
      'fail_page_two',
      'PENDING_CREATE',
      '3',
      'page 2 cannot record its creates',
    );
    await defineTwoRowPages(h, 'failsecond');
    // Page 1's writes are out (slow answers) when page 2's fail at once: page 3's turn comes after page 1's
    // commit, with page 2's failure known, so page 3 is never written.
    await whileRefused(
      refusal,
      async () => {
        const summary = await settles(
          'second page failed',
          runPush(h.ctx, 'failsecond', { trigger: 'test' }),
        );
        expect(summary.status).toBe('FAILED');
        expect(summary.error).toContain('page 2 cannot record its creates');
        expect(summary.created).toBe(2);
      },
      300,
    );
    const items = await h.items('L_failsecond');
    expect(items.map((i) => String(i.fields.Title)).sort()).toEqual(['r1', 'r2']);
  });
});
