// Starts a real Postgres for the whole test run unless DATABASE_URL points at one already.
// Plain CommonJS (jest loads this file outside its sandbox); the shared TypeScript helper is loaded through tsx.
const { require: tsxRequire } = require('tsx/cjs/api');
const { buildForChildren } = require('./testBuild');

module.exports = async function globalSetup() {
  // Child processes (the CLI, engine children, workers) run a transpiled copy: test/support/childNode.ts.
  process.env.ARCORE_TEST_BUILD = await buildForChildren();
  if (process.env.DATABASE_URL) {
    process.env.ARCORE_TEST_ADMIN_URL = process.env.DATABASE_URL;
    await createMigratedTemplate(process.env.DATABASE_URL);
    return;
  }
  const { startEmbeddedPostgres } = tsxRequire('../../src/core/db/embeddedPostgres.ts', __filename);
  const pg = await startEmbeddedPostgres({
    postgresFlags: [
      '-c',
      'wal_level=logical',
      '-c',
      'max_connections=300',
      '-c',
      'fsync=off',
      '-c',
      'max_replication_slots=64',
      '-c',
      'max_wal_senders=64',
    ],
    log: (message) => process.stderr.write(`${message}\n`),
  });
  globalThis.__ARCORE_PG__ = pg;
  process.env.ARCORE_TEST_ADMIN_URL = pg.adminUrl;
  await createMigratedTemplate(pg.adminUrl);
};

/**
 * A database with every migration applied, which test/support/db.ts copies (CREATE DATABASE … TEMPLATE) for the
 * harnesses that want a migrated database: a copy takes a fraction of applying the migrations again each time.
 * Nobody connects to it after this (a template in use cannot be copied); the global teardown drops it.
 */
async function createMigratedTemplate(adminUrl) {
  const { Client, Pool } = require('pg');
  const { migrate } = tsxRequire('../../src/core/store/migrate.ts', __filename);
  const name = `arcore_template_${process.pid}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new Pool({ connectionString: url.toString(), max: 1 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  process.env.ARCORE_TEST_TEMPLATE = name;
}
