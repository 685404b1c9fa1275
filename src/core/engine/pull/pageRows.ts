import type { PoolClient } from 'pg';
import type { SourceRow } from '../../source/postgres/PostgresSource';
import type { RunScope } from '../runner';

/** The rows a page's items are decided against, and whether they are locked until the page commits. */
export interface PageRows {
  rows: SourceRow[];
  /**
   * False when the relation refused the lock (a view Postgres cannot lock through: DISTINCT, GROUP BY, a join's
   * nullable side, … `0A000`) or a row stayed held past `lock_timeout`: the rows were read inside the page's
   * transaction, without a lock, and the page's writes are then made only where the row still is as read.
   */
  locked: boolean;
}

/**
 * Reads the rows of a page's keys inside its transaction, locked (I7, I8): an edit another session commits after
 * this read waits for the page to commit, and one committed before it is what the page decides against, so the
 * page never writes over (or deletes) a row changed since it was decided. One statement, under a savepoint so that
 * a relation that cannot be locked falls back to the unlocked read instead of failing the page (I12, I13).
 */
export async function readPageRows(
  scope: RunScope,
  client: PoolClient,
  keys: unknown[][],
): Promise<PageRows> {
  if (keys.length === 0) return { rows: [], locked: true };
  await client.query('SAVEPOINT page_rows');
  try {
    const rows = await scope.source.readByKeys(keys, client, true);
    await client.query('RELEASE SAVEPOINT page_rows');
    return { rows, locked: true };
  } catch (err) {
    await client.query('ROLLBACK TO SAVEPOINT page_rows; RELEASE SAVEPOINT page_rows');
    scope.ctx.log.warn(
      `${scope.def.name}: the rows of a pulled page could not be locked (${(err as Error).message}); ` +
        'they are written only where they are still as read',
    );
    return { rows: await scope.source.readByKeys(keys, client), locked: false };
  }
}
