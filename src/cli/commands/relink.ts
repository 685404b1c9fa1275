import { relinkDefinition } from '../../core/engine/relink';
import { printJson } from '../output';
import type { CliRuntime } from '../runtime';

/** `arcore-sync relink NAME`: re-adopt the items of a replaced list by their hidden key column (I15). */
export async function runRelinkCommand(
  rt: CliRuntime,
  name: string,
  opts: { json?: boolean },
): Promise<void> {
  const result = await relinkDefinition(await rt.engineContext(), name);
  if (opts.json) {
    printJson(rt.io, result);
    return;
  }
  const was = result.previousListId === null ? 'no list bound before' : `was list ${result.previousListId}`;
  rt.io.out(`${name}: now synced with list ${result.listId} (${was}); ${result.itemsRead} items read`);
  if (result.settledInserts > 0)
    rt.io.out(`  paired first (new items a stopped pull had inserted): ${result.settledInserts}`);
  rt.io.out(`  adopted by hidden key: ${result.adopted}`);
  if (result.adoptedChanged > 0)
    rt.io.out(
      `  of which differ from the values last synced (decided by the next push or pull): ${result.adoptedChanged}`,
    );
  rt.io.out(`  to re-create on the next push: ${result.toRecreate}`);
  if (result.itemDeletedKept > 0)
    rt.io.out(
      `  kept without an item (deleted in SharePoint, kept by deletes.pull IGNORE; not re-created, ` +
        `backfill --strategy full_resync brings them back): ${result.itemDeletedKept}`,
    );
  if (result.pendingCreates > 0)
    rt.io.out(
      `  creates a stopped run sent, still awaited (adopted or made again by a later push): ${result.pendingCreates}`,
    );
  if (result.forgotten > 0) rt.io.out(`  forgotten (row deleted, no item left): ${result.forgotten}`);
  if (result.duplicateKeys > 0)
    rt.io.out(`  items carrying a key another item carries too (not adopted): ${result.duplicateKeys}`);
  if (result.pullFailuresDiscarded > 0)
    rt.io.out(`  parked pull failures of the old list discarded: ${result.pullFailuresDiscarded}`);
  rt.io.out(
    '  next: a pull compares every adopted item with its row (conflict policy as usual); a push creates the rest',
  );
}
