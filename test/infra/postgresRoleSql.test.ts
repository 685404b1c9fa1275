import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Pool } from 'pg';
import { createPool } from '../../src/core/db/pool';
import { freshDatabase, type TestDatabase } from '../support/db';

/*
 * scripts/create-postgres-role.sh runs scripts/sql/*.sql with psql as the server's Entra administrator,
 * passing its inputs as PGOPTIONS. Here the same files run against the real embedded Postgres, set up the
 * way Azure Database for PostgreSQL is: a non-superuser administrator with CREATEROLE, member of an
 * azure_pg_admin-like role that owns the database. Azure's pgaadauth_create_principal_with_oid exists only
 * on Azure, so a stand-in records its calls and creates the role, as the real one does.
 */

const SQL_DIR = resolve(__dirname, '../../scripts/sql');
const createAppRoleSql = readFileSync(join(SQL_DIR, 'create-app-role.sql'), 'utf8');
const grantAppRoleSql = readFileSync(join(SQL_DIR, 'grant-app-role.sql'), 'utf8');

const suffix = randomBytes(4).toString('hex');
const appRole = `arcore_app_${suffix}`;
const adminRole = `entra_admin_${suffix}`;
const ownerRole = `azure_pg_admin_${suffix}`;
const adminPassword = randomBytes(12).toString('hex');
const appPassword = randomBytes(12).toString('hex');
const appObjectId = randomUUID();

let db: TestDatabase;
const pools: Pool[] = [];

function urlFor(user: string, password: string, options?: string): string {
  const url = new URL(db.url);
  url.username = user;
  url.password = password;
  if (options) url.searchParams.set('options', options);
  return url.toString();
}

/** A connection as the administrator with the inputs the script passes in PGOPTIONS. */
function adminPool(objectId: string = appObjectId, moreOptions = ''): Pool {
  const pool = createPool({
    connectionString: urlFor(
      adminRole,
      adminPassword,
      `-c arcore.app_role=${appRole} -c arcore.app_object_id=${objectId}${moreOptions}`,
    ),
    auth: 'password',
    max: 1,
  });
  pools.push(pool);
  return pool;
}

async function runCollectingWarnings(pool: Pool, sql: string): Promise<string[]> {
  const client = await pool.connect();
  const warnings: string[] = [];
  client.on('notice', (notice) => {
    if (notice.severity === 'WARNING') warnings.push(notice.message ?? '');
  });
  try {
    await client.query(sql);
  } finally {
    client.release();
  }
  return warnings;
}

beforeAll(async () => {
  db = await freshDatabase();
  const database = new URL(db.url).pathname.slice(1);
  const statements = [
    `CREATE ROLE ${ownerRole} NOLOGIN`,
    `CREATE ROLE ${adminRole} LOGIN CREATEROLE PASSWORD '${adminPassword}' IN ROLE ${ownerRole}`,
    `ALTER DATABASE "${database}" OWNER TO ${ownerRole}`,
    // Outside public, so that the grants on every table in public do not meet it.
    `CREATE SCHEMA emulation`,
    `CREATE TABLE emulation.principal_calls (role_name text, object_id text, object_type text, is_admin boolean, is_mfa boolean)`,
    `GRANT USAGE ON SCHEMA emulation TO ${adminRole}`,
    `GRANT INSERT ON emulation.principal_calls TO ${adminRole}`,
    `CREATE FUNCTION pgaadauth_create_principal_with_oid(role_name text, object_id text, object_type text, is_admin boolean, is_mfa boolean)
       RETURNS text LANGUAGE plpgsql AS $$
       BEGIN
         INSERT INTO emulation.principal_calls VALUES (role_name, object_id, object_type, is_admin, is_mfa);
         EXECUTE format('CREATE ROLE %I LOGIN', role_name);
         RETURN 'Created role for ' || role_name;
       END $$`,
  ];
  for (const sql of statements) await db.pool.query(sql);
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await db.drop();
  const admin = createPool({ connectionString: process.env.ARCORE_TEST_ADMIN_URL ?? '', auth: 'password' });
  try {
    // Slots are cluster-wide: one left by a failed test would keep WAL for every other test file.
    await admin.query(
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
      [`arcore_role_test_${suffix}`],
    );
    for (const role of [appRole, adminRole, ownerRole]) await admin.query(`DROP ROLE IF EXISTS ${role}`);
  } finally {
    await admin.end();
  }
});

