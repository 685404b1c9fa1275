module.exports = async function globalTeardown() {
  const pg = globalThis.__ARCORE_PG__;
  if (pg) await pg.stop();
};
