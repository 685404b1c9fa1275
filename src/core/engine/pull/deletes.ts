import type { RunScope } from '../runner';
import { applyEntries } from './applyPage';

/** After a full enumeration: ledger entries whose item was not seen were deleted in SharePoint (I8). */
export async function reconcileUnseen(scope: RunScope, enumeration: string): Promise<void> {
  // In identity order, 500 at a time: entries that stay (held by an open conflict, a move in flight, a busy row)
  // must not stop the pass before the deletes after them (it stopped when a batch came back no smaller).
  let after = '';
  for (;;) {
    const unseen = await scope.ledger.unseen(scope.ctx.meta, scope.listId, enumeration, 500, after);
    if (unseen.length === 0) break;
    after = unseen[unseen.length - 1].identityHash;
    await applyEntries(
      scope,
      unseen.map((e) => ({ kind: 'deleted', id: e.itemId as string })),
      null,
      enumeration,
    );
  }
}
