import { Pool } from 'pg';
import { markOwnWrites, OriginPrivilegeError } from '../../../../src/core/capture/lsn/origin';
import { CapturePrivilegeError, createSlot } from '../../../../src/core/capture/lsn/slot';
import { freshDatabase, type TestDatabase } from '../../../support/db';

/** A role without REPLICATION or the origin functions gets errors naming the grant it needs. */
let db: TestDatabase;
let role: string;
let restricted: Pool;

beforeAll(async () => {
  db = await freshDatabase();
  role = `${new URL(db.url).pathname.slice(1)}_app`; // roles are cluster-wide: unique per test database
  await db.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD 'app'`);
  const url = new URL(db.url);
  url.username = role;
  url.password = 'app';
  restricted = new Pool({ connectionString: url.toString(), max: 1 });
});

afterAll(async () => {
  await restricted.end();
  await db.drop();
  const admin = new Pool({ connectionString: process.env.ARCORE_TEST_ADMIN_URL, max: 1 });
  await admin.query(`DROP ROLE IF EXISTS ${role}`);
  await admin.end();
});

describe('capture privileges', () => {
  it('creating the slot without REPLICATION names ALTER ROLE … REPLICATION', async () => {
    const err = await createSlot(restricted, 'orders', `${role}_slot`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CapturePrivilegeError);
    expect((err as Error).message).toContain(`ALTER ROLE "${role}" REPLICATION;`);
  });

  it('marking pull writes without the origin functions names the GRANT', async () => {
    const client = await restricted.connect();
    try {
      const err = await markOwnWrites(client, `${role}_origin`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OriginPrivilegeError);
      expect((err as Error).message).toContain(
        `GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text), pg_replication_origin_session_setup(text), pg_replication_origin_session_reset() TO "${role}";`,
      );
    } finally {
      client.release();
    }
  });
});
