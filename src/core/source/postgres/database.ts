import type { Pool, PoolClient } from 'pg';
import type { SourceDatabase } from '../../store/pullIntents';

/**
 * Which server, and which of its histories, a session is on: the system identifier (set by initdb: what tells two
 * servers apart, since database oids repeat across servers, the first one created being 16384 on each) and the
 * timeline WAL is written on now (a promotion or a point-in-time restore starts a new one, and ids handed out on the
 * old one after the branch point never happened on the new). Each null where the role may not read it.
 */
export interface ServerIdentity {
  systemId: string | null;
  timeline: string | null;
}

/**
 * What a refused read raises: no privilege (a provider revoked pg_control_system() or pg_walfile_name() from
 * PUBLIC), no such function or not supported (a Postgres-compatible service), recovery in progress (no WAL is
 * written: a standby). The value is then not known.
 */
const REFUSED = new Set(['42501', '42883', '0A000', '55000']);

const SYSTEM_ID = 'SELECT (SELECT system_identifier FROM pg_catalog.pg_control_system())::text AS value';

/**
 * The timeline of the WAL being written, from the current WAL file's name (its first 8 hex digits): right from a
 * promotion on. pg_control_checkpoint()'s timeline changes only at the next checkpoint, minutes later.
 */
const TIMELINE = `SELECT ('x' || substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))
  ::bit(32)::bigint::text AS value`;

function refused(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && REFUSED.has(code);
}

async function readOnPool(pool: Pool, sql: string): Promise<string | null> {
  try {
    return (await pool.query<{ value: string }>(sql)).rows[0].value;
  } catch (err) {
    if (refused(err)) return null;
    throw err;
  }
}

/** Inside a transaction that must go on: in a savepoint, so that a refusal costs it nothing. */
async function readInSavepoint(client: PoolClient, sql: string): Promise<string | null> {
  await client.query('SAVEPOINT arcore_server_identity');
  try {
    const { rows } = await client.query<{ value: string }>(sql);
    await client.query('RELEASE SAVEPOINT arcore_server_identity');
    return rows[0].value;
  } catch (err) {
    if (!refused(err)) throw err;
    await client.query('ROLLBACK TO SAVEPOINT arcore_server_identity');
    await client.query('RELEASE SAVEPOINT arcore_server_identity');
    return null;
  }
}

/**
 * The identity of the server the pool's sessions are on, each part read on its own (one refused leaves the other
 * known). Asked each time: a privilege revoked while the process runs is met, never remembered wrong.
 */
export async function serverIdentity(pool: Pool): Promise<ServerIdentity> {
  return { systemId: await readOnPool(pool, SYSTEM_ID), timeline: await readOnPool(pool, TIMELINE) };
}

/** serverIdentity on a client inside a transaction that must go on (a pull page's, before its commit). */
export async function serverIdentityInTransaction(client: PoolClient): Promise<ServerIdentity> {
  return {
    systemId: await readInSavepoint(client, SYSTEM_ID),
    timeline: await readInSavepoint(client, TIMELINE),
  };
}

/** The oid and name of the database a session is on: they tell the databases of one server apart. */
const DATABASE = `d.oid::text AS database_oid, d.datname AS database_name
  FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()`;

type Row = { database_oid: string; database_name: string };

/**
 * The current transaction's id (txid_current) on `client`, with the database it belongs to and `server`, as the
 * caller read it on this connection (serverIdentityInTransaction, once per run). One statement that cannot be
 * refused: it runs inside the page's transaction.
 */
export async function transactionAndDatabase(
  client: PoolClient,
  server: ServerIdentity,
): Promise<{ xid: string; database: SourceDatabase }> {
  const { rows } = await client.query<Row & { xid: string }>(
    `SELECT pg_catalog.txid_current()::text AS xid, ${DATABASE}`,
  );
  return {
    xid: rows[0].xid,
    database: { ...server, databaseOid: rows[0].database_oid, databaseName: rows[0].database_name },
  };
}

/** The server and database the pool's sessions are on. */
export async function sourceDatabase(pool: Pool): Promise<SourceDatabase> {
  const server = await serverIdentity(pool);
  const { rows } = await pool.query<Row>(`SELECT ${DATABASE}`);
  return { ...server, databaseOid: rows[0].database_oid, databaseName: rows[0].database_name };
}

/**
 * Whether a transaction id taken on `recorded` may mean another transaction on `current`, or none: another server
 * (told by the system identifiers where both are known), another database (another oid or name), or another
 * timeline of the same server (where both are known: a promotion or a restore since, after which ids the old
 * timeline handed out may be handed out again). Null (recorded before migration 022) is taken as the current
 * source, as it was before (except where the source is the metadata database now: intents.ts).
 */
export function otherDatabase(recorded: SourceDatabase | null, current: SourceDatabase): boolean {
  if (recorded === null) return false;
  const differ = (a: string | null, b: string | null) => a !== null && b !== null && a !== b;
  if (differ(recorded.systemId, current.systemId) || differ(recorded.timeline, current.timeline)) return true;
  return recorded.databaseOid !== current.databaseOid || recorded.databaseName !== current.databaseName;
}

/** How a log line names a SourceDatabase. */
export function describeDatabase(d: SourceDatabase): string {
  const server = d.systemId ?? '(system identifier not readable)';
  return `database "${d.databaseName}" (oid ${d.databaseOid}) on server ${server}${d.timeline === null ? '' : `, timeline ${d.timeline}`}`;
}
