import type { DeltaPage } from '../../target/sharepoint';
import type { RunScope } from '../runner';
import { rethrowUnlessListGone } from '../listGone';

/** One delta page and how long reading it took (without any wait for the page before it). */
export interface PageRead {
  page: DeltaPage;
  ms: number;
}

/** Reads the delta page at `link` (the list's first enumeration when undefined). */
async function readPage(scope: RunScope, link: string | undefined): Promise<PageRead> {
  const asked = Date.now();
  const feed = scope.target.deltaPages(scope.siteId, scope.listId, {
    deltaLink: link,
    select: scope.plan.select,
  });
  try {
    // I15: the feed of a list gone answers 404; the run then says so (relink), not "check the name".
    const first = await feed.next().catch((err: unknown) => rethrowUnlessListGone(scope, scope.listId, err));
    // deltaPages yields at least one page or throws: an empty feed would be a broken target.
    if (first.done) throw new Error(`the delta feed of list ${scope.listId} ended without a page`);
    // Counted as read (its reads by id are spent), whether or not the page is applied or read again later.
    if (first.value.readAgain?.length) noteReadAgain(scope, first.value.readAgain.length);
    return { page: first.value, ms: Date.now() - asked };
  } finally {
    await feed.return(undefined);
  }
}

const idOf = (entry: DeltaPage['entries'][number]): string =>
  entry.kind === 'deleted' ? entry.id : entry.item.id;

/**
 * The delta feed read one page ahead: while page N is applied to Postgres, page N+1 is already being read.
 *
 * Holding a page read ahead is safe because nothing about it is committed: page N commits its own nextLink (the
 * address page N+1 was read from) with its rows and ledger entries, so a crash, a failed read of N+1 or a run out
 * of time resumes at page N+1, never beyond it (I5c, I6). A read's failure is kept until `take` asks for that
 * page, so it surfaces only after the page before it is applied, as in the one-page-at-a-time loop.
 */
export class PagesAhead {
  private held: { link: string; read: Promise<PageRead> } | null = null;

  constructor(
    private readonly scope: RunScope,
    /** false: read each page only once the page before it is applied (the loop before pipelining). */
    private readonly enabled: boolean,
  ) {}

  /** Starts reading the page at `link`, unless reading ahead is off. */
  readAhead(link: string): void {
    if (!this.enabled) return;
    const read = readPage(this.scope, link);
    // Observed here so that a failure waits, unreported, until `take` asks for this page.
    read.catch(() => undefined);
    this.held = { link, read };
  }

  /** The page at `link`: the one read ahead when it was, read now otherwise. */
  async take(link: string | undefined): Promise<PageRead> {
    const held = this.held;
    this.held = null;
    if (held && held.link === link) return held.read;
    if (held) await held.read.catch(() => undefined);
    return readPage(this.scope, link);
  }

  /**
   * Forgets the page read ahead at `link` when it shows one of `itemIds`: the page before it wrote those items back
   * to SharePoint after it was read, so it may show them as they were before (and pull that old state back into
   * Postgres). `take` then reads it again, after the write, as the one-page-at-a-time loop would have.
   */
  async forgetIfShows(link: string, itemIds: Set<string>): Promise<void> {
    const held = this.held;
    if (itemIds.size === 0 || !held || held.link !== link) return;
    const page = await held.read.catch(() => null);
    if (page && page.page.entries.some((e) => itemIds.has(idOf(e)))) {
      this.held = null;
      this.scope.details.pagesReadAgain = ((this.scope.details.pagesReadAgain as number) ?? 0) + 1;
    }
  }

  /** Waits out a read still in flight (its page unused), so that no request of the run outlives it. */
  async close(): Promise<void> {
    const held = this.held;
    this.held = null;
    if (held) await held.read.catch(() => undefined);
  }
}

/**
 * Items the feed carried without their fields and the target read again by id (1 resource unit each, I12): counted
 * in the run's details (`itemsReadAgain`), and said once per run, since it means the tenant's delta pages do not do
 * what the engine assumes (conformance `delta.changePagesCarryFields`).
 */
function noteReadAgain(scope: RunScope, count: number): void {
  const before = (scope.details.itemsReadAgain as number | undefined) ?? 0;
  scope.details.itemsReadAgain = before + count;
  if (before === 0)
    scope.ctx.log.warn(
      `${scope.def.name}: the delta feed carried item(s) without their fields; each was read again by id (1 resource ` +
        'unit each). Run "npx arcore-sync conformance" (check delta.changePagesCarryFields) to see why',
    );
}
