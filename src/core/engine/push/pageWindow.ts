/**
 * The write window of a push's page loop (issue 23.1): page N+1's writes start while page N's last batches are
 * still out, so the run's Graph requests (limited per run by the transport) flow without a gap at every page end,
 * and each page is committed as soon as its writes are done and the page before it is committed.
 *
 * - Commits run strictly in page order, so a page's cursor never passes a page that is not committed (I5c).
 * - At most `depth` pages are written and not committed: a crash leaves no more than that many pages whose
 *   creates are only recorded as pending (adopted by the next run, I6) and whose updates are sent again.
 * - A page whose writes failed is not committed and stops the loop (`room` and `drain` throw its error). A page
 *   started after it still finishes its writes, and what they did is committed without its cursor: its ledger rows
 *   are facts about SharePoint whatever happened to the page before, and the cursor stays behind the failed page,
 *   which the next run reads again with the pages after it.
 */
export interface WindowPage<C> {
  /** Sends the page's writes; resolves with what its commit records. */
  write: () => Promise<C>;
  /** Commits the page; `withCursor` is false when a page before it failed (its ledger rows only). */
  commit: (result: C, withCursor: boolean) => Promise<void>;
  /** Called once the page is committed or has failed: pages read ahead may wait for it (push/prefetch.ts). */
  settled: () => void;
}

export class PageWindow {
  /** Commits of the pages started and not yet known committed, in page order. */
  private readonly open: Promise<void>[] = [];
  /** The commit of the last page started (each page's commit waits for it). */
  private last: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | null = null;
  /**
   * Some page's writes failed. Its failure is recorded once the pages before it are committed (page order), but
   * no page starts after it meanwhile: the loop stops at the first failure it could know of.
   */
  private writesFailed = false;
  private started = 0;

  constructor(private readonly depth: number) {
    if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`a page window holds at least one page`);
  }

  /** Pages started so far. */
  get pages(): number {
    return this.started;
  }

  /**
   * Waits until another page may start (fewer than `depth` pages written and not committed). Throws the first
   * failure in page order; once some page's writes failed, it waits for every page started to find it.
   */
  async room(): Promise<void> {
    while (this.open.length >= this.depth || (this.writesFailed && this.open.length > 0)) {
      await this.open[0].catch(() => undefined);
      this.open.shift();
    }
    this.throwFailure();
  }

  /** Starts a page's writes now; its commit follows them and the commit of the page before. */
  start<C>(page: WindowPage<C>): void {
    this.started++;
    const writing = page.write();
    // Held until the commit chain reaches it (this also keeps Node from reporting it unhandled meanwhile).
    writing.catch(() => {
      this.writesFailed = true;
    });
    const before = this.last;
    const committed = (async () => {
      try {
        const beforeOk = await before.then(
          () => true,
          () => false,
        );
        const result = await writing;
        await page.commit(result, beforeOk && this.failure === null);
        if (!beforeOk) throw new Error('a page before this one failed');
      } catch (error) {
        this.failure ??= { error };
        throw error;
      } finally {
        page.settled();
      }
    })();
    committed.catch(() => undefined);
    this.last = committed;
    this.open.push(committed);
  }

  /** Waits for every page started; throws the first failure in page order. */
  async drain(): Promise<void> {
    while (this.open.length > 0) {
      await this.open[0].catch(() => undefined);
      this.open.shift();
    }
    this.throwFailure();
  }

  private throwFailure(): void {
    if (this.failure) throw this.failure.error;
  }
}
