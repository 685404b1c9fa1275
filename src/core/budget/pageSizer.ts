/** The first page of a run reads at most this many rows, until the time a page takes is known. */
const FIRST_PAGE_ROWS = 100;
const MIN_PAGE_ROWS = 20;

/**
 * Sizes a push's pages so that one page stays well inside the run's time budget (I16): a run can only
 * stop between pages, and at a small shared budget a page of 1,000 rows (2,000 resource units) can take
 * minutes. Pages start small, double while a page takes under 1/40 of the budget, and halve when one
 * takes over 1/10, never beyond the definition's `pageSize`.
 */
export class PageSizer {
  private size: number;

  constructor(
    private readonly maxRows: number,
    private readonly budgetMs: number,
  ) {
    this.size = Number.isFinite(budgetMs) ? Math.min(maxRows, FIRST_PAGE_ROWS) : maxRows;
  }

  get rows(): number {
    return this.size;
  }

  record(rowsRead: number, elapsedMs: number): void {
    if (!Number.isFinite(this.budgetMs)) return;
    if (elapsedMs > this.budgetMs / 10)
      this.size = Math.max(Math.min(MIN_PAGE_ROWS, this.maxRows), Math.floor(this.size / 2));
    else if (elapsedMs < this.budgetMs / 40 && rowsRead >= this.size)
      this.size = Math.min(this.maxRows, this.size * 2);
  }
}
