/**
 * What a resolution did to the two sides (docs/cli.md resolve), so that the operator is told what happened rather
 * than assuming both sides now hold the chosen values:
 * - `values-written`: both sides hold the chosen values;
 * - `item-recreated`: the item was gone and is created again with them;
 * - `row-restored`: the row was gone and is inserted again with them;
 * - the Postgres delete stands (the row was gone), the item under deletes.push: `item-deleted` (PROPAGATE),
 *   `item-flagged` (SOFT), `item-kept` (IGNORE), or `pair-removed` when the item was gone too;
 * - the SharePoint delete stands (the item was gone), the row under deletes.pull: `row-deleted` (PROPAGATE),
 *   `row-flagged` (SOFT), `row-kept` (IGNORE).
 */
export type ResolutionEffect =
  | 'values-written'
  | 'item-recreated'
  | 'row-restored'
  | 'item-deleted'
  | 'item-flagged'
  | 'item-kept'
  | 'pair-removed'
  | 'row-deleted'
  | 'row-flagged'
  | 'row-kept';

export interface Resolution {
  effect: ResolutionEffect;
  /** The item written, created, deleted, flagged or kept; null when there is none. */
  itemId: string | null;
}

export interface ResolveResult extends Resolution {
  conflictId: string;
  status: 'RESOLVED';
  /** One sentence saying what happened on each side (the CLI's line, the console's message). */
  summary: string;
}

/** `taken`: the side whose values were chosen, or `values` for `--values`. */
export function describeResolution(r: Resolution, taken: 'postgres' | 'sharepoint' | 'values'): string {
  const what =
    taken === 'values'
      ? 'the given values'
      : `the ${taken === 'postgres' ? 'Postgres' : 'SharePoint'} values`;
  const item = r.itemId ? `item ${r.itemId}` : 'the item';
  switch (r.effect) {
    case 'values-written':
      return `${what} are now on both sides`;
    case 'item-recreated':
      return `the item was gone: ${item} was created again in SharePoint with ${what}, which Postgres holds too`;
    case 'row-restored':
      return `the row was gone: it was inserted again in Postgres with ${what}, which ${item} holds too`;
    case 'item-deleted':
      return `the Postgres delete stands: ${item} deleted in SharePoint (deletes.push PROPAGATE)`;
    case 'item-flagged':
      return `the Postgres delete stands: ${item} flagged deleted in SharePoint (deletes.push SOFT)`;
    case 'item-kept':
      return `the Postgres delete stands: ${item} kept in SharePoint with its values (deletes.push IGNORE)`;
    case 'pair-removed':
      return 'the Postgres delete stands: the item was gone too; the pair left the ledger';
    case 'row-deleted':
      return `the SharePoint delete of ${item} stands: the row deleted in Postgres (deletes.pull PROPAGATE)`;
    case 'row-flagged':
      return `the SharePoint delete of ${item} stands: the row flagged deleted in Postgres (deletes.pull SOFT)`;
    case 'row-kept':
      return (
        `the SharePoint delete of ${item} stands: the row kept in Postgres and not pushed again (deletes.pull ` +
        'IGNORE; backfill --strategy full_resync creates its item again)'
      );
    default: {
      const unknown: never = r.effect;
      return String(unknown);
    }
  }
}
