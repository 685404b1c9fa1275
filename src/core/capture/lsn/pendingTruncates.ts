/**
 * TRUNCATEs of the table still only in the slot when a load ends (docs/design.md I17, I18). The comparison that
 * ends a load reads the table as it is now, so a TRUNCATE made during the load (or before it, when a routes change
 * loads again over a slot not applied yet) looks to it like every truncated row deleted, and it would delete their
 * items under deletes.push before the slot's changes are applied, a decision deletes.truncate (PARK by default)
 * leaves to the operator. Recorded first, the TRUNCATE is decided by its rule: the comparison is held while it is
 * parked, forgotten under IGNORE, run under PROPAGATE (compareUnlessTruncateHeld); the slot meets it later already
 * recorded, parked or applied (applyTruncate).
 */
import type { RunScope } from '../../engine/runner';
import { ChangeFolder } from './changes';
import type { LsnNames } from './names';
import { openRunPeek } from './peek';
import { recordTruncate } from './truncates';

/** pg_logical_slot_peek_binary_changes's upto_nchanges is an integer: the peek stops at its upto_lsn instead. */
const WHOLE_BACKLOG = 2147483647;

/**
 * Reads the slot from its confirmed position up to the WAL position at the peek's start (its commits since are
 * after the load's end and come with the slot's changes), a page of messages at a time, and records each TRUNCATE
 * of the table in it (its commit position, as applyTruncate records it). Nothing of the slot moves. A dry run
 * records nothing. Returns the positions of the TRUNCATEs found.
 */
export async function recordPendingTruncates(scope: RunScope, names: LsnNames): Promise<string[]> {
  const { def } = scope;
  const peek = await openRunPeek(scope, names, WHOLE_BACKLOG, null);
  const found: string[] = [];
  try {
    const folder = new ChangeFolder({
      definition: def.name,
      schema: def.source.schema,
      table: def.source.table,
      key: def.source.key,
    });
    let commitLsn: string | null = null;
    for (;;) {
      const chunk = await peek.next();
      if (chunk.length === 0) break;
      for (const change of chunk) {
        const e = folder.fold(change);
        if (e?.kind === 'begin') commitLsn = e.commitLsn;
        else if (e?.kind === 'truncate' && commitLsn !== null && found[found.length - 1] !== commitLsn)
          found.push(commitLsn);
      }
    }
  } finally {
    await peek.close();
  }
  if (scope.dryRun) return found;
  for (const lsn of found) {
    scope.assertLockHeld();
    await recordTruncate(scope, lsn);
    scope.ctx.log.info(
      `${def.name}: TRUNCATE at ${lsn} found in the replication slot as the table load ends`,
    );
  }
  return found;
}
