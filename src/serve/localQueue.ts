import type { Logger } from '../core/engine/types';

export type WorkKind = 'push' | 'pull';

export interface QueuedWork<M> {
  kind: WorkKind;
  /** Lane key: work of one definition runs one item at a time, in order. */
  definition: string;
  message: M;
  /** 1 on the first delivery, like a storage queue's dequeueCount. */
  attempt: number;
}

export interface LocalQueueOptions<M> {
  /** Runs one delivery; a throw means "deliver again later" (up to maxAttempts). */
  run(work: QueuedWork<M>): Promise<void>;
  /** Called once a message failed maxAttempts times, like the host's `<queue>-poison` handling. */
  poison(work: QueuedWork<M>): Promise<void>;
  log: Logger;
  /** Same as host.json `maxDequeueCount`. */
  maxAttempts?: number;
  /** Delay before delivery n+1 is n × this (the host's visibility timeout, shortened for development). */
  retryDelayMs?: number;
}

/**
 * An in-process stand-in for the storage queues: one lane per definition (its items run one at a time,
 * as the definition lock would force anyway), lanes in parallel, redelivery after a failure and a poison
 * step after the last attempt. `idle()` resolves when nothing is queued, running, waiting to be
 * redelivered, or announced through `track`.
 */
/** What a queue holds at one moment (for messages that must say why it is not idle). */
export interface QueueSnapshot {
  /** Work waiting in a lane, in lane order: `kind definition (attempt n)`. */
  queued: string[];
  /** Definitions whose lane is delivering an item now. */
  running: string[];
  /** Work waiting for its visibility delay or redelivery, with the seconds left. */
  delayed: string[];
  /** Announced work (timer ticks) not settled yet, beyond the items above. */
  tracked: number;
}

export class LocalQueue<M> {
  private readonly lanes = new Map<string, QueuedWork<M>[]>();
  private readonly running = new Set<string>();
  /** Delayed deliveries (visibility delays, redeliveries) and the work each one will queue. */
  private readonly timers = new Map<NodeJS.Timeout, { work: QueuedWork<M>; dueAt: number }>();
  private outstanding = 0;
  private waiters: (() => void)[] = [];
  private stopped = false;
  /** Work enqueued or due after `stop()` began: never delivered. */
  private readonly dropped: QueuedWork<M>[] = [];
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;

  constructor(private readonly options: LocalQueueOptions<M>) {
    this.maxAttempts = options.maxAttempts ?? 5;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
  }

  /**
   * Queues a message; with `delayMs` it becomes visible only then (a storage queue's visibility delay),
   * which is how continuations and busy retries wait without holding a lane.
   */
  enqueue(kind: WorkKind, definition: string, message: M, delayMs = 0): void {
    const work = { kind, definition, message, attempt: 1 };
    if (this.stopped) {
      this.dropped.push(work);
      return;
    }
    if (delayMs <= 0) this.push(work);
    else this.pushLater(work, delayMs);
  }

  /** Counts `work` as outstanding until it settles (timer ticks that are about to enqueue). */
  track<T>(work: Promise<T>): Promise<T> {
    this.outstanding += 1;
    return work.finally(() => this.settle());
  }

  snapshot(): QueueSnapshot {
    const label = (w: QueuedWork<M>) => `${w.kind} ${w.definition} (attempt ${w.attempt})`;
    const queued = [...this.lanes.values()].flat().map(label);
    const delayed = [...this.timers.values()].map(
      ({ work, dueAt }) => `${label(work)} in ${Math.max(0, (dueAt - Date.now()) / 1000).toFixed(1)}s`,
    );
    const running = [...this.running];
    return {
      queued,
      running,
      delayed,
      tracked: this.outstanding - queued.length - running.length - delayed.length,
    };
  }

  idle(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Drops what has not started, cancels redeliveries, and waits for running items. Returns the dropped items:
   * nothing will ever deliver them (the caller releases what stood for them).
   */
  async stop(): Promise<QueuedWork<M>[]> {
    this.stopped = true;
    const dropped = this.dropped;
    for (const [timer, { work }] of this.timers) {
      clearTimeout(timer);
      dropped.push(work);
      this.settle();
    }
    this.timers.clear();
    for (const [definition, lane] of this.lanes) {
      if (lane.length > 0)
        this.options.log.warn(`local queue: dropping ${lane.length} queued item(s) of ${definition}`);
      for (let i = 0; i < lane.length; i++) this.settle();
      dropped.push(...lane);
      lane.length = 0;
    }
    await this.idle();
    return dropped;
  }

  private push(work: QueuedWork<M>): void {
    this.outstanding += 1;
    const lane = this.lanes.get(work.definition) ?? [];
    lane.push(work);
    this.lanes.set(work.definition, lane);
    this.drain(work.definition);
  }

  private drain(definition: string): void {
    if (this.running.has(definition) || this.stopped) return;
    const lane = this.lanes.get(definition);
    const work = lane?.shift();
    if (!work) {
      this.lanes.delete(definition);
      return;
    }
    this.running.add(definition);
    void this.deliver(work).finally(() => {
      this.running.delete(definition);
      this.settle();
      this.drain(definition);
    });
  }

  private async deliver(work: QueuedWork<M>): Promise<void> {
    try {
      await this.options.run(work);
      return;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (work.attempt < this.maxAttempts) {
        if (this.stopped) {
          // It would be delivered again: stopping drops it, it is not a poison.
          this.options.log.warn(
            `local queue: ${work.kind} of ${work.definition} failed (attempt ${work.attempt}): ${reason}; dropped (stopping)`,
          );
          this.dropped.push({ ...work, attempt: work.attempt + 1 });
          return;
        }
        this.options.log.warn(
          `local queue: ${work.kind} of ${work.definition} failed (attempt ${work.attempt}): ${reason}; retrying`,
        );
        this.redeliverLater({ ...work, attempt: work.attempt + 1 });
        return;
      }
      this.options.log.error(
        `local queue: ${work.kind} of ${work.definition} failed ${work.attempt} time(s): ${reason}; poisoned`,
      );
    }
    try {
      await this.options.poison(work);
    } catch (err) {
      this.options.log.error(
        `local queue: poison handling of ${work.kind} ${work.definition} failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  private redeliverLater(work: QueuedWork<M>): void {
    this.pushLater(work, this.retryDelayMs * (work.attempt - 1));
  }

  private pushLater(work: QueuedWork<M>, delayMs: number): void {
    this.outstanding += 1;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      // Enqueue before settling, so the count never touches zero in between (idle() would resolve early).
      if (!this.stopped) this.push(work);
      this.settle();
    }, delayMs);
    this.timers.set(timer, { work, dueAt: Date.now() + delayMs });
  }

  private settle(): void {
    this.outstanding -= 1;
    if (this.outstanding === 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
