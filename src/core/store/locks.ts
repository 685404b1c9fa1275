import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { describeEndpoint } from '../db/errors';

/**
 * I11: at most one push or pull of a definition runs at a time, across all instances. A session advisory
 * lock keyed by the definition id, held on a dedicated connection for the run's lifetime; if the process
 * dies, Postgres drops the session and the lock with it.
 *
 * The lock lives exactly as long as that connection. When it dies (Postgres stopped or restarted, the
 * session terminated, the network cut), another run may take the lock at once, so this run must not write
 * anything more: the lock notices the loss from the connection's own events and `assertHeld()` throws.
 */
export const LOCK_NAMESPACE = 0x41524353; // 'ARCS'

/** The lock's connection died, so the lock is gone: the run stopped before its next write. */
export class LockLostError extends Error {
  constructor(
    readonly definitionId: string,
    readonly database: string,
    cause: unknown,
  ) {
    const reason = (cause as { message?: unknown } | null)?.message ?? String(cause);
    super(
      `Lost the lock of definition ${definitionId} with its connection to Postgres at ${database} ` +
        `(${String(reason)}); the run stopped before writing anything more`,
      { cause },
    );
    this.name = 'LockLostError';
  }
}

export interface DefinitionLock {
  /** Aborted, with the LockLostError as reason, when the lock's connection dies. */
  readonly signal: AbortSignal;
  /** Why the lock was lost, or null while it is held. */
  readonly lost: LockLostError | null;
  /** Throws LockLostError once the lock is lost. A field read: cheap enough to call before every write. */
  assertHeld(): void;
  /**
   * Runs a statement on the lock's own connection, which the run holds for its whole life anyway: a server-side
   * cursor that must live across statements (the slot peek's, capture/lsn/peek.ts) uses it instead of one more
   * connection. A cursor left open is closed when the lock is released.
   */
  query<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
  release(): Promise<void>;
}

export async function tryLockDefinition(pool: Pool, definitionId: string): Promise<DefinitionLock | null> {
  const client: PoolClient = await pool.connect();
  try {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2::int) AS ok', [
      LOCK_NAMESPACE,
      Number(definitionId),
    ]);
    if (!rows[0].ok) {
      client.release();
      return null;
    }
  } catch (err) {
    client.release(err as Error);
    throw err;
  }
  return new HeldLock(client, definitionId);
}

/**
 * SQL that is true while some session of this database holds the lock of the definition whose id is
 * `definitionIdSql`, read from pg_locks without taking the lock (taking it, even for an instant, would make a
 * run starting at that instant skip).
 */
export function definitionLockHeldSql(definitionIdSql: string): string {
  return `EXISTS (SELECT 1 FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = ${LOCK_NAMESPACE}::oid AND l.objid = (${definitionIdSql})::oid)`;
}

class HeldLock implements DefinitionLock {
  private readonly controller = new AbortController();
  private releasing = false;
  private readonly onError = (error: unknown) => this.markLost(error);
  private readonly onEnd = () => this.markLost(new Error('the connection closed'));

  constructor(
    private readonly client: PoolClient,
    private readonly definitionId: string,
  ) {
    client.on('error', this.onError);
    client.on('end', this.onEnd);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get lost(): LockLostError | null {
    return this.controller.signal.aborted ? (this.controller.signal.reason as LockLostError) : null;
  }

  assertHeld(): void {
    if (this.controller.signal.aborted) throw this.controller.signal.reason as LockLostError;
  }

  /** The session was used for statements of the run's (a cursor may be left open). */
  private used = false;

  async query<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>> {
    this.assertHeld();
    this.used = true;
    return this.client.query<R>(text, values);
  }

  private markLost(cause: unknown): void {
    if (this.releasing || this.controller.signal.aborted) return;
    const { host, port, database } = this.client;
    const where = describeEndpoint({ host, port, database: database ?? '', user: undefined });
    this.controller.abort(new LockLostError(this.definitionId, where, cause));
  }

  async release(): Promise<void> {
    if (this.releasing) return;
    const lost = this.lost;
    this.releasing = true;
    this.client.off('error', this.onError);
    this.client.off('end', this.onEnd);
    if (lost) {
      // The session, and the lock with it, is already gone: discard the dead connection.
      this.client.release(lost);
      return;
    }
    try {
      // A held cursor outlives transactions: back in the pool it would keep its result and its name.
      if (this.used) await this.client.query('CLOSE ALL');
      await this.client.query('SELECT pg_advisory_unlock($1, $2::int)', [
        LOCK_NAMESPACE,
        Number(this.definitionId),
      ]);
      this.client.release();
    } catch (err) {
      this.client.release(err as Error);
    }
  }
}
