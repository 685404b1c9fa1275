const { rmSync } = require('node:fs');

module.exports = async function globalTeardown() {
  const state = globalThis.__ARCORE_PG__;
  if (!state) return;
  await state.pg.stop();
  rmSync(state.dataDir, { recursive: true, force: true });
};
