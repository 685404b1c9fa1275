import type { Pool } from 'pg';
import { decideTruncate, type TruncateDecision, type TruncateRecord } from '../capture/lsn/truncates';
import { definitionIdByName } from './definitionIds';

export interface TruncateDecided {
  definition: string;
  truncate: TruncateRecord;
}

/**
 * `truncate-decide NAME --propagate|--ignore` and POST ops/definitions/{name}/truncate-decision: the operator's
 * decision on the TRUNCATE a push parked under deletes.truncate PARK. The next push applies it (PROPAGATE:
 * every paired item under deletes.push; IGNORE: the items stay) and goes on with the changes after it.
 */
export async function decideParkedTruncate(
  meta: Pool,
  name: string,
  decision: TruncateDecision,
  by: string,
): Promise<TruncateDecided> {
  const definitionId = await definitionIdByName(meta, name);
  return { definition: name, truncate: await decideTruncate(meta, definitionId, name, decision, by) };
}
