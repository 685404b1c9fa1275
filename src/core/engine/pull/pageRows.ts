import type { PoolClient } from 'pg';
import { identityOf } from '../../canonical';
import type { SourceRow } from '../../source/postgres/PostgresSource';
import type { RunScope } from '../runner';

/** The rows a page's items are decided against. */
export interface PageRows {
  rows: SourceRow[];
  /**
   * Identity hash → why: rows another session held while the page waited to lock them (`lock_timeout`, a
   * deadlock). Decided against a row that may change before the page's write, their items are parked instead, and
   * the next pull decides them again (I5c, I12).
   */
  held: Map<string, string>;
}

/** Postgres's "feature not supported": a relation the lock cannot reach through (a view's DISTINCT, GROUP BY, …). */
const NOT_LOCKABLE = '0A000';

/** Per run's source: why the relation cannot be locked, once known (its shape does not change within a run). */
const notLockable = new WeakMap<RunScope['source'], string>();

/**
 * Reads the rows of a page's keys inside its transaction, locked until it commits (I7, I8): an edit another session
 * commits after this read waits for the page, and one committed before it is what the page decides against, so
 * the page never writes over (or deletes) a row changed since it was decided. One statement in the common case.
 *
 * Never fails the page (I12): when the lock waited in vain (`lock_timeout`, a deadlock), the rows no other session
 * holds are locked without waiting and the others are left to the next pull (`held`). A view Postgres cannot lock
 * through is only writable through its own INSTEAD OF triggers or rules, which no statement of ours makes atomic
 * with a read: its rows are read without a lock, in the page's transaction, just before its writes.
 */
export async function readPageRows(
  scope: RunScope,
  client: PoolClient,
  keys: unknown[][],
): Promise<PageRows> {
  const held = new Map<string, string>();
  if (keys.length === 0) return { rows: [], held };
  const { source } = scope;
  if (notLockable.has(source)) return { rows: await source.readByKeys(keys, client), held };
  const waited = await underSavepoint(client, () => source.readByKeys(keys, client, true));
  if (waited.ok) return { rows: waited.value, held };
  const why = (waited.error as Error).message;
  if ((waited.error as { code?: unknown }).code === NOT_LOCKABLE) notLockable.set(source, why);
  else {
    const free = await underSavepoint(client, () => source.readByKeys(keys, client, 'skip'));
    if (free.ok) {
      const hashOf = (r: SourceRow): string =>
        identityOf(scope.def.source.key, r.values, scope.plan.keyKinds).hash;
      const locked = new Set(free.value.map(hashOf));
      const rows = await source.readByKeys(keys, client);
      for (const r of rows) {
        const hash = hashOf(r);
        if (!locked.has(hash))
          held.set(hash, `its row is held by another session (${why}): the next pull decides it again`);
      }
      return { rows, held };
    }
  }
  scope.ctx.log.warn(
    `${scope.def.name}: the rows of a pulled page could not be locked (${why}); they are read without a lock ` +
      "in the page's transaction, just before its writes",
  );
  return { rows: await source.readByKeys(keys, client), held };
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Runs `fn` under a savepoint: a failure rolls back only what it did, and the transaction goes on. */
async function underSavepoint<T>(client: PoolClient, fn: () => Promise<T>): Promise<Outcome<T>> {
  await client.query('SAVEPOINT page_rows');
  try {
    const value = await fn();
    await client.query('RELEASE SAVEPOINT page_rows');
    return { ok: true, value };
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT page_rows; RELEASE SAVEPOINT page_rows');
    return { ok: false, error };
  }
}
