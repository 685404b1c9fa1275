import { PageSizer } from '../../../src/core/budget/pageSizer';

describe('I16 pages sized to the run time budget', () => {
  it('starts small, doubles while pages are quick, and never exceeds the definition pageSize', () => {
    const pages = new PageSizer(1000, 1_500_000);
    expect(pages.rows).toBe(100);
    pages.record(100, 1_000);
    expect(pages.rows).toBe(200);
    pages.record(200, 1_000);
    pages.record(400, 1_000);
    pages.record(800, 1_000);
    expect(pages.rows).toBe(1000);
  });

  it('halves a page that took over a tenth of the budget (a small shared budget), down to 20 rows', () => {
    const pages = new PageSizer(1000, 1_500_000);
    pages.record(100, 200_000);
    expect(pages.rows).toBe(50);
    for (let i = 0; i < 5; i++) pages.record(pages.rows, 200_000);
    expect(pages.rows).toBe(20);
  });

  it('keeps the pageSize when there is no time budget, and a short last page does not grow it', () => {
    expect(new PageSizer(500, Number.POSITIVE_INFINITY).rows).toBe(500);
    const pages = new PageSizer(1000, 60_000);
    pages.record(30, 10);
    expect(pages.rows).toBe(100);
  });
});
