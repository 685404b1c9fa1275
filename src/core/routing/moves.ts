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
  /**
   * Rows kept without an item (ITEM_DELETED: their item deleted in SharePoint under deletes.pull IGNORE) whose list
   * would change: not moved (there is no item) and not in `synced`; they follow their route without an item.
   */
  itemDeleted: number;
  /** Per pair of lists, most rows first. */
  moves: RouteMove[];
}

const fold = (list: string): string => list.trim().toLowerCase();

/**
 * Counts moves from each row's current list to the list new routes give it (null: unrouted). A row held without an
 * item (`itemDeleted`) is counted apart when its list changes: it has nothing to move.
 */
export function tallyRouteMoves(
  rows: Iterable<{ from: string; to: string | null; itemDeleted?: boolean }>,
): RouteMovesReport {
  const byPair = new Map<string, RouteMove>();
  let synced = 0;
  let moving = 0;
  let unrouted = 0;
  let itemDeleted = 0;
  for (const { from, to, itemDeleted: held } of rows) {
    if (held) {
      if (to === null || fold(from) !== fold(to)) itemDeleted++;
      continue;
    }
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
  return { synced, moving, unrouted, itemDeleted, moves };
}

/** One line per pair: `12 rows "Active" → "Archive"`. */
export function describeRouteMoves(report: RouteMovesReport): string[] {
  const held = report.itemDeleted ?? 0;
  const heldLines =
    held === 0
      ? []
      : [
          `${held} row${held === 1 ? '' : 's'} whose item was deleted in SharePoint (kept by deletes.pull IGNORE) ` +
            `${held === 1 ? 'is' : 'are'} held, not moved: ${held === 1 ? 'it has' : 'they have'} no item; ` +
            `${held === 1 ? 'it follows its' : 'they follow their'} new route without one, and "backfill ` +
            `--strategy full_resync" re-creates ${held === 1 ? 'its item' : 'their items'} there`,
        ];
  if (report.moving === 0 && report.unrouted === 0)
    return [`no synced row changes list (${report.synced} synced rows checked)`, ...heldLines];
  return [
    `${report.moving} synced row${report.moving === 1 ? '' : 's'} would move (a create and a delete each)` +
      (report.unrouted > 0 ? `, ${report.unrouted} would match no route and stop syncing (unrouted)` : '') +
      ` of ${report.synced} checked:`,
    ...report.moves.map(
      (m) =>
        `${m.rows} row${m.rows === 1 ? '' : 's'} "${m.from}" → ${m.to === null ? 'unrouted' : `"${m.to}"`}`,
    ),
    ...heldLines,
  ];
}
