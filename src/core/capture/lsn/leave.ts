import { oweFullComparison } from '../../engine/push/deletes';
import type { RunScope } from '../../engine/runner';
import { dropOrigin } from './origin';
import { namesFor } from './push';
import { dropPublication, dropSlot } from './slot';
import { settleTruncatesBeforeLeaving } from './truncates';

/**
 * A definition switched from LSN back to TIMESTAMP: its slot would keep WAL for nobody, so it is dropped with
 * the publication and origin, and the run reads the whole table (compared with the ledger, nothing unchanged
 * is rewritten). The comparison for deletes is owed (stored) before the LSN cursor is cleared, so a run stopped
 * before it completes does not forget it, and the switch is made once. A TRUNCATE still parked refuses the switch
 * (settleTruncatesBeforeLeaving). Returns true; a dry run drops nothing.
 */
export async function leaveCapture(scope: RunScope): Promise<boolean> {
  const names = await namesFor(scope);
  scope.details.captureStopped = `source.cursor.type is TIMESTAMP: slot "${names.slot}" dropped; full compare`;
  const applied = await settleTruncatesBeforeLeaving(scope);
  if (scope.dryRun) return true;
  const dropped = await dropSlot(scope.sourcePool, names.slot);
  await dropPublication(scope.sourcePool, names.publication);
  await dropOrigin(scope.sourcePool, names.origin);
  await oweFullComparison(scope);
  await scope.ctx.meta.query(
    `UPDATE arcore.sync_cursors SET value = NULL, cursor_type = 'TIMESTAMP', updated_at = now()
      WHERE definition_id = $1 AND scope = 'SOURCE' AND cursor_type = 'LSN'`,
    [scope.definitionId],
  );
  await applied();
  scope.ctx.log.info(
    `${scope.def.name}: switched to TIMESTAMP; ${dropped ? `replication slot "${names.slot}" dropped; ` : ''}` +
      'the table is read in full and compared with the ledger',
  );
  return true;
}
