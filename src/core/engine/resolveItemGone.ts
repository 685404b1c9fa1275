import { contentHash } from '../canonical';
import { markResolved, type StoredConflict } from '../store/conflicts';
import type { LedgerEntry } from '../store/ledger';
import { confirmListStands } from './listGone';
import { inSourceTx } from './push/page';
import { applyToPostgres } from './push/writes';
import type { RunScope } from './runner';

/** What became of the row when the SharePoint delete of its item stands: the definition's `deletes.pull`. */
export type RowDeleteEffect = 'row-deleted' | 'row-flagged' | 'row-kept';

/**
 * `--take sharepoint` on a conflict whose item is gone (deleted in SharePoint, edited in Postgres): the SharePoint
 * delete stands, and the row gets what the pull would have done had the row not been edited (I8): PROPAGATE deletes
 * it, SOFT flags it, IGNORE keeps it with its pair ITEM_DELETED, so no push creates the item again.
 *
 * The pair is settled before the row is written, and the conflict last: until it is resolved the open conflict
 * holds the row from every push, so a stop between the steps leaves nothing a run would act on, and resolving
 * again finishes the job (a row already deleted takes the row-gone path, where `--take postgres` closes it).
 */
export async function confirmItemDelete(
  scope: RunScope,
  conflict: StoredConflict,
  entry: LedgerEntry | undefined,
  resolvedBy: string,
): Promise<RowDeleteEffect> {
  const { ctx, ledger, def } = scope;
  // I15: the item not found is deleted only if its list still stands (not replaced, not gone).
  await confirmListStands(scope, entry?.listId || scope.listId);
  const policy = def.deletes.pull;
  const flag = policy === 'SOFT' ? def.deletes.pullSoftColumn : undefined;
  if (policy === 'IGNORE' || (policy === 'SOFT' && !flag)) {
    // As the pull keeps it (pull/settle.ts): the values last synced stay the base should the item come back.
    await ledger.save(ctx.meta, [
      entry
        ? { ...entry, state: 'ITEM_DELETED' }
        : {
            identityHash: conflict.identityHash,
            identity: conflict.identity,
            listId: scope.listId,
            itemId: conflict.itemId,
            eTag: null,
            syncedValues: conflict.base,
            contentHash: conflict.base ? contentHash(conflict.base) : null,
            provenance: 'PULL',
            state: 'ITEM_DELETED',
            lastSourceTs: null,
            spModifiedAt: null,
          },
    ]);
  } else {
    // A flagged row without a pair is not pushed again (push/rows.ts pullSoftDeleted); a deleted one has no row.
    if (entry) await ledger.remove(ctx.meta, [conflict.identityHash]);
    const key = def.source.key.map((k) => conflict.identity[k]);
    await inSourceTx(scope, (client) =>
      applyToPostgres(scope, client, key, conflict.identity, {
        outcome: 'TAKE_SHAREPOINT',
        conflict: false,
        conflictFields: [],
        keyEdits: [],
        sharepoint: { kind: 'none' },
        postgres: { kind: 'delete' },
        synced: null,
        reason: 'manual resolution: the SharePoint delete stands',
      }),
    );
    scope.counts.deleted++;
  }
  await markResolved(ctx.meta, conflict.id, 'TAKE_SHAREPOINT', null, resolvedBy);
  return policy === 'PROPAGATE' ? 'row-deleted' : flag ? 'row-flagged' : 'row-kept';
}