describe('scripts/sql: the app role, as create-postgres-role.sh sets it up', () => {
  test('create-app-role.sql maps the role to the object id once, and a second run changes nothing', async () => {
    const admin = adminPool();
    const firstWarnings = await runCollectingWarnings(admin, createAppRoleSql);
    await runCollectingWarnings(admin, createAppRoleSql);

    const { rows: calls } = await db.pool.query('SELECT * FROM emulation.principal_calls');
    expect(calls).toEqual([
      { role_name: appRole, object_id: appObjectId, object_type: 'service', is_admin: false, is_mfa: false },
    ]);
    const { rows: roles } = await db.pool.query('SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [
      appRole,
    ]);
    expect(roles).toEqual([{ rolcanlogin: true }]);
    // A non-superuser administrator cannot hand out REPLICATION here: a warning, not a failure.
    expect(firstWarnings.join('\n')).toMatch(/could not give .* the REPLICATION attribute/);
  });

  test('create-app-role.sql refuses inputs that are not a role name and an object id', async () => {
    await expect(runCollectingWarnings(adminPool('not-a-guid'), createAppRoleSql)).rejects.toThrow(
      /is not an Entra object id/,
    );
  });

  test('grant-app-role.sql lets the app use and create tables, including ones the administrator makes later', async () => {
    const admin = adminPool();
    // A non-superuser administrator (as on Azure) cannot grant the replication origin functions: one warning.
    const originWarning = [
      expect.stringMatching(
        /^could not grant .* EXECUTE on the replication origin functions pg_replication_origin_create/,
      ),
    ];
    expect(await runCollectingWarnings(admin, grantAppRoleSql)).toEqual(originWarning);
    expect(await runCollectingWarnings(admin, grantAppRoleSql)).toEqual(originWarning);
    await admin.query('CREATE TABLE definitions_by_admin (id serial PRIMARY KEY, body text)');

    await db.pool.query(`ALTER ROLE ${appRole} PASSWORD '${appPassword}'`); // the token stands in for this on Azure
    const app = createPool({ connectionString: urlFor(appRole, appPassword), auth: 'password', max: 1 });
    pools.push(app);
    await app.query("INSERT INTO definitions_by_admin (body) VALUES ('{}')");
    const { rows } = await app.query<{ n: number }>('SELECT count(*)::int AS n FROM definitions_by_admin');
    expect(rows[0].n).toBe(1);
    await app.query('CREATE TABLE ledger_by_app (id bigint PRIMARY KEY)');

    // The administrator became a member of the app role, so it can work on the app's own tables.
    const { rows: membership } = await db.pool.query<{ member: boolean }>(
      'SELECT pg_has_role($1, $2, $3) AS member',
      [adminRole, appRole, 'USAGE'],
    );
    expect(membership[0].member).toBe(true);
    await admin.query('INSERT INTO ledger_by_app VALUES (1)');
  });

  test('grant-app-role.sql hands the tables named in arcore.cdc_tables to the app, which may then publish them', async () => {
    await db.pool.query(`GRANT CREATE ON SCHEMA public TO ${adminRole}`);
    const admin = adminPool(appObjectId, ' -c arcore.cdc_tables=public.cdc_orders');
    await admin.query('CREATE TABLE IF NOT EXISTS cdc_orders (id int PRIMARY KEY, title text)');
    await runCollectingWarnings(admin, grantAppRoleSql);
    const { rows } = await db.pool.query<{ owner: string }>(
      "SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'public.cdc_orders'::regclass",
    );
    expect(rows).toEqual([{ owner: appRole }]);

    await db.pool.query(`ALTER ROLE ${appRole} PASSWORD '${appPassword}'`);
    const app = createPool({ connectionString: urlFor(appRole, appPassword), auth: 'password', max: 1 });
    pools.push(app);
    const publication = `arcore_pub_role_test_${suffix}`;
    await app.query(`CREATE PUBLICATION ${publication} FOR TABLE public.cdc_orders`);
    const { rows: published } = await db.pool.query(
      'SELECT tablename FROM pg_publication_tables WHERE pubname = $1',
      [publication],
    );
    expect(published).toEqual([{ tablename: 'cdc_orders' }]);
    // The administrator keeps using the table through its membership of the app role.
    await admin.query("INSERT INTO cdc_orders VALUES (1, 'kept')");
    await app.query(`DROP PUBLICATION ${publication}`);
  });

  test('grant-app-role.sql refuses an arcore.cdc_tables entry that is not schema.table', async () => {
    await expect(
      runCollectingWarnings(adminPool(appObjectId, ' -c arcore.cdc_tables=orders'), grantAppRoleSql),
    ).rejects.toThrow(/arcore.cdc_tables entry "orders" must be schema.table/);
  });

  test('run by a superuser, create-app-role.sql gives the app REPLICATION, enough to create a logical slot', async () => {
    const client = await db.pool.connect();
    try {
      await client.query(`SET arcore.app_role = '${appRole}'`);
      await client.query(`SET arcore.app_object_id = '${appObjectId}'`);
      await client.query(createAppRoleSql);
    } finally {
      client.release();
    }
    const { rows } = await db.pool.query('SELECT rolreplication FROM pg_roles WHERE rolname = $1', [appRole]);
    expect(rows).toEqual([{ rolreplication: true }]);
    await db.pool.query(`ALTER ROLE ${appRole} PASSWORD '${appPassword}'`);
    const app = createPool({ connectionString: urlFor(appRole, appPassword), auth: 'password', max: 1 });
    pools.push(app);
    const slot = `arcore_role_test_${suffix}`;
    await app.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    await app.query('SELECT pg_drop_replication_slot($1)', [slot]);
  });
});
