import type { ProgressEvent } from '../../src/core/engine/types';
import type { RunningEmulator } from '../../src/emulator';

/**
 * A progress listener that has the emulator answer the next `$batch` 429 (Retry-After `retryAfterSeconds`) once the
 * first batch's answer is traced: the first batch goes through, the one after it meets the block. (A page's end event
 * would come too late: the pipelined push commits a page while the next is written.)
 */
export function throttleAfterFirstBatch(
  emulator: RunningEmulator,
  retryAfterSeconds: number,
): (e: ProgressEvent) => void {
  let batches = 0;
  return (e) => {
    if (e.trace?.kind === 'batch' && ++batches === 1)
      emulator.control.injectFault({
        method: 'POST',
        pathPattern: '\\$batch$',
        count: 1,
        status: 429,
        retryAfterSeconds,
      });
  };
}
