/**
 * A push page read ahead (issue 23.1): canonicalised and looked up in the ledger while the page before it is still
 * being written. The look-up is safe ahead of time for every row the page in flight does not carry, because a
 * page's commit changes only its own rows' ledger entries and conflicts (I11: no other run of the definition
 * writes them meanwhile). A row on both pages (updated between the two reads, so its cursor moved forward) may
 * be about to get its item from the page in flight: the look-up then waits for that page to settle, or it would
 * miss that create and create the item a second time (I6). "In flight" is every page not yet settled: while
 * page N is written, page N-1's commit may still be running, and a row of page N-1 changed since can be on
 * page N+1 (test/review/pipelineInteractions.test.ts).
 */
import type { SourceRow } from '../../source/postgres/PostgresSource';
import { Signal } from '../pipeline';
import type { RunScope } from '../runner';
import { lookupPage, preparePage, type PageLookup, type PreparedPage } from './rows';

export interface PushPage {
  rows: SourceRow[];
  /** How long reading the rows took (ms), for the page's progress event. */
  readMs: number;
  prepared: PreparedPage;
  lookup: PageLookup;
  /** Set by the page loop once the page is committed or has failed: pages after it may look up its rows. */
  settled: Signal;
  /** Pages whose look-up waited for the page before to settle (a row on both): for the run's details. */
  waitedForPrevious: boolean;
}

/**
 * Canonicalises `rows` and looks them up, after each page of `before` (the pages produced earlier that may not
 * be settled yet) settles if it carries any of the same rows.
 */
export async function preparePushPage(
  scope: RunScope,
  rows: SourceRow[],
  readMs: number,
  before: PushPage | readonly PushPage[] | null,
): Promise<PushPage> {
  const prepared = await preparePage(scope, rows);
  const pages = before === null ? [] : 'prepared' in before ? [before] : before;
  let shared = false;
  for (const page of pages) {
    if (page.settled.fired) continue;
    const inFlight = new Set(page.prepared.hashes);
    if (!prepared.hashes.some((h) => inFlight.has(h))) continue;
    shared = true;
    await page.settled.done;
  }
  const lookup = await lookupPage(scope, prepared.hashes);
  return { rows, readMs, prepared, lookup, settled: new Signal(), waitedForPrevious: shared };
}

/** The pages of `pages` not settled yet, and `page`: what the page after `page` must not look up ahead of. */
export function unsettledWith(pages: readonly PushPage[], page: PushPage): PushPage[] {
  return [...pages.filter((p) => !p.settled.fired), page];
}
