import type { RunSummary } from '../core/engine/types';
import type { FunctionsRuntime } from './runtime';

/**
 * How the queue workers send work on instead of failing (I16): a run that stopped at its time budget is
 * continued by a new message; a message that found its definition busy is sent again after a delay. The
 * poison queues then only see genuine failures.
 */
export interface QueueDelays {
  /** Delay before a message that found its definition locked is delivered again. */
  busyRetryMs: number;
  /** Longest a worker waits inside one invocation for a message's `notBefore`; longer waits hop. */
  maxInlineWaitMs: number;
  /** Re-sends of one busy message before it is dropped (a lock held that long is a stuck holder). */
  maxBusyHops: number;
}

export const DEFAULT_QUEUE_DELAYS: QueueDelays = {
  busyRetryMs: 30_000,
  maxInlineWaitMs: 60_000,
  maxBusyHops: 240,
};

export function queueDelaysOf(runtime: FunctionsRuntime): QueueDelays {
  return { ...DEFAULT_QUEUE_DELAYS, ...runtime.queueDelays };
}

interface Relayed {
  notBefore?: string;
  hops?: number;
  continues?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * Waits until the message's `notBefore`, at most `maxInlineWaitMs`. False when it is still early after
 * that: the caller sends the message on unchanged (a hop) instead of holding the invocation longer.
 */
export async function awaitNotBefore(message: Relayed, delays: QueueDelays): Promise<boolean> {
  if (!message.notBefore) return true;
  const dueIn = Date.parse(message.notBefore) - Date.now();
  if (dueIn <= 0) return true;
  await sleep(Math.min(dueIn, delays.maxInlineWaitMs));
  return dueIn <= delays.maxInlineWaitMs;
}

/** The message that continues an unfinished run, after the wait that stopped it when there was one. */
export function continuationOf<M extends Relayed & { trigger: string }>(message: M, summary: RunSummary): M {
  return {
    ...message,
    trigger: 'continuation',
    hops: 0,
    continues: (message.continues ?? 0) + 1,
    enqueuedAt: new Date().toISOString(),
    notBefore: summary.resumeAfter ?? undefined,
  };
}

/** The same message again after `busyRetryMs`, or null once it has been re-sent `maxBusyHops` times. */
export function busyRetryOf<M extends Relayed>(message: M, delays: QueueDelays): M | null {
  const hops = (message.hops ?? 0) + 1;
  if (hops > delays.maxBusyHops) return null;
  return { ...message, hops, notBefore: new Date(Date.now() + delays.busyRetryMs).toISOString() };
}
