import { prefetchOne, serially, Signal } from '../../../src/core/engine/pipeline';

/** A page source that logs when it starts and finishes producing each page, and may fail at one page. */
function pages(log: string[], count: number, failAt?: number): AsyncGenerator<number> {
  return (async function* () {
    try {
      for (let n = 1; n <= count; n++) {
        log.push(`start ${n}`);
        await new Promise((r) => setImmediate(r));
        if (n === failAt) throw new Error(`reading page ${n} failed`);
        log.push(`ready ${n}`);
        yield n;
      }
    } finally {
      log.push('source closed');
    }
  })();
}

describe('prefetchOne (the page pipeline of issue 23.1)', () => {
  it('hands pages over in order and produces page N+1 while the caller works on page N', async () => {
    const log: string[] = [];
    const seen: number[] = [];
    for await (const n of prefetchOne(pages(log, 3))) {
      seen.push(n);
      await new Promise((r) => setTimeout(r, 5));
      log.push(`committed ${n}`);
    }
    expect(seen).toEqual([1, 2, 3]);
    // Page 2 was read before page 1 was committed; never more than one page ahead.
    expect(log.indexOf('ready 2')).toBeLessThan(log.indexOf('committed 1'));
    expect(log.indexOf('start 3')).toBeGreaterThan(log.indexOf('committed 1'));
  });

  it('an error producing page N+1 surfaces with its own message only after page N is committed', async () => {
    const log: string[] = [];
    const run = async () => {
      for await (const n of prefetchOne(pages(log, 3, 2))) {
        await new Promise((r) => setTimeout(r, 5));
        log.push(`committed ${n}`);
      }
    };
    await expect(run()).rejects.toThrow('reading page 2 failed');
    expect(log).toContain('committed 1');
    expect(log).not.toContain('committed 2');
  });

  it('a caller that stops early waits for the page in flight and closes the source', async () => {
    const log: string[] = [];
    for await (const n of prefetchOne(pages(log, 5))) {
      log.push(`committed ${n}`);
      if (n === 2) break;
    }
    // Page 3 was being produced when the caller stopped: it finished before the loop returned, unused.
    expect(log.slice(-2)).toEqual(['ready 3', 'source closed']);
    expect(log).not.toContain('start 4');
  });

  it('a caller that stops early with a failing prefetch keeps its own outcome', async () => {
    const log: string[] = [];
    const run = async () => {
      for await (const n of prefetchOne(pages(log, 3, 2))) {
        if (n === 1) throw new Error('writing page 1 failed');
      }
    };
    await expect(run()).rejects.toThrow('writing page 1 failed');
    expect(log).toContain('source closed');
  });
});

describe('serially (the unpipelined page loop)', () => {
  it('produces a page only when the caller asks for it', async () => {
    const log: string[] = [];
    for await (const n of serially(pages(log, 2))) log.push(`committed ${n}`);
    expect(log).toEqual([
      'start 1',
      'ready 1',
      'committed 1',
      'start 2',
      'ready 2',
      'committed 2',
      'source closed',
    ]);
  });
});

describe('Signal', () => {
  it('releases every waiter once set', async () => {
    const signal = new Signal();
    const order: string[] = [];
    const waiters = [1, 2].map((i) => signal.done.then(() => order.push(`waiter ${i}`)));
    order.push('set');
    signal.set();
    await Promise.all(waiters);
    expect(order).toEqual(['set', 'waiter 1', 'waiter 2']);
  });
});
