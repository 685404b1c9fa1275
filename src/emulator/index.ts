/**
 * The SharePoint emulator: Microsoft Graph v1.0 (sites, lists, columns, items, delta, $batch,
 * subscriptions and notifications, throttling) over HTTPS on 127.0.0.1, with a control API.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { IdentityRegistry } from './auth';
import { CERT_FILE, loadOrCreateCertificate } from './certificate';
import type { EmulatorContext, RuntimeSettings } from './context';
import { ControlApi } from './control';
import { EmulatorSetupError } from './errors';
import { GraphExecutor } from './executor';
import { DeltaErrorInjector } from './deltaErrors';
import { FaultInjector } from './faults';
import { guidFromName } from './ids';
import { Notifier } from './notifier';
import { initialSettings, resolveOptions } from './options';
import { SeededRandom } from './random';
import {
  loadPersistedState,
  restoreState,
  serializeState,
  StateSaver,
  type PersistedState,
} from './persistence';
import { RequestRecorder } from './requestLog';
import { EmulatorHttpsServer } from './server';
import { EmulatorState } from './state';
import { removeExpiredSubscriptions } from './subscriptions';
import { ResourceUnitBudget } from './throttling';
import type { EmulatorOptions, RunningEmulator } from './types';

export type {
  EmulatorControl,
  EmulatorItemSnapshot,
  EmulatorOptions,
  EmulatorStats,
  FaultSpec,
  RequestLogEntry,
  RunningEmulator,
  ThrottlingSettings,
} from './types';
export { EmulatorSetupError } from './errors';
export { DEFAULT_SITE } from './options';
export { parseSiteOption, SITE_OPTION_FORM, type SiteOptionResult } from './siteOption';

const SWEEP_INTERVAL_MS = 1000;

function tenantDomainOf(hostPath: string): string {
  const host = hostPath.slice(0, hostPath.indexOf(':'));
  return `${host.split('.')[0]}.onmicrosoft.com`;
}

/**
 * The sites to serve: those asked for, then any site a persisted state holds lists for, so that starting
 * without a `--site` given last time never drops that site's lists from the saved state.
 */
function sitesToServe(requested: string[], persisted: PersistedState | undefined): string[] {
  const key = (hostPath: string) => hostPath.toLowerCase().replace(/\/+$/, '');
  const sites = [...requested];
  for (const saved of persisted?.sites ?? [])
    if (!sites.some((site) => key(site) === key(saved.hostPath))) sites.push(saved.hostPath);
  return sites;
}

