import type { RunScope } from '../runner';
import { applyEntries } from './applyPage';

/** After a full enumeration: ledger entries whose item was not seen were deleted in SharePoint (I8). */
export async function reconcileUnseen(scope: RunScope, enumeration: string): Promise<void> {
  let removedBefore = -1;
  for (;;) {
    const unseen = await scope.ledger.unseen(scope.ctx.meta, scope.listId, enumeration, 500);
    if (unseen.length === 0 || unseen.length === removedBefore) break;
    removedBefore = unseen.length;
    await applyEntries(
      scope,
      unseen.map((e) => ({ kind: 'deleted', id: e.itemId as string })),
      null,
      enumeration,
    );
  }
}
