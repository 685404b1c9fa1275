import type { Pool, PoolClient } from 'pg';
import type { RunScope } from '../../engine/runner';
import type { ErrorKind } from '../../errors/kind';
import { quoteIdent } from '../../source/postgres/PostgresSource';
import { readInstallationId } from '../../store/installation';
import { lsnNames } from './names';

/**
 * The pull's (and a push conflict's, and resolve's) writes into an LSN definition's table are marked with the
 * definition's replication origin, so a run can say how many of the keys it read back were its own. Capture does
 * not skip them: the ledger's comparison of every captured row with what was last synced recognises the echo
 * (I3), while Postgres's own changes in those transactions (a cascade, a trigger) are still pushed.
 */
export class OriginPrivilegeError extends Error {
  readonly errorKind: ErrorKind = 'permission';

  constructor(
    readonly origin: string,
    readonly role: string,
    cause: unknown,
  ) {
    super(
      `cannot mark writes with replication origin "${origin}" (${(cause as Error).message}). Grant it: ` +
        `GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text), pg_replication_origin_session_setup(text), ` +
        `pg_replication_origin_session_reset() TO ${role}; (or make the role a superuser). Until then nothing ` +
        'is lost: the push recognises its own writes by the ledger either way, it only cannot count them',
      { cause },
    );
    this.name = 'OriginPrivilegeError';
  }
}

function pgCode(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

/**
 * Marks the session's following transactions with `origin`, creating the origin when missing. The caller
 * must call `unmarkOwnWrites` before releasing the connection (an origin is active in one session at a time).
 */
export async function markOwnWrites(client: PoolClient, origin: string): Promise<void> {
  try {
    try {
      await client.query('SELECT pg_replication_origin_session_setup($1)', [origin]);
    } catch (err) {
      if (pgCode(err) !== '42704') throw err; // undefined_object: the origin does not exist yet
      await client.query('SELECT pg_replication_origin_create($1)', [origin]);
      await client.query('SELECT pg_replication_origin_session_setup($1)', [origin]);
    }
  } catch (err) {
    if (pgCode(err) !== '42501') throw err;
    const { rows } = await client.query<{ role: string }>('SELECT current_user AS role');
    throw new OriginPrivilegeError(origin, quoteIdent(rows[0].role), err);
  }
}

export async function unmarkOwnWrites(client: PoolClient): Promise<void> {
  await client.query('SELECT pg_replication_origin_session_reset()');
}

/**
 * What to pass to `client.release()` after a session that may be marked: nothing when it is clean, or the
 * reset's error, so that a session still marked (it would mark someone else's writes) is closed, not reused.
 */
export async function unmarkForRelease(client: PoolClient, marked: boolean): Promise<Error | undefined> {
  if (!marked) return undefined;
  try {
    return await unmarkOwnWrites(client).then(
      () => undefined,
      (e: Error) => e,
    );
  } finally {
    const release = turnHeldBy.get(client);
    turnHeldBy.delete(client);
    release?.();
  }
}

/** Drops the origin (when a definition stops capturing); a missing one is fine. */
export async function dropOrigin(db: Pool | PoolClient, origin: string): Promise<void> {
  try {
    await db.query('SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = $1', [
      origin,
    ]);
  } catch (err) {
    // Without the privilege the origin was never created by this role either.
    if (pgCode(err) !== '42501') throw err;
  }
}

const originOf = new WeakMap<RunScope, Promise<string>>();

/**
 * An origin is active in one session at a time ("replication origin with ID n is already active for PID m"), and
 * a run writes to its source on several connections at once (two load pages settling conflicts in the write
 * window, a pull page beside a push's conflict writes): each run's marked sessions take turns. The end of the
 * chain of turns per run, and the release of the turn a marked client holds (unmarkForRelease).
 */
const lastTurn = new WeakMap<RunScope, Promise<void>>();
const turnHeldBy = new WeakMap<PoolClient, () => void>();

/** Waits for the run's origin to be free; returns the function that frees it again. */
async function takeTurn(scope: RunScope): Promise<() => void> {
  const before = lastTurn.get(scope) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  lastTurn.set(
    scope,
    before.then(() => mine),
  );
  await before;
  return release;
}

/**
 * Marks `client`'s following transactions as this definition's own writes when it captures changes (LSN);
 * true when marked (then call unmarkForRelease before releasing the client: it also lets the run's next session
 * take the origin; marked sessions of one run take turns). Without the privilege the run
 * goes on and says so once: the ledger still recognises the writes when capture reads them back.
 */
export async function markRunWrites(scope: RunScope, client: PoolClient): Promise<boolean> {
  if (scope.def.source.cursor.type !== 'LSN' || scope.dryRun) return false;
  let origin = originOf.get(scope);
  if (!origin) {
    origin = readInstallationId(scope.ctx.meta).then(
      (id) => lsnNames(id, scope.definitionId, scope.def.name).origin,
    );
    originOf.set(scope, origin);
  }
  const name = await origin;
  const release = await takeTurn(scope);
  try {
    await markOwnWrites(client, name);
    turnHeldBy.set(client, release);
    return true;
  } catch (err) {
    release();
    if (!(err instanceof OriginPrivilegeError)) throw err;
    if (scope.details.originWarning === undefined) {
      scope.details.originWarning = err.message;
      scope.ctx.log.warn(`${scope.def.name}: ${err.message}`);
    }
    return false;
  }
}
