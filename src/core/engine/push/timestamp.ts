/**
 * The push of a TIMESTAMP definition: deletes within a share of the run's time (I8, I16), then pages after the
 * stored keyset cursor, minus the overlap window (I5a, I5b), each committed with its cursor only after its writes
 * and ledger rows (I5c), then the delete reconciliation again with the time left (I8).
 * Pipelined (issue 23.1): page N+1 is read, canonicalised and looked up while page N is written (push/prefetch.ts
 * says why the look-up is safe ahead of time); page N+1's writes start while page N's last batches are out, and
 * page N's commit runs while page N+1 is written (push/pageWindow.ts). Commits stay in page order, and page N+2 is
 * not written before page N is committed: a crash leaves at most two pages of writes without their commit, whose
 * creates are recorded as pending and adopted by the next run (I6).
 */
import { RunTimeBudgetError } from '../../budget/errors';
import { PageSizer } from '../../budget/pageSizer';
import { keysetCursor, type KeysetPosition } from '../../cursor/timestampCursor';
import { leaveCapture, parseLsnCursor } from '../../capture/lsn';
import { readCursor } from '../../store/cursors';
import { notDueItemKeys } from '../../store/failures';
import { prefetchOne, serially } from '../pipeline';
import { keyOf } from '../plan';
import type { RunScope } from '../runner';
import { isBefore, windowStart } from './cursorValues';
import { DELETE_SHARE, reconcileDeletes } from './deletes';
import { preparePushPage, unsettledWith, type PushPage } from './prefetch';
import { commitPage } from './page';
import { PageWindow } from './pageWindow';
import { holdBackParked, writePrepared } from './rows';
import {
  clearResumePosition,
  keepOwedWindow,
  keptFor,
  owedWindow,
  saveResumePosition,
} from './resumePosition';

/** A page of the TIMESTAMP loop: the keyset position after its last row, and whether to store it. */
interface TimestampPage extends PushPage {
  next: KeysetPosition;
  /** The page is inside the overlap window, behind the stored cursor: the cursor is not moved back. */
  behindCursor: boolean;
  /** Fewer rows than asked: the last page. */
  last: boolean;
}

