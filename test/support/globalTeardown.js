const { removeBuild } = require('./testBuild');

module.exports = async function globalTeardown() {
  removeBuild(process.env.ARCORE_TEST_BUILD);
  await dropTemplate();
  const pg = globalThis.__ARCORE_PG__;
  if (pg) await pg.stop();
};

/** Drops the migrated template globalSetup made (on a server of the user's own, DATABASE_URL, it would stay). */
async function dropTemplate() {
  const name = process.env.ARCORE_TEST_TEMPLATE;
  const adminUrl = process.env.ARCORE_TEST_ADMIN_URL;
  if (!name || !adminUrl) return;
  const { Client } = require('pg');
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
