import type { Pool } from 'pg';
import { bindListId, type StoredDefinition } from '../store/definitions';
import { targetListLabel } from '../routing/lists';

/**
 * The definition's list was deleted and re-created, or replaced by another list of the same name: the ledger
 * points at items of a list that is no longer the one its name resolves to (I15). Treating the new list as the
 * old one would skip every row (the ledger says they are synced) and fail every pull, so runs refuse until an
 * operator relinks.
 */
export class ListReplacedError extends Error {
  readonly errorKind = 'invalid_definition' as const;
  readonly hint: string;
  constructor(
    readonly definition: string,
    readonly list: string,
    readonly ledgerListId: string,
    readonly currentListId: string,
  ) {
    super(
      `Definition "${definition}": list "${list}" is now list ${currentListId}, not list ${ledgerListId} that ` +
        'this definition synced with (it was deleted and re-created, or replaced). Nothing was written. Run ' +
        `"npx arcore-sync relink ${definition}" to adopt the current list's items by their hidden key column ` +
        '(rows whose item is gone are created again by the next push).',
    );
    this.name = 'ListReplacedError';
    this.hint = `run "npx arcore-sync relink ${definition}", then run again (the definition itself is fine)`;
  }
}

/**
 * Checks that the list a run resolved is the list its ledger was built on, binding it on the first run. Costs
 * nothing once bound; one indexed query before that.
 */
export async function checkListIdentity(meta: Pool, stored: StoredDefinition, listId: string): Promise<void> {
  if (stored.listId === listId) return;
  const def = stored.definition;
  if (stored.listId !== null)
    throw new ListReplacedError(def.name, targetListLabel(def), stored.listId, listId);
  const { rows } = await meta.query<{ sp_list_id: string }>(
    'SELECT sp_list_id FROM arcore.sync_ledger WHERE definition_id = $1 AND sp_list_id <> $2 LIMIT 1',
    [stored.id, listId],
  );
  if (rows.length > 0)
    throw new ListReplacedError(def.name, targetListLabel(def), rows[0].sp_list_id, listId);
  await bindListId(meta, stored.id, listId);
}
