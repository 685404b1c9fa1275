import { randomBytes } from 'node:crypto';
import { Client, type Pool } from 'pg';
import { createPool } from '../../src/core/db/pool';

export interface TestDatabase {
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

function defaultAdminUrl(): string {
  const url = process.env.ARCORE_TEST_ADMIN_URL;
  if (!url) throw new Error('ARCORE_TEST_ADMIN_URL is not set: is jest globalSetup configured?');
  return url;
}

/**
 * A fresh database of its own for one test file, on the run's Postgres server (or on the server of `adminUrl`, for a
 * test that runs a server of its own): empty, or with `migrated` a copy of the run's migrated template (globalSetup;
 * on another server, empty all the same: the caller migrates it, which is a no-op on a copy).
 */
export async function freshDatabase(
  adminUrl: string = defaultAdminUrl(),
  options: { migrated?: boolean } = {},
): Promise<TestDatabase> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const template = process.env.ARCORE_TEST_TEMPLATE;
  const copy = options.migrated && template && adminUrl === process.env.ARCORE_TEST_ADMIN_URL;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(
      copy ? `CREATE DATABASE "${name}" TEMPLATE "${template}"` : `CREATE DATABASE "${name}"`,
    );
  } finally {
    await admin.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  // The app's own pool: its end() resolves once every session is closed on the server.
  const pool = createPool({ connectionString: url, auth: 'password', max: 10 });
  // A copy has the template's installation id, which names replication slots and origins, cluster-wide objects: each
  // database gets its own, as a migration gives it (two test databases sharing one would share their slots).
  if (copy) await pool.query("UPDATE arcore.installation SET id = replace(gen_random_uuid()::text, '-', '')");
  return {
    url,
    pool,
    async drop() {
      await pool.end();
      const c = new Client({ connectionString: adminUrl });
      await c.connect();
      try {
        // Every pool of the app waits for its sessions to close (src/core/db/pool.ts), so normally none is
        // left; FORCE ends any a test leaked rather than failing on it.
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
