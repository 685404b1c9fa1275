/**
 * A bounded one-ahead pipeline for page loops (issue 23.1): while the caller works on page N (writes it, commits
 * its cursor), page N+1 is already being produced (read, canonicalised, looked up). At most one page is produced
 * ahead, so memory stays at two pages.
 *
 * Ordering and errors: pages reach the caller in the source's order. An error producing page N+1 is held until
 * the caller asks for N+1, i.e. after it has finished (and committed) page N; it then surfaces as it was thrown,
 * with its own message. A caller that stops early (time budget, an error of its own) leaves the loop; the page
 * produced ahead is then awaited and dropped, so no read outlives the run, and its error, if any, is not reported
 * (the caller's own outcome is).
 */
export async function* prefetchOne<T>(source: AsyncIterator<T>): AsyncGenerator<T, void, undefined> {
  let ahead: Promise<IteratorResult<T>> | null = source.next();
  try {
    for (;;) {
      const current: IteratorResult<T> = await ahead;
      ahead = null;
      if (current.done) return;
      ahead = source.next();
      // Not lost: awaited on the next turn (or in `finally`); this only keeps Node from calling it unhandled.
      ahead.catch(() => undefined);
      yield current.value;
    }
  } finally {
    if (ahead) {
      const pending = ahead;
      ahead = null;
      const finished = await pending.then(
        (r) => r.done === true,
        () => true,
      );
      if (!finished) await source.return?.();
    }
  }
}

/**
 * A page loop's source run serially: the next page is produced only when the caller asks for it. The same
 * interface as `prefetchOne`, for callers (and benchmarks) that must compare with the unpipelined loop.
 */
export async function* serially<T>(source: AsyncIterator<T>): AsyncGenerator<T, void, undefined> {
  try {
    for (;;) {
      const current = await source.next();
      if (current.done) return;
      yield current.value;
    }
  } finally {
    await source.return?.();
  }
}

/** A signal one stage gives another: resolved once, awaited by any number (e.g. "page N is settled"). */
export class Signal {
  readonly done: Promise<void>;
  private fire!: () => void;
  private isSet = false;

  constructor() {
    this.done = new Promise<void>((resolve) => (this.fire = resolve));
  }

  /** Whether `set` was called. */
  get fired(): boolean {
    return this.isSet;
  }

  set(): void {
    this.isSet = true;
    this.fire();
  }
}