export async function startEmulator(options?: EmulatorOptions): Promise<RunningEmulator> {
  const resolved = resolveOptions(options);
  const certificate = await loadOrCreateCertificate(resolved.stateDir);
  const persisted = resolved.persist ? await loadPersistedState(resolved.stateDir!) : undefined;
  const tenantDomain = tenantDomainOf(resolved.sites[0]);
  const sites = sitesToServe(resolved.sites, persisted);
  const state = persisted
    ? restoreState(persisted, sites, resolved.siteTimeZones)
    : new EmulatorState(guidFromName(`tenant:${tenantDomain}`), sites, resolved.siteTimeZones);
  const identities = new IdentityRegistry(
    tenantDomain,
    resolved.users,
    persisted ? { tokens: persisted.tokens } : undefined,
  );
  const settings: RuntimeSettings = initialSettings(resolved);
  const random = new SeededRandom(resolved.seed);
  const recorder = new RequestRecorder();
  const budget = new ResourceUnitBudget(settings, options?.clock);
  const faults = new FaultInjector();
  const notifier = new Notifier(state, settings, recorder, random);
  const saver = resolved.persist
    ? new StateSaver(resolved.stateDir!, () => serializeState(state, identities.seed().tokens))
    : undefined;

  const ctx: EmulatorContext = {
    state,
    identities,
    settings,
    links: { origin: '', baseUrl: '', absolute: (path) => path },
    random,
    deltaErrors: new DeltaErrorInjector(),
    events: {
      itemsChanged(site, list) {
        notifier.listChanged(site, list);
        saver?.markDirty();
      },
      stateChanged() {
        saver?.markDirty();
      },
    },
    execute: (request) => executor.execute(request),
  };
  const executor = new GraphExecutor(ctx, faults, budget, recorder);
  const control = new ControlApi({ ctx, options: resolved, identities, faults, budget, recorder, notifier });
  const server = new EmulatorHttpsServer({ identities, settings, executor, recorder, control }, certificate);
  const port = await server.listen(resolved.port);
  const origin = `https://127.0.0.1:${port}`;
  const baseUrl = `${origin}/v1.0`;
  ctx.links = { origin, baseUrl, absolute: (path) => `${baseUrl}${path}` };

  const sweeper = setInterval(() => removeExpiredSubscriptions(ctx), SWEEP_INTERVAL_MS);
  sweeper.unref();
  if (saver && !persisted) await saver.save();

  let stopped = false;
  return {
    baseUrl,
    origin,
    caCert: certificate.certPem,
    appToken: identities.app.token,
    users: [...resolved.users],
    sites,
    userToken(name: string): string {
      const identity = identities.byNameOrUndefined(name);
      if (!identity || identity.kind !== 'user')
        throw new EmulatorSetupError(`No user '${name}': users are ${resolved.users.join(', ')}`, { name });
      return identity.token;
    },
    control,
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      clearInterval(sweeper);
      await notifier.cancelAll();
      await server.close();
      await saver?.flush();
    },
  };
}

/** The control API's root: `POST <url>/reset`, `GET <url>/stats`, … (see src/emulator/README.md). */
export function controlUrlOf(running: RunningEmulator): string {
  return `${running.origin}/_emulator`;
}

/** `GRAPH_USER_TOKEN_<NAME>`: user names may hold "-", which a shell variable name may not. */
export function userTokenKey(name: string): string {
  return `GRAPH_USER_TOKEN_${name.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * Writes `<stateDir>/emulator.env`: GRAPH_BASE_URL, GRAPH_TOKEN (the app token), NODE_EXTRA_CA_CERTS and
 * GRAPH_CA_CERT_FILE (the certificate, written next to it if missing), EMULATOR_SITES (comma-separated
 * `host:/path`), EMULATOR_CONTROL_URL and one GRAPH_USER_TOKEN_<NAME> per user. Returns its path.
 */
export async function writeEmulatorEnv(stateDir: string, running: RunningEmulator): Promise<string> {
  const directory = resolve(stateDir);
  await mkdir(directory, { recursive: true });
  const certPath = join(directory, CERT_FILE);
  const existing = await readFile(certPath, 'utf8').catch(() => undefined);
  if (existing !== running.caCert) await writeFile(certPath, running.caCert);
  const lines = [
    `# ArcoreSyncBridge SharePoint emulator (Microsoft Graph v1.0) at ${running.origin}`,
    `GRAPH_BASE_URL=${running.baseUrl}`,
    `GRAPH_TOKEN=${running.appToken}`,
    `NODE_EXTRA_CA_CERTS=${certPath}`,
    // Our own client trusts the certificate through this setting; NODE_EXTRA_CA_CERTS covers other tools.
    `GRAPH_CA_CERT_FILE=${certPath}`,
    '# Sites served (GET /sites/<host>:<path>), comma-separated:',
    `EMULATOR_SITES=${running.sites.join(',')}`,
    '# Control API (reset, faults, throttling, stats; JSON, no auth):',
    `EMULATOR_CONTROL_URL=${controlUrlOf(running)}`,
    '# Tokens of users who edit "in SharePoint" (Authorization: Bearer <token>):',
    ...running.users.map((name) => `${userTokenKey(name)}=${running.userToken(name)}`),
    '',
  ];
  const envPath = join(directory, 'emulator.env');
  await writeFile(envPath, lines.join('\n'), { mode: 0o600 });
  return envPath;
}
