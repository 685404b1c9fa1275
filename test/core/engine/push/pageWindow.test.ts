/**
 * The push's write window (push/pageWindow.ts, docs/design.md I5c): pages written back to back, committed in page
 * order, never more than `depth` written and not committed; a failed page stops the loop, and a page written
 * after it commits its ledger rows without its cursor.
 */
import { PageWindow } from '../../../../src/core/engine/push/pageWindow';

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
