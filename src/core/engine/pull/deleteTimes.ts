/** When the rows of pairs the pull found gone were deleted: a delete meeting an edit under LAST_WRITER_WINS (I7). */
import { deletedTimes } from '../../source/postgres/tombstones';
import type { LedgerEntry } from '../../store/ledger';
import type { RunScope } from '../runner';

/**
 * By identity hash, the delete time of each entry's row that its delete-capture tombstone records (the push has not
 * consumed it yet). Read only when the policy compares times; a row deleted without a tombstone (a sweep table) has
 * none, and SharePoint's edit wins, as on the push.
 */
export async function pairDeleteTimes(scope: RunScope, gone: LedgerEntry[]): Promise<Map<string, string>> {
  const { def } = scope;
  const byTime =
    def.conflictPolicy === 'LAST_WRITER_WINS' ||
    (def.conflictPolicy === 'MERGE' && def.mergeTieBreaker === 'LAST_WRITER_WINS');
  const out = new Map<string, string>();
  if (!byTime || gone.length === 0) return out;
  const times = await deletedTimes(
    scope.source,
    gone.map((e) => def.source.key.map((k) => e.identity[k])),
  );
  for (const [i, at] of times) out.set(gone[i].identityHash, at);
  return out;
}
