// One transpiled copy of src/ and test/ for the child processes tests start (the CLI, engine children, workers).
// A child through tsx spends most of a second of CPU in tsx's loader hooks before it runs anything; the same code
// transpiled once by esbuild (tsx's own transpiler, so the same semantics) starts in about a quarter of that. The
// copy lives under .arcore/ (ignored by git), one folder per jest run; files that are not TypeScript are copied.
// Plain CommonJS: jest's globalSetup and globalTeardown load it outside the test sandbox.
const { build } = require('esbuild');
const { cpSync, mkdirSync, readdirSync, rmSync } = require('node:fs');
const { join, relative } = require('node:path');

const ROOT = join(__dirname, '..', '..');

function filesUnder(dir, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) filesUnder(path, out);
    else out.push(path);
  }
  return out;
}

/** Transpiles src/ and test/ into a fresh folder and returns it. */
async function buildForChildren() {
  const outdir = join(ROOT, '.arcore', `test-build-${process.pid}`);
  rmSync(outdir, { recursive: true, force: true });
  const files = [...filesUnder(join(ROOT, 'src')), ...filesUnder(join(ROOT, 'test'))];
  const sources = files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  await build({
    entryPoints: sources,
    outdir,
    outbase: ROOT,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'error',
  });
  for (const file of files.filter((f) => !f.endsWith('.ts'))) {
    const target = join(outdir, relative(ROOT, file));
    mkdirSync(join(target, '..'), { recursive: true });
    cpSync(file, target);
  }
  return outdir;
}

function removeBuild(dir) {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

module.exports = { buildForChildren, removeBuild };
