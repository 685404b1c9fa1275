import { performance } from 'node:perf_hooks';
import { SLICE_MS, Slices } from '../../../src/core/engine/slices';

/** Busy-waits `ms` on this thread, as a page's canonicalisation does. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // holds the thread
  }
}

describe("a long loop run in slices (docs/design.md, I5: the page loop's slices)", () => {
  it('lets I/O callbacks queued during the loop run before it ends', async () => {
    const slices = new Slices();
    const seenAtIteration: number[] = [];
    let iteration = 0;
    // Queued while the loop runs: a synchronous loop would only let it run after its last iteration.
    setImmediate(() => seenAtIteration.push(iteration));
    for (iteration = 0; iteration < 20; iteration++) {
      spin(SLICE_MS / 2);
      await slices.next();
    }
    expect(seenAtIteration).toHaveLength(1);
    expect(seenAtIteration[0]).toBeLessThan(20);
  });
});
