import { randomBytes } from 'node:crypto';
import { createPool } from '../../../src/core/db/pool';
import {
  otherDatabase,
  sourceDatabase,
  serverIdentity,
  serverIdentityInTransaction,
  transactionAndDatabase,
} from '../../../src/core/source/postgres/database';
import { freshDatabase, type TestDatabase } from '../../support/db';

/**
 * What a pull insert intent records of the source it was taken on (migration 022, engine/pull/intents.ts): the
 * server's system identifier where the role may read it, the database's oid and name; and when a recorded one is
 * taken for another source than the current one.
 */
describe('the source server and database of an intent', () => {
  let db: TestDatabase;
  const role = `r_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    db = await freshDatabase();
    // Function privileges live in each database's pg_proc: revoked here only, as a provider might everywhere.
    await db.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw';
      REVOKE EXECUTE ON FUNCTION pg_catalog.pg_control_system() FROM PUBLIC`);
  });
  afterAll(async () => {
    await db.drop();
    const admin = createPool({
      connectionString: process.env.ARCORE_TEST_ADMIN_URL as string,
      auth: 'password',
      max: 1,
    });
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  it('a role that may not call pg_control_system() records the database alone, without failing the query it shares', async () => {
    const u = new URL(db.url);
    u.username = role;
    u.password = 'pw';
    const pool = createPool({ connectionString: u.toString(), auth: 'password', max: 1 });
    try {
      const admin = await sourceDatabase(db.pool);
      expect(admin.systemId).toMatch(/^\d+$/);
      expect(admin.timeline).toMatch(/^\d+$/);
      const plain = await sourceDatabase(pool);
      // The timeline (read on its own) stays known.
      expect(plain).toEqual({ ...admin, systemId: null });
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const taken = await transactionAndDatabase(client, await serverIdentityInTransaction(client));
        expect(taken.xid).toMatch(/^\d+$/);
        expect(taken.database).toEqual(plain);
        // The refusal was met in a savepoint: the page's transaction goes on.
        expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        await client.query('ROLLBACK');
      } finally {
        client.release();
      }
      // Read by a role that may, the same database is not taken for another one.
      expect(otherDatabase(plain, admin)).toBe(false);
    } finally {
      await pool.end();
    }
  });

  it('another server, or another database of one server, is another source; a record from before 022 is not', () => {
    const here = {
      systemId: '7000000000000000001',
      timeline: '1',
      databaseOid: '16384',
      databaseName: 'app',
    };
    expect(otherDatabase(null, here)).toBe(false);
    expect(otherDatabase({ ...here }, here)).toBe(false);
    // Database oids repeat across servers: the system identifier tells them apart.
    expect(otherDatabase({ ...here, systemId: '7000000000000000002' }, here)).toBe(true);
    expect(otherDatabase({ ...here, databaseOid: '16385' }, here)).toBe(true);
    expect(otherDatabase({ ...here, databaseName: 'app_copy' }, here)).toBe(true);
    expect(otherDatabase({ ...here, systemId: null, databaseOid: '16385' }, here)).toBe(true);
    // A promotion or a point-in-time restore since: another timeline of the same server's history.
    expect(otherDatabase({ ...here, timeline: '2' }, here)).toBe(true);
    // Unknown on either side (not readable, or recorded before migration 023): not taken for another one.
    expect(otherDatabase({ ...here, timeline: null }, here)).toBe(false);
    expect(otherDatabase(here, { ...here, timeline: null })).toBe(false);
  });

  it('a page holding the only connection of its pool records where its transaction was taken', async () => {
    const u = new URL(db.url);
    u.searchParams.set('connect_timeout', '2');
    const pool = createPool({ connectionString: u.toString(), auth: 'password', max: 1 });
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const taken = await transactionAndDatabase(client, await serverIdentityInTransaction(client));
      expect(taken.xid).toMatch(/^\d+$/);
      expect(taken.database.systemId).toMatch(/^\d+$/);
      expect(taken.database.timeline).toMatch(/^\d+$/);
      await client.query('ROLLBACK');
    } finally {
      client.release();
      await pool.end();
    }
  });

  it('each part of the identity is read on its own: a function refused leaves the other known', async () => {
    const u = new URL(db.url);
    u.username = role;
    u.password = 'pw';
    const pool = createPool({ connectionString: u.toString(), auth: 'password', max: 1 });
    try {
      await db.pool.query(`GRANT EXECUTE ON FUNCTION pg_catalog.pg_control_system() TO ${role};
        REVOKE EXECUTE ON FUNCTION pg_catalog.pg_walfile_name(pg_lsn) FROM PUBLIC`);
      const read = await serverIdentity(pool);
      expect(read.systemId).toMatch(/^\d+$/);
      expect(read.timeline).toBeNull();
    } finally {
      await db.pool.query(`REVOKE EXECUTE ON FUNCTION pg_catalog.pg_control_system() FROM ${role};
        GRANT EXECUTE ON FUNCTION pg_catalog.pg_walfile_name(pg_lsn) TO PUBLIC`);
      await pool.end();
    }
  });

  it('a privilege revoked while the process runs is met on the next read, and costs the transaction nothing', async () => {
    const u = new URL(db.url);
    u.username = role;
    u.password = 'pw';
    const pool = createPool({ connectionString: u.toString(), auth: 'password', max: 1 });
    const client = await pool.connect();
    let released = false;
    try {
      await db.pool.query(`GRANT EXECUTE ON FUNCTION pg_catalog.pg_control_system() TO ${role}`);
      await client.query('BEGIN');
      expect((await serverIdentityInTransaction(client)).systemId).toMatch(/^\d+$/);
      await client.query('COMMIT');
      await db.pool.query(`REVOKE EXECUTE ON FUNCTION pg_catalog.pg_control_system() FROM ${role}`);
      // The next page's transaction, on the same connection.
      await client.query('BEGIN');
      expect(await serverIdentityInTransaction(client)).toEqual({
        systemId: null,
        timeline: expect.stringMatching(/^\d+$/),
      });
      const unknown = { systemId: null, timeline: null };
      expect((await transactionAndDatabase(client, unknown)).xid).toMatch(/^\d+$/);
      await client.query('COMMIT');
      client.release();
      released = true;
      expect((await serverIdentity(pool)).systemId).toBeNull();
    } finally {
      if (!released) client.release();
      await pool.end();
    }
  });
});
