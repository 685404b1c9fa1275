'use strict';
// Loads a Function App the way the Azure Functions Node.js worker does, without the host: it provides
// the module `@azure/functions-core` (which the real worker injects; @azure/functions registers every
// function and hook through it), reads package.json `main` in the app directory, requires each matching
// file, and reports what was registered. Used by test/functions/packagedApp.test.ts and
// bench/coldStart.ts.
//
//   node bench/functionsWorker.js <appDir>
// prints one JSON line: {functions: [{name, bindings}], hooks: [name], loadMs, entryFiles}.
// Exits 1 (with the error on stderr) when an entry file throws, as the worker blocks such an app on Node 20+.

const Module = require('node:module');
const { readFileSync, readdirSync } = require('node:fs');
const { join, dirname, basename, resolve } = require('node:path');

const started = process.hrtime.bigint();
const appDir = resolve(process.argv[2] ?? '.');
const functions = [];
const hooks = [];

const coreApi = {
  version: 'harness',
  setProgrammingModel() {},
  getProgrammingModel() {
    return undefined;
  },
  registerFunction(metadata) {
    functions.push({ name: metadata.name, bindings: metadata.bindings });
    return { dispose() {} };
  },
  registerHook(name) {
    hooks.push(name);
    return { dispose() {} };
  },
  log() {},
  Disposable: class {
    dispose() {}
  },
};

const originalLoad = Module._load;
Module._load = function load(request, parent, isMain) {
  if (request === '@azure/functions-core') return coreApi;
  return originalLoad.call(this, request, parent, isMain);
};

/** package.json `main`, with the one glob form the worker documents (`dir/*.js`). */
function entryFiles() {
  const main = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')).main;
  if (typeof main !== 'string') throw new Error(`${appDir}/package.json has no "main"`);
  if (!main.includes('*')) return [join(appDir, main)];
  const dir = join(appDir, dirname(main));
  const pattern = new RegExp(
    `^${basename(main)
      .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')}$`,
  );
  return readdirSync(dir)
    .filter((f) => pattern.test(f))
    .sort()
    .map((f) => join(dir, f));
}

try {
  const files = entryFiles();
  for (const file of files) require(file);
  const loadMs = Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(`${JSON.stringify({ functions, hooks, loadMs, entryFiles: files.length })}\n`);
  // Telemetry exporters and pools keep timers alive; the harness only loads.
  process.exit(0);
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
}