export async function pushSinceCursor(scope: RunScope): Promise<void> {
  const { ctx, def, source, definitionId } = scope;
  const stored = await readCursor(ctx.meta, definitionId, 'SOURCE');
  // Switched from LSN: the slot is dropped and the whole table compared with the ledger (nothing rewritten).
  const switched = stored?.value && parseLsnCursor(stored.value) ? await leaveCapture(scope) : false;
  const cursorValue = stored?.value && !switched ? stored.value : null;
  const position = cursorValue ? keysetCursor.parse(def.name, cursorValue) : null;
  // Start the overlap window behind the cursor: late commits with older timestamps are read again (I5b).
  let since: string | null = null;
  let start: { after: KeysetPosition } | { since: string } | null = null;
  // Where a run stopped before it got past the cursor it started with, and the window start still owed a re-read
  // (push/resumePosition.ts).
  const kept = cursorValue ? keptFor(stored?.progress ?? null, cursorValue) : null;
  // A continuation's: the window start it passes on with every cursor it commits, until a run reads from it again.
  let owed: string | null = null;
  if (position) {
    since = await windowStart(scope, position.ts, def.source.overlapSeconds);
    // Late commits behind where a stopped run got to are read from the window it began with (review C).
    if (kept?.from && (await isBefore(scope, kept.from, since))) since = kept.from;
    // Its continuation goes on from there instead of reading the same window again (I16).
    if (kept?.resume && !(await isBefore(scope, kept.resume.ts, since))) {
      start = { after: kept.resume };
      owed = since;
    }
    // A parked row the overlap window reads again at a version already pushed waits for its retry (I5c).
    holdBackParked(scope, await notDueItemKeys(ctx.meta, definitionId, 'PUSH'), position.ts);
  }
  // Deletes first, within a share of the run's time: a backlog of pages longer than one run (a first load, a
  // catch-up) would otherwise keep them waiting until it is all read (I8, I16). No page is in flight yet, and each
  // delete is decided by the table as it is now, so a row deleted and inserted again keeps its item.
  await reconcileDeletes(scope, { shareMs: scope.timeLeft() * DELETE_SHARE });
  const total = ctx.onProgress ? await source.countSince(since) : null;
  const sizer = new PageSizer(def.source.pageSize, scope.timeLeft());
  start ??= since ? { since } : null;
  const pages = readPages(scope, start, sizer, position);
  const pipelined = ctx.pipelinedPush !== false;
  // Pipelined: two pages written and not committed at most (I5c); serial: each page committed before the next.
  const window = new PageWindow(pipelined ? 2 : 1);
  let done = 0;
  let lastCommitAt = Date.now();
  // Where the next run starts when the time budget stops this one: after the last page started.
  let resumeAt: KeysetPosition | null = null;
  // The cursor value the last page committed (the cursor the run started with until one does).
  let committedCursor = cursorValue;
  try {
    for await (const page of pipelined ? prefetchOne(pages) : serially(pages)) {
      // A page the loop takes and does not write (the run stops first) is settled all the same: the page read
      // ahead after it may be waiting for it (a row on both), and leaving the loop waits for that page.
      let started = false;
      try {
        await window.room();
        // The run out of time stops once the pages started are committed; the next one resumes (I16). The page
        // read ahead is dropped unwritten and uncounted; the next run reads it again.
        if (resumeAt && scope.timeLeft() <= 0) {
          await window.drain();
          // Not past the cursor it started with (the window, or rows of the cursor's timestamp): its continuation
          // goes on after the pages started, all committed now (drain). One past it has moved the cursor on.
          // The window start it began with goes with it: its reads there may have missed late commits.
          if (
            position &&
            since &&
            committedCursor &&
            !scope.dryRun &&
            !(await isBefore(scope, position.ts, resumeAt.ts))
          )
            await saveResumePosition(ctx.meta, definitionId, committedCursor, resumeAt, since);
          scope.stopIncomplete('time budget spent');
          // For `status`: rows at or after the cursor (the overlap re-reads a few; an estimate).
          scope.details.rowsLeft = await source.countSince(resumeAt.ts);
          return;
        }
        // Emitted when the page's turn comes, not when it was read: traces stay in page order.
        ctx.onProgress?.({
          runType: 'PUSH',
          definition: def.name,
          done,
          total,
          throttleWaitMs: 0,
          trace: { kind: 'page', rows: page.rows.length, ms: page.readMs },
        });
        const rows = page.rows.length;
        const cursor = page.behindCursor ? null : page.next;
        // A continuation's cursor keeps the window still owed (one moved without it would drop it, review C).
        const keep = cursor && owed ? owedWindow(keysetCursor.serialize(cursor), owed) : null;
        window.start({
          write: () => writePrepared(scope, page.prepared, page.lookup),
          commit: async (commit, withCursor) => {
            await commitPage(scope, commit, withCursor ? cursor : null, keep);
            if (withCursor && cursor) committedCursor = keysetCursor.serialize(cursor);
            done += rows;
            // The page's share of the run's time: from the commit before it to its own (pages overlap).
            sizer.record(rows, Date.now() - lastCommitAt);
            lastCommitAt = Date.now();
            ctx.onProgress?.({
              runType: 'PUSH',
              definition: def.name,
              done,
              total,
              throttleWaitMs: scope.target.stats().throttleWaitMs,
            });
          },
          settled: () => page.settled.set(),
        });
        started = true;
      } finally {
        if (!started) page.settled.set();
      }
      resumeAt = page.next;
      if (page.last) break;
    }
    await window.drain();
    // A continuation ended: the next run reads again from the window its stopped run began with, for late commits
    // behind where this one went on. Another run ended, having read from there: nothing is owed any more.
    if (kept && committedCursor && !scope.dryRun) {
      if (owed) await keepOwedWindow(ctx.meta, definitionId, committedCursor, owed);
      else await clearResumePosition(ctx.meta, definitionId, committedCursor);
    }
  } catch (err) {
    // Failing: pages still writing or committing finish (or fail) before the run reports, so no write outlives
    // the run. A page started before the failure (a read ahead, a page's turn) comes first in page order: its
    // own failure is the run's error, as `room` and `drain` report it.
    const drained = await window.drain().then(
      () => null,
      (error: unknown) => ({ error }),
    );
    const failure = drained ? drained.error : err;
    // Stopped by a wait that would pass the run's deadline (a throttle block or the budget, I16): not a failure. As
    // after a stop at a page boundary, `status` shows the rows left, from the cursor the next run starts at.
    if (failure instanceof RunTimeBudgetError)
      scope.details.rowsLeft = await source.countSince(
        committedCursor ? keysetCursor.parse(def.name, committedCursor).ts : since,
      );
    throw failure;
  }
  // The rest with the time left: deletes the share before the pages left, and those made while the pages were
  // written. Switched from LSN: deletes made since the slot's last read are found by one full comparison now.
  await reconcileDeletes(scope, { force: switched });
}

/**
 * The loop's pages in keyset order. A page's size is the sizer's when it is read: read ahead, it lags one page
 * behind the sizer's last record (at most one page too large after a slow one, I16).
 */
async function* readPages(
  scope: RunScope,
  start: { after: KeysetPosition } | { since: string } | null,
  sizer: PageSizer,
  stored: KeysetPosition | null,
): AsyncGenerator<TimestampPage> {
  const { def, source } = scope;
  let from: { after: KeysetPosition } | { since: string } | null = start;
  // Pages produced before that may still be written or committing (page N-1's commit runs while page N is).
  let unsettled: PushPage[] = [];
  for (;;) {
    const size = sizer.rows;
    const started = Date.now();
    const rows = await source.readPage(from, size);
    if (rows.length === 0) return;
    const readMs = Date.now() - started;
    const lastRow = rows[rows.length - 1];
    const next: KeysetPosition = { ts: lastRow.cursor as string, key: keyOf(def, lastRow.values) };
    // Never move the stored cursor backwards when re-reading the overlap window.
    const behindCursor = stored ? await isBefore(scope, next.ts, stored.ts) : false;
    const page: TimestampPage = {
      ...(await preparePushPage(scope, rows, readMs, unsettled)),
      next,
      behindCursor,
      last: rows.length < size,
    };
    if (page.waitedForPrevious)
      scope.details.pagesWaitingForPrevious = ((scope.details.pagesWaitingForPrevious as number) ?? 0) + 1;
    yield page;
    if (page.last) return;
    unsettled = unsettledWith(unsettled, page);
    from = { after: next };
  }
}
