import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import manifestJson from './manifest.json';

/**
 * The web console's files. The console is static: an HTML shell, one ES module (Preact with htm, so there is
 * no build step) and a stylesheet; every piece of data comes from the ops API (`/api/ops/...`). Served under
 * `/console/` by the Functions app (src/functions/console.ts) and by `arcore-sync serve` alike.
 */
export interface ConsoleAsset {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Same-origin everything: no CDN, no inline script, no framing. */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The repository (or deployed package) root: the nearest folder above this module with a package.json. */
function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return dir;
}

/**
 * Browser builds of the libraries, from node_modules. Bare imports inside them (`from "preact"`) are rewritten
 * to the console's own paths, so the browser needs no import map (an inline script the CSP would refuse).
 */
/** The console's files and vendored libraries: one list for this server and for the deployment package. */
const manifest = z
  .object({
    web: z.array(z.string()),
    vendor: z.record(
      z.string(),
      z.object({
        pkg: z.string(),
        file: z.string(),
        rewrite: z.array(z.tuple([z.string(), z.string()])).optional(),
      }),
    ),
  })
  .parse(manifestJson);
const VENDOR = manifest.vendor;
const WEB_FILES = new Set(manifest.web);

/** A package's folder, found through its main entry (not every package exports its package.json). */
function packageDir(pkg: string): string {
  const main = require.resolve(pkg, { paths: [packageRoot()] });
  let dir = dirname(main);
  while (!existsSync(join(dir, 'package.json')) || !dir.includes(join('node_modules', pkg))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the folder of package ${pkg}`);
    dir = up;
  }
  return dir;
}

const cache = new Map<string, string>();

function read(path: string, rewrite: [string, string][] = []): string {
  const hit = cache.get(path);
  if (hit !== undefined) return hit;
  let text = readFileSync(path, 'utf8');
  for (const [from, to] of rewrite) text = text.split(from).join(to);
  cache.set(path, text);
  return text;
}

function typeOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return TYPES[name.slice(dot)] ?? 'application/octet-stream';
}

/**
 * The asset at `path` below `/console/` ('' is the page itself). Only the known files exist: no path is ever
 * joined onto the file system from the request, so `..` and the like simply find nothing.
 */
export function consoleAsset(path: string): ConsoleAsset {
  const name = path.replace(/^\/+/, '') || 'index.html';
  const headers = {
    'Content-Security-Policy': CONSOLE_CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-cache',
  };
  let text: string | undefined;
  if (WEB_FILES.has(name)) {
    text = read(join(packageRoot(), 'src', 'console', 'web', name));
  } else if (name.startsWith('vendor/') && Object.hasOwn(VENDOR, name.slice('vendor/'.length))) {
    // Own keys only: `constructor`, `__proto__` and the like are on every object and name no file.
    const file = name.slice('vendor/'.length);
    const v = VENDOR[file];
    // The deployment package (scripts/package-app.js) carries these files beside the console, not node_modules.
    const packaged = join(packageRoot(), 'src', 'console', 'vendor', file);
    text = read(existsSync(packaged) ? packaged : join(packageDir(v.pkg), v.file), v.rewrite);
  }
  if (text === undefined) {
    return {
      status: 404,
      headers: { ...headers, 'Content-Type': 'text/plain; charset=utf-8' },
      body: `no console file ${name}`,
    };
  }
  return { status: 200, headers: { ...headers, 'Content-Type': typeOf(name) }, body: text };
}
