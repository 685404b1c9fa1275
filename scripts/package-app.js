#!/usr/bin/env node
'use strict';
// `npm run package`: builds the deployable Function App into .arcore/package/ and zips it to
// .arcore/package.zip. azure.yaml deploys that directory (services.api.dist), and nothing else.
//
// Layout of the package:
//   host.json
//   package.json            main: dist/app.js; no dependencies, so an `npm install` on it changes nothing
//   dist/app.js             every function module (src/functions/*) bundled with esbuild
//   dist/node_modules/pg…   pg and its dependencies, left unbundled so Application Insights' pg
//                           instrumentation can patch `require('pg')` (it hooks require by module name)
//   dist/node_modules/applicationinsights/index.js
//                           the SDK and OpenTelemetry bundled into one file (telemetry.ts loads it with
//                           createRequire only when APPLICATIONINSIGHTS_CONNECTION_STRING is set)
// Dependencies live under dist/ so that no package manager run on the package root can prune them.
// Only runtime code ships: no devDependencies, no sources, no embedded Postgres.

const { execFileSync } = require('node:child_process');
const {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} = require('node:fs');
const { dirname, join, relative } = require('node:path');

const root = join(__dirname, '..');
const outDir = join(root, '.arcore', 'package');
const zipFile = join(root, '.arcore', 'package.zip');
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** Packages kept out of the bundle and shipped in dist/node_modules (with their dependency closure). */
const UNBUNDLED = ['pg'];
/** Provided by the Functions worker at run time; never installed. */
const PROVIDED = ['@azure/functions-core'];

function fail(message) {
  process.stderr.write(`package: ${message}\n`);
  process.exit(1);
}

let esbuild;
try {
  esbuild = require('esbuild');
} catch {
  fail('esbuild is not installed: run "npm install" (it is a devDependency)');
}

/** src/functions modules that register a function (app.http / app.timer / app.storageQueue …). */
function functionModules() {
  const dir = join(root, 'src', 'functions');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .filter((f) => /^app\.(http|timer|storageQueue|generic)\(/m.test(readFileSync(join(dir, f), 'utf8')))
    .sort()
    .map((f) => join(dir, f));
}

/** The directory of an installed package, resolved from `fromDir` the way Node would. */
function packageDir(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

/** Copies `name` and everything it depends on, keeping node_modules nesting as installed. */
function copyWithDependencies(name, fromDir, targetRoot, seen) {
  const dir = packageDir(name, fromDir);
  if (!dir) return false;
  if (seen.has(dir)) return true;
  seen.add(dir);
  const target = join(targetRoot, relative(join(root, 'node_modules'), dir));
  cpSync(dir, target, {
    recursive: true,
    // Nested node_modules are copied as packages of their own, only when depended upon.
    // Type declarations, sources, source maps and docs are not needed at run time.
    filter: (source) =>
      !relative(dir, source).split('/').includes('node_modules') && !/\.(ts|map|md)$/.test(source),
  });
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  for (const dep of Object.keys(manifest.dependencies ?? {})) {
    if (!copyWithDependencies(dep, dir, targetRoot, seen))
      fail(`${name} needs ${dep}, which is not installed`);
  }
  for (const dep of Object.keys(manifest.optionalDependencies ?? {}))
    copyWithDependencies(dep, dir, targetRoot, seen);
  return true;
}

function sizeOf(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, entry) => sum + sizeOf(join(path, entry)), 0);
}

async function main() {
  const started = Date.now();
  rmSync(outDir, { recursive: true, force: true });
  rmSync(zipFile, { force: true });
  mkdirSync(join(outDir, 'dist'), { recursive: true });

  const modules = functionModules();
  if (modules.length === 0) fail('no function modules found in src/functions');
  // One entry importing every function module in a fixed order: one file to load on a cold start.
  const entry = modules.map((m) => `require(${JSON.stringify(m)});`).join('\n');
  await esbuild.build({
    stdin: { contents: entry, resolveDir: root, sourcefile: 'functions-entry.js', loader: 'js' },
    outfile: join(outDir, 'dist', 'app.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: [...UNBUNDLED, ...PROVIDED, 'applicationinsights'],
    // Readable names in stack traces (App Insights exceptions), smaller and faster to parse otherwise.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'warning',
  });

  const vendor = join(outDir, 'dist', 'node_modules');
  const aiManifest = JSON.parse(
    readFileSync(join(packageDir('applicationinsights', root), 'package.json'), 'utf8'),
  );
  await esbuild.build({
    entryPoints: [require.resolve('applicationinsights', { paths: [root] })],
    outfile: join(vendor, 'applicationinsights', 'index.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: [...UNBUNDLED, 'pg-native'],
    minify: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'error',
  });
  writeFileSync(
    join(vendor, 'applicationinsights', 'package.json'),
    `${JSON.stringify({ name: 'applicationinsights', version: aiManifest.version, main: 'index.js', license: aiManifest.license }, null, 2)}\n`,
  );

  const seen = new Set();
  for (const name of UNBUNDLED) {
    if (!copyWithDependencies(name, root, vendor, seen)) fail(`${name} is not installed: run "npm install"`);
  }

  cpSync(join(root, 'host.json'), join(outDir, 'host.json'));
  // The web console's static files, where src/console/assets.ts looks for them in the package.
  const consoleFiles = JSON.parse(readFileSync(join(root, 'src', 'console', 'manifest.json'), 'utf8'));
  const consoleDir = join(outDir, 'src', 'console');
  mkdirSync(join(consoleDir, 'web'), { recursive: true });
  mkdirSync(join(consoleDir, 'vendor'), { recursive: true });
  for (const f of consoleFiles.web)
    cpSync(join(root, 'src', 'console', 'web', f), join(consoleDir, 'web', f));
  for (const [f, v] of Object.entries(consoleFiles.vendor))
    cpSync(join(packageDir(v.pkg, root), v.file), join(consoleDir, 'vendor', f));
  const manifest = {
    name: rootPackage.name,
    version: rootPackage.version,
    description: rootPackage.description,
    license: rootPackage.license,
    private: true,
    engines: rootPackage.engines,
    main: 'dist/app.js',
  };
  writeFileSync(join(outDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);

  try {
    execFileSync('zip', ['-q', '-r', '-X', zipFile, '.'], {
      cwd: outDir,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  } catch (err) {
    fail(`could not run "zip" (install it, e.g. apt-get install zip): ${err.message}`);
  }
  const mb = (n) => (n / 1024 / 1024).toFixed(1);
  process.stdout.write(
    `package: ${modules.length} function modules → ${relative(root, zipFile)} ` +
      `(${mb(sizeOf(zipFile))} MB zipped, ${mb(sizeOf(outDir))} MB unpacked) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

main().catch((err) => fail(err instanceof Error ? err.stack : String(err)));
