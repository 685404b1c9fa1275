/** Rows that would change list under new routes: from the list a row's item is in, to its new list. */
export interface RouteMove {
  from: string;
  /** The new list, or null: the row matches no route and is no longer synced (unrouted). */
  to: string | null;
  rows: number;
}

export interface RouteMovesReport {
  /** Synced rows read (rows the ledger has an item for and the table still holds). */
  synced: number;
  /** Rows whose item would move to another list (a create and a delete each, 4 resource units). */
  moving: number;
  /** Rows that would match no route and stop being synced. */
  unrouted: number;
  /** Per pair of lists, most rows first. */
  moves: RouteMove[];
}

const fold = (list: string): string => list.trim().toLowerCase();

/** Counts moves from each row's current list to the list new routes give it (null: unrouted). */
export function tallyRouteMoves(rows: Iterable<{ from: string; to: string | null }>): RouteMovesReport {
  const byPair = new Map<string, RouteMove>();
  let synced = 0;
  let moving = 0;
  let unrouted = 0;
  for (const { from, to } of rows) {
    synced++;
    if (to !== null && fold(from) === fold(to)) continue;
    if (to === null) unrouted++;
    else moving++;
    const key = `${fold(from)}\u0000${to === null ? '' : fold(to)}`;
    const pair = byPair.get(key);
    if (pair) pair.rows++;
    else byPair.set(key, { from, to, rows: 1 });
  }
  const moves = [...byPair.values()].sort((a, b) => b.rows - a.rows || a.from.localeCompare(b.from));
  return { synced, moving, unrouted, moves };
}

/** One line per pair: `12 rows "Active" → "Archive"`. */
export function describeRouteMoves(report: RouteMovesReport): string[] {
  if (report.moving === 0 && report.unrouted === 0)
    return [`no synced row changes list (${report.synced} synced rows checked)`];
  return [
    `${report.moving} synced row${report.moving === 1 ? '' : 's'} would move (a create and a delete each)` +
      (report.unrouted > 0 ? `, ${report.unrouted} would match no route and stop syncing (unrouted)` : '') +
      ` of ${report.synced} checked:`,
    ...report.moves.map(
      (m) =>
        `${m.rows} row${m.rows === 1 ? '' : 's'} "${m.from}" → ${m.to === null ? 'unrouted' : `"${m.to}"`}`,
    ),
  ];
}
