import type { Pool, PoolClient } from 'pg';
import type { SourceDatabase } from '../../store/pullIntents';

/**
 * Whether a function exists and the session's role may call it: NULL from to_regprocedure (no such function, as
 * on a Postgres-compatible service without it) reads false, so asking never raises, even inside a transaction
 * that must go on.
 */
export async function executable(client: Pool | PoolClient, signature: string): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    "SELECT coalesce(pg_catalog.has_function_privilege(pg_catalog.to_regprocedure($1), 'EXECUTE'), false) AS ok",
    [signature],
  );
  return rows[0].ok;
}

/**
 * Whether each pool's role may call pg_control_system(): PUBLIC may by default (checked as a non-superuser on
 * Postgres 18), but a provider may revoke it, and a call refused would fail the whole statement. Asked once per
 * pool, on the connection at hand: a page asks on the client holding its open transaction, where a second
 * connection of the pool may not be free (a pool of one waits for ever on itself).
 */
const systemIdReadable = new WeakMap<Pool, Promise<boolean>>();

function mayReadSystemId(pool: Pool, client: Pool | PoolClient): Promise<boolean> {
  let readable = systemIdReadable.get(pool);
  if (!readable) {
    readable = executable(client, 'pg_catalog.pg_control_system()');
    // A failed check is asked again next time rather than remembered.
    readable.catch(() => systemIdReadable.delete(pool));
    systemIdReadable.set(pool, readable);
  }
  return readable;
}

/**
 * The select list naming the server and database a session is on (SourceDatabase): the system identifier, set by
 * initdb, is what tells two servers apart (database oids repeat across servers: the first one created is 16384 on
 * each); the oid and name tell the databases of one server apart, which share one transaction id space.
 */
async function selectList(pool: Pool, client: Pool | PoolClient): Promise<string> {
  const systemId = (await mayReadSystemId(pool, client))
    ? '(SELECT system_identifier FROM pg_catalog.pg_control_system())::text'
    : 'NULL::text';
  return `${systemId} AS system_id, d.oid::text AS database_oid, d.datname AS database_name
    FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()`;
}

type Row = { system_id: string | null; database_oid: string; database_name: string };

const fromRow = (r: Row): SourceDatabase => ({
  systemId: r.system_id,
  databaseOid: r.database_oid,
  databaseName: r.database_name,
});

/** The current transaction's id (txid_current) on `client`, with the server and database it belongs to. */
export async function transactionAndDatabase(
  pool: Pool,
  client: PoolClient,
): Promise<{ xid: string; database: SourceDatabase }> {
  const { rows } = await client.query<Row & { xid: string }>(
    `SELECT pg_catalog.txid_current()::text AS xid, ${await selectList(pool, client)}`,
  );
  return { xid: rows[0].xid, database: fromRow(rows[0]) };
}

/** The server and database the pool's sessions are on. */
export async function sourceDatabase(pool: Pool): Promise<SourceDatabase> {
  const { rows } = await pool.query<Row>(`SELECT ${await selectList(pool, pool)}`);
  return fromRow(rows[0]);
}

/**
 * Whether a transaction id taken on `recorded` may mean another transaction on `current`: another server (told by
 * the system identifiers where both are known), or another database (another oid or name). Null (recorded before
 * migration 022) is taken as the current source, as it was before (except where the source is the metadata
 * database now: intents.ts).
 */
export function otherDatabase(recorded: SourceDatabase | null, current: SourceDatabase): boolean {
  if (recorded === null) return false;
  if (recorded.systemId !== null && current.systemId !== null && recorded.systemId !== current.systemId)
    return true;
  return recorded.databaseOid !== current.databaseOid || recorded.databaseName !== current.databaseName;
}

/** How a log line names a SourceDatabase. */
export function describeDatabase(d: SourceDatabase): string {
  return `database "${d.databaseName}" (oid ${d.databaseOid}) on server ${d.systemId ?? '(system identifier not readable)'}`;
}
