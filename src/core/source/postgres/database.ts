import type { Pool, PoolClient } from 'pg';
import type { SourceDatabase } from '../../store/pullIntents';

/**
 * What a refused read of the system identifier raises: no privilege (a provider revoked pg_control_system() from
 * PUBLIC), no such function or not supported (a Postgres-compatible service). The identifier is then not known.
 */
const REFUSED = new Set(['42501', '42883', '0A000']);

const SYSTEM_ID = 'SELECT (SELECT system_identifier FROM pg_catalog.pg_control_system())::text AS system_id';

function refused(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && REFUSED.has(code);
}

/**
 * The system identifier of the server the pool's sessions are on (set by initdb: what tells two servers apart,
 * since database oids repeat across servers, the first one created being 16384 on each); null where the role may
 * not read it. Asked each time: a privilege revoked while the process runs is met, never remembered wrong.
 */
export async function systemIdentifier(pool: Pool): Promise<string | null> {
  try {
    return (await pool.query<{ system_id: string }>(SYSTEM_ID)).rows[0].system_id;
  } catch (err) {
    if (refused(err)) return null;
    throw err;
  }
}

/**
 * systemIdentifier on a client inside a transaction that must go on (a pull page's, before its commit): read in a
 * savepoint, so that a refusal costs the transaction nothing.
 */
export async function systemIdentifierInTransaction(client: PoolClient): Promise<string | null> {
  await client.query('SAVEPOINT arcore_system_id');
  try {
    const { rows } = await client.query<{ system_id: string }>(SYSTEM_ID);
    await client.query('RELEASE SAVEPOINT arcore_system_id');
    return rows[0].system_id;
  } catch (err) {
    if (!refused(err)) throw err;
    await client.query('ROLLBACK TO SAVEPOINT arcore_system_id');
    await client.query('RELEASE SAVEPOINT arcore_system_id');
    return null;
  }
}

/** The oid and name of the database a session is on: they tell the databases of one server apart. */
const DATABASE = `d.oid::text AS database_oid, d.datname AS database_name
  FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()`;

type Row = { database_oid: string; database_name: string };

/**
 * The current transaction's id (txid_current) on `client`, with the database it belongs to and `systemId`, the
 * server's identifier as the caller read it on this connection (systemIdentifier, once per run). One statement that
 * cannot be refused: it runs inside the page's transaction.
 */
export async function transactionAndDatabase(
  client: PoolClient,
  systemId: string | null,
): Promise<{ xid: string; database: SourceDatabase }> {
  const { rows } = await client.query<Row & { xid: string }>(
    `SELECT pg_catalog.txid_current()::text AS xid, ${DATABASE}`,
  );
  return {
    xid: rows[0].xid,
    database: { systemId, databaseOid: rows[0].database_oid, databaseName: rows[0].database_name },
  };
}

/** The server and database the pool's sessions are on. */
export async function sourceDatabase(pool: Pool): Promise<SourceDatabase> {
  const systemId = await systemIdentifier(pool);
  const { rows } = await pool.query<Row>(`SELECT ${DATABASE}`);
  return { systemId, databaseOid: rows[0].database_oid, databaseName: rows[0].database_name };
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
