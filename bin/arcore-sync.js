#!/usr/bin/env node
'use strict';
// The arcore-sync command. Runs the compiled CLI (dist/, made by `npm run build`, which `npm start` runs
// first). In a checkout that was never built it falls back to the TypeScript sources through tsx (a dev
// dependency), and says how to build when tsx is not installed either.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const built = join(root, 'dist', 'src', 'cli', 'index.js');

if (existsSync(built)) {
  require(built).main();
} else {
  let registerCjs;
  try {
    registerCjs = require('tsx/cjs/api').register;
  } catch {
    process.stderr.write(
      `arcore-sync: ${built} does not exist: run "npm run build" in ${root} first (or "npm install" to get tsx)\n`,
    );
    process.exit(2);
  }
  // Both hooks: the CLI loads its commands with import(), which the ESM loader resolves, not require's.
  registerCjs();
  import('tsx/esm/api').then(
    ({ register }) => {
      register();
      require(join(root, 'src', 'cli', 'index.ts')).main();
    },
    (error) => {
      process.stderr.write(
        `arcore-sync: cannot load tsx's ESM hooks: ${error.message}; run "npm run build" first\n`,
      );
      process.exit(2);
    },
  );
}
