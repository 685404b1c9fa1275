import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SettingsError, type Settings } from '../../../config/settings';
import type { BudgetStore } from '../../budget/pgBudgetStore';

/** How the client obtains its bearer token. Scope is always `https://graph.microsoft.com/.default`. */
export type GraphAuth =
  | { kind: 'token'; token: string }
  | { kind: 'default'; managedIdentityClientId?: string }
  | { kind: 'clientSecret'; tenantId: string; clientId: string; clientSecret: string }
  | { kind: 'certificate'; tenantId: string; clientId: string; certificatePath: string };

/**
 * Shared back-off across workers (I10): a 429 seen by one worker holds every worker of the same app and
 * tenant until the Retry-After time. `PgThrottleGate` implements it over the metadata store.
 */
export interface ThrottleGate {
  /**
   * Epoch milliseconds, by this process's clock, until which requests of this app must wait, or null when not
   * blocked. The store times blocks by its own clock and answers with the time left, so instances whose clocks
   * differ still wait the same span.
   */
  blockedUntil(appKey: string): Promise<number | null>;
  /**
   * Blocks the app for `waitMs` from now, by the store's clock. `askedMs`: what the server asked for before the
   * cap, kept for `status`.
   */
  block(appKey: string, waitMs: number, detail?: { askedMs: number; reason: string }): Promise<void>;
}

/** A wait a run is about to make (or made), for progress lines, logs and telemetry (I16). */
export interface WaitNotice {
  /**
   * `throttled`: a 429 (or 503 with Retry-After) back-off, ours or another worker's; `pacing`: our share of the
   * minute's budget; `dailyBudget`: the app's daily budget, which refills at GRAPH_RU_PER_DAY / 24 h.
   */
  reason: 'throttled' | 'pacing' | 'dailyBudget';
  ms: number;
  /** Epoch ms when the wait ends. */
  until: number;
  /** For a 429: the Retry-After the server asked for, in ms, when it was more than we honour. */
  askedMs?: number;
}

/**
 * One step of a run's Graph traffic, as it happens, for `-v` and progress inside a page: a `$batch` sent
 * (its writes, resource units, inner statuses and round trip) or a wait and what it was for.
 */
export type TraceNotice =
  | {
      kind: 'batch';
      writes: number;
      resourceUnits: number;
      /** Count per inner status (`201`, `429`, …); `unknown` when the batch's outcome never arrived. */
      statuses: Record<string, number>;
      ms: number;
    }
  | {
      kind: 'wait';
      /** `pacing`: our share of the resource-unit budget; `throttled`: a 429 back-off or the server's hold. */
      reason: 'throttled' | 'pacing';
      ms: number;
    };

export interface GraphClientOptions {
  /** `https://graph.microsoft.com/v1.0` or the emulator's `https://127.0.0.1:<port>/v1.0`. */
  baseUrl: string;
  auth: GraphAuth;
  /** PEM of an extra certificate authority to trust (the emulator's self-signed certificate). */
  caCert?: string;
  /** Resource units per minute to pace to (default 1250). 0 disables pacing; 429s are honoured regardless. */
  resourceUnitsPerMinute?: number;
  /** Resource units per 24 hours to pace to (default 960 × the minute's: the documented tier, budget/shape.ts). */
  resourceUnitsPerDay?: number;
  /** Requests in flight at once (default 4). */
  maxConcurrency?: number;
  throttleGate?: ThrottleGate;
  /** Identifies app + tenant for shared back-off and pacing (default derived from baseUrl and client id). */
  appKey?: string;
  /** Retries of transient failures (5xx, resets, timeouts) per request (default 5). */
  maxTransientRetries?: number;
  /** First transient back-off step (default 500 ms); doubles per attempt, with jitter. */
  retryBaseDelayMs?: number;
  /** Cap of one transient back-off step (default 30 s). */
  retryMaxDelayMs?: number;
  /** Longest total time one request may spend waiting out 429s before it is reported failed (default 5 min). */
  maxThrottleWaitMs?: number;
  /** Time limit of one HTTP attempt, response body included (default 100 s). */
  requestTimeoutMs?: number;
  /** Called whenever a request waits because of throttling (429, Retry-After, RateLimit headers, the gate). */
  onThrottleWait?: (ms: number) => void;
  /** The shared resource-unit bucket (I16); without it this process paces to the whole budget alone. */
  budgetStore?: BudgetStore;
  /** Cap of one 429's Retry-After (default 300 s): a larger one is honoured only up to this. */
  maxRetryAfterMs?: number;
  /** Epoch ms at which the run using this client ends: a 429 block beyond it stops the run instead. */
  runDeadline?: number;
  /** What the client's run does: pushes turn into bulk work for the budget after their first units. */
  runKind?: 'push' | 'pull' | 'other';
  /** Called before a 429 wait and after a long pacing wait. */
  onWait?: (notice: WaitNotice) => void;
  /** Called after every `$batch` and every wait, however short (`-v`, progress inside a page). */
  onTrace?: (notice: TraceNotice) => void;
  /**
   * Called right before each `$batch` of writes leaves (retries too); throws to stop it. A run passes its lock's
   * check: once the lock is known lost, no batch queued behind those in flight is sent (I11).
   */
  beforeWrite?: () => void;
  /**
   * The clock the pacing budget reads and waits on (GRAPH_RU_PER_MINUTE, GRAPH_RU_PER_DAY). Default the wall
   * clock; a test sharing a simulated clock with the emulator's budget (EmulatorOptions.clock) paces minutes in
   * milliseconds. One clock per app key (another for the same key is refused); refused with `budgetStore` (the
   * shared bucket refills on the database's clock) and with `runDeadline` (an instant of the wall clock).
   */
  clock?: PacingClock;
}

