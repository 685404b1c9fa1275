import type { PoolClient } from 'pg';
import { identityOf, stableStringify } from '../../canonical';
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
  /**
   * False when the relation refused the lock: the page then writes each item alone, only where its row is still
   * as read (`assertUnchanged`).
   */
  locked: boolean;
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
 * through (`0A000`: DISTINCT, GROUP BY, an outer join; writable only through its own triggers or rules) is read
 * without a lock, and each of its items is then written alone, only where its row is still as read.
 */
export async function readPageRows(
  scope: RunScope,
  client: PoolClient,
  keys: unknown[][],
): Promise<PageRows> {
  const held = new Map<string, string>();
  await boundLockWaits(client);
  if (keys.length === 0) return { rows: [], held, locked: true };
  const { source } = scope;
  if (notLockable.has(source)) return { rows: await source.readByKeys(keys, client), held, locked: false };
  const waited = await underSavepoint(client, () => source.readByKeys(keys, client, true));

  if (waited.ok) return { rows: waited.value, held, locked: true };
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
      return { rows, held, locked: true };
    }
  }
  scope.ctx.log.warn(
    `${scope.def.name}: the rows of a pulled page could not be locked (${why}); they are read without a lock ` +
      "in the page's transaction and each is written only where it is still as read",
  );
  return { rows: await source.readByKeys(keys, client), held, locked: false };
}

/** A row changed (or came, or went) since the unlocked read the item was decided on. */
export class RowChangedError extends Error {
  constructor(
    readonly key: Record<string, unknown>,
    run: 'pull' | 'push' = 'pull',
    why = 'the relation cannot be locked',
  ) {
    super(
      `the row with key ${JSON.stringify(key)} changed since the ${run} read it (${why}): ` +
        `nothing was written; the next ${run} decides it again on the row as it is then`,
    );
    this.name = 'RowChangedError';
  }
}

/**
 * Before a push writes a decision it made on a row it read earlier (a 412 settled, push/conflicts.ts) into that row:
 * locks it until `client`'s transaction ends (its lock wait bounded, as a page's) and throws RowChangedError unless
 * it is still as read, so that an edit committed since is never overwritten. A row another session holds past the
 * wait counts as changed; a relation that cannot be locked is compared as assertUnchanged compares it.
 */
export async function assertUnchangedLocked(
  scope: RunScope,
  client: PoolClient,
  key: unknown[],
  read: SourceRow,
): Promise<void> {
  await boundLockWaits(client);
  const locked = await underSavepoint(client, () => scope.source.readByKeys([key], client, true));
  if (!locked.ok && (locked.error as { code?: unknown }).code !== NOT_LOCKABLE)
    throw new RowChangedError(
      scope.source.keyRecord(key),
      'push',
      `another session holds it: ${(locked.error as Error).message}`,
    );
  const now = locked.ok ? locked.value : await scope.source.readByKeys([key], client);
  const same = now.length === 1 && (printOf(read) === null || printOf(now[0]) === printOf(read));
  if (!same) throw new RowChangedError(scope.source.keyRecord(key), 'push', 'an edit committed meanwhile');
}

/**
 * Before an unlocked page writes an item's row: throws RowChangedError unless the row is still as read (`read`;
 * null: there was none). Inside the item's savepoint, just before its write: a relation that cannot be locked is
 * written through its own triggers or rules, which no single statement makes atomic with a read either.
 */
export async function assertUnchanged(
  scope: RunScope,
  client: PoolClient,
  key: unknown[],
  read: SourceRow | null,
): Promise<void> {
  const now = await scope.source.readByKeys([key], client);
  const same =
    read === null
      ? now.length === 0
      : // A row whose values cannot be compared is written as before the lock, by key: parked, it never would be.
        now.length === 1 && (printOf(read) === null || printOf(now[0]) === printOf(read));
  if (!same) throw new RowChangedError(scope.source.keyRecord(key));
}

/** What a row holds, as the engine reads it (values and cursor, canonical order); null when it cannot say. */
function printOf(row: SourceRow): string | null {
  try {
    return stableStringify({ values: row.values, cursor: row.cursor, version: row.version ?? null });
  } catch {
    return null;
  }
}

/**
 * How long any statement of a page's transaction waits for a lock another session holds (I12, I16): the locking
 * read then leaves held rows to the next pull, and a write (a delete, an update of a unique column, both stronger
 * than the read's lock) sends its items to the one-item path, which parks the one held. Without it, a session left
 * idle in its transaction would hold the page, and the run with the definition's lock, for ever (Postgres's
 * default lock_timeout is 0: no limit). A shorter lock_timeout the database or role sets stands.
 */
export const PAGE_LOCK_WAIT_MS = 5000;

/** Sets lock_timeout for the rest of the page's transaction (SET LOCAL: it ends with the transaction). */
async function boundLockWaits(client: PoolClient): Promise<void> {
  await client.query(
    `SELECT set_config('lock_timeout', $1, true)
      WHERE current_setting('lock_timeout')::interval = interval '0'
         OR current_setting('lock_timeout')::interval > make_interval(secs => $2::float8 / 1000)`,
    [`${PAGE_LOCK_WAIT_MS}ms`, PAGE_LOCK_WAIT_MS],
  );
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
