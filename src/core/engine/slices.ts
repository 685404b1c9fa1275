/**
 * Long per-row loops of a page run in slices, so that I/O is answered between them (issue 23.1).
 *
 * A push page of 1,000 rows takes 10–55 ms of one thread to canonicalise, and as long again to record its writes'
 * outcomes. Run in one go, such a loop holds the event loop while Graph answers the batches in flight: each answer
 * waits until the loop ends before its slot is given the next batch, so Graph sits idle for part of every page
 * (measured in the benchmark's scenario 3 as slots not all busy and a long tail of batch round trips). Between
 * slices of about SLICE_MS, `setImmediate` lets the answers that arrived meanwhile be read first.
 */
import { performance } from 'node:perf_hooks';

/** Longest a loop runs before letting pending I/O through, ms: under a twentieth of a 20 ms round trip. */
export const SLICE_MS = 2;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Slices {
  private sliceStart = performance.now();

  /**
   * Call once per iteration: resolves at once (no turn of the event loop) within a slice, and after SLICE_MS lets
   * pending I/O callbacks run before the loop goes on.
   */
  async next(): Promise<void> {
    if (performance.now() - this.sliceStart < SLICE_MS) return;
    await nextTurn();
    this.sliceStart = performance.now();
  }
}