/** Time as a pacing budget reads it and waits it out. */
export interface PacingClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

/** The identity behind the auth, for the default app key: two workers of one app share one budget. */
export function authIdentity(auth: GraphAuth): string {
  switch (auth.kind) {
    case 'token':
      // A hash, never the token: two static tokens may be two apps, and keys end up in the metadata store.
      return `token-${createHash('sha256').update(auth.token).digest('hex').slice(0, 16)}`;
    case 'default':
      return auth.managedIdentityClientId ?? 'default-identity';
    case 'clientSecret':
    case 'certificate':
      return `${auth.tenantId}/${auth.clientId}`;
  }
}

export function defaultAppKey(options: Pick<GraphClientOptions, 'baseUrl' | 'auth'>): string {
  return `${new URL(options.baseUrl).origin}|${authIdentity(options.auth)}`;
}

/** The Graph client options the app's settings describe (GRAPH_* and AZURE_* settings). */
export function graphOptionsFromSettings(
  settings: Settings,
  extra: Partial<Omit<GraphClientOptions, 'baseUrl' | 'auth'>> = {},
): GraphClientOptions {
  return {
    baseUrl: settings.GRAPH_BASE_URL,
    auth: authFromSettings(settings),
    caCert: settings.GRAPH_CA_CERT_FILE ? readCaCert(settings.GRAPH_CA_CERT_FILE) : undefined,
    resourceUnitsPerMinute: settings.GRAPH_RU_PER_MINUTE,
    resourceUnitsPerDay: settings.GRAPH_RU_PER_DAY,
    maxConcurrency: settings.GRAPH_MAX_CONCURRENCY,
    maxRetryAfterMs: settings.GRAPH_MAX_RETRY_AFTER_SECONDS * 1000,
    ...extra,
  };
}

function readCaCert(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new SettingsError([
      `GRAPH_CA_CERT_FILE ${path} cannot be read: ${error instanceof Error ? error.message : String(error)}`,
    ]);
  }
}

function authFromSettings(settings: Settings): GraphAuth {
  // settingsSchema already guarantees the fields each mode needs; the checks here narrow the types.
  const missing = (name: string): never => {
    throw new SettingsError([`${name} is required when GRAPH_AUTH=${settings.GRAPH_AUTH}`]);
  };
  switch (settings.GRAPH_AUTH) {
    case 'token':
      return { kind: 'token', token: settings.GRAPH_TOKEN ?? missing('GRAPH_TOKEN') };
    case 'default':
      return { kind: 'default', managedIdentityClientId: settings.AZURE_CLIENT_ID };
    case 'clientSecret':
      return {
        kind: 'clientSecret',
        tenantId: settings.AZURE_TENANT_ID ?? missing('AZURE_TENANT_ID'),
        clientId: settings.AZURE_CLIENT_ID ?? missing('AZURE_CLIENT_ID'),
        clientSecret: settings.GRAPH_CLIENT_SECRET ?? missing('GRAPH_CLIENT_SECRET'),
      };
    case 'certificate':
      return {
        kind: 'certificate',
        tenantId: settings.AZURE_TENANT_ID ?? missing('AZURE_TENANT_ID'),
        clientId: settings.AZURE_CLIENT_ID ?? missing('AZURE_CLIENT_ID'),
        certificatePath: settings.GRAPH_CERTIFICATE_PATH ?? missing('GRAPH_CERTIFICATE_PATH'),
      };
  }
}
