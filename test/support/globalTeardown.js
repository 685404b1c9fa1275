const { removeBuild } = require('./testBuild');

module.exports = async function globalTeardown() {
  removeBuild(process.env.ARCORE_TEST_BUILD);
  const pg = globalThis.__ARCORE_PG__;
  if (pg) await pg.stop();
};
