/** The public contract of the emulator: what tests, the CLI and benchmarks code against. */

export interface EmulatorOptions {
  /** 0 or undefined = a free port; the server always binds 127.0.0.1. */
  port?: number;
  /** Where the certificate (and, with `persist`, the state) is kept. */
  stateDir?: string;
  /** Write state to `stateDir` (debounced and on stop) and reload it on start. */
  persist?: boolean;
  /** `host:/server-relative-path` of each site. Default `['contoso.sharepoint.com:/sites/demo']`. */
  sites?: string[];
  /** Time zone per site (`hostPath` → `UTC`, `+01:00` or an IANA name); date-only values are midnight there. */
  siteTimeZones?: Record<string, string>;
  /**
   * Resource-unit budget per identity per sliding minute (default enabled, 1,250) and per sliding 24 hours (default
   * 960 × the minute's, the documented tiers); `dayWindowSeconds` shortens the "day" for tests.
   */
  throttling?: {
    enabled: boolean;
    resourceUnitsPerMinute?: number;
    resourceUnitsPerDay?: number;
    dayWindowSeconds?: number;
  };
  /**
   * A fixed batching delay before a notification delivery (a relaxation; 0 allowed). Default: none, a
   * seeded random delay within `notificationDelayRangeMs`.
   */
  notificationDelayMs?: number;
  /** [min, max] of the random notification delay. Default [500, 3000]. */
  notificationDelayRangeMs?: [number, number];
  /** How long failed deliveries are retried with backoff. Default 4 h. */
  notificationRetryWindowMs?: number;
  /** Delta tokens older than this answer 410. Default 30 days; 'never' relaxes it. */
  deltaTokenMaxAgeMs?: number | 'never';
  /**
   * Items repeat across delta pages, as Graph documents they may: true (a 20 % share), a share in
   * [0, 1], or false to relax it. Default true.
   */
  deltaRepeats?: boolean | number;
  /** Order of entries within a delta page. Default 'unspecified' (seeded shuffle); 'stable' relaxes it. */
  deltaOrder?: 'unspecified' | 'stable';
  /**
   * Items of change pages (after a deltaLink) come without their `fields` object, as a tenant failing the
   * conformance check `delta.changePagesCarryFields` would answer. Default false: Graph's listitem-delta example
   * expands fields on every page.
   */
  deltaChangesWithoutFields?: boolean;
  /** Share of item writes in a $batch applied yet answered 503. Default 0.02; 0 relaxes it. */
  batchAmbiguous503Rate?: number;
  /** Seed of every random choice (delta order and repeats, notification delays, ambiguous 503s). */
  seed?: number;
  /**
   * The clock the resource-unit budget reads (its sliding minute and day, Retry-After, RateLimit-Reset). Default
   * the wall clock; a test sharing a simulated clock with the engine's pacing (GraphClientOptions.clock) runs
   * minutes of budget in milliseconds.
   */
  clock?: () => number;
  /** Added to every /v1.0 response (benchmarks). */
  latencyMs?: number;
  /** Named users with tokens. Default `['alice', 'bob']`. */
  users?: string[];
}

export interface FaultSpec {
  /** Only requests with this HTTP method (any when absent). */
  method?: string;
  /** Regex source matched against the path after /v1.0, without the query string (any when absent). */
  pathPattern?: string;
  /** How many matching requests the fault applies to. */
  count: number;
  /** Answer with this status (a Graph error body) instead of running the request. */
  status?: number;
  /** Retry-After header (seconds) sent with `status`. */
  retryAfterSeconds?: number;
  /** Delay before the request is handled. */
  latencyMs?: number;
  /** 'before': destroy the socket without running the request; 'after': run it, then destroy the socket. */
  drop?: 'before' | 'after';
}

/** An `{"error"}` entry in place of one item in delta answers (control `injectDeltaError`, deltaErrors.ts). */
export interface DeltaErrorSpec {
  /** Site id or `host:/path`. */
  siteId: string;
  /** List id or display name. */
  list: string;
  /** The item whose entries (latest state, stale repeats, tombstone) come as the error entry. */
  itemId: string;
  /** Error code (default `InternalServerError`, as reported). */
  code?: string;
  message?: string;
  /** How many delta answers showing the item carry the error; absent = until `clearDeltaErrors`. */
  count?: number;
}

export interface EmulatorStats {
  /** Count by `"METHOD route status"`, e.g. `"POST /sites/{site}/lists/{list}/items 201"`. */
  requests: Record<string, number>;
  /** Resource units charged, throttled calls included. */
  resourceUnits: number;
  throttled429: number;
  notificationsSent: number;
  notificationsFailed: number;
  /**
   * Outer `$batch` requests by the emulator's own time on each, after the injected latency: reading it, running its
   * requests, answering, and waiting for the emulator's one thread while it served others. Entry i counts batches
   * of [i/2, (i+1)/2) ms, the last entry every longer one. Counts only grow (until reset), so two snapshots' difference
   * describes the batches between them.
   */
  batchWorkMs: number[];
  /**
   * The same outer `$batch` requests by their whole time in the emulator: from their headers' arrival to their
   * answer handed to the socket (reading the body, the injected latency and how late its timer fired, the work).
   * Same buckets as batchWorkMs.
   */
  batchInEmulatorMs: number[];
  /**
   * How late the injected latency's timer fired for each outer `$batch` (the emulator's one thread was busy when
   * it was due, or the timer's millisecond granularity). Same buckets as batchWorkMs; empty counts without latency.
   */
  batchLatencyLateMs: number[];
}

export interface RequestLogEntry {
  method: string;
  /** Path after /v1.0, without the query string. */
  path: string;
  /** The query string without `?` ('' when none). */
  query: string;
  /** Status answered; 0 when the connection was dropped before answering. */
  status: number;
  /** The parsed JSON request body (undefined when there was none). */
  body: unknown;
  /** Identity name (`app` or a user name); null when the token was missing or unknown. */
  identity: string | null;
  /** Request headers, lower-cased, without Authorization. */
  headers: Record<string, string>;
  /** Present on requests that arrived inside a $batch. */
  batch?: true;
  /** Present when a fault dropped the connection. */
  dropped?: 'before' | 'after';
}

export interface EmulatorItemSnapshot {
  id: string;
  eTag: string;
  createdDateTime: string;
  lastModifiedDateTime: string;
  /** The field map as GET …/items/{id}/fields answers it, hidden columns included (for assertions). */
  fields: Record<string, unknown>;
}

export interface ThrottlingSettings {
  enabled: boolean;
  resourceUnitsPerMinute?: number;
  /** The 24-hour budget (default 960 × the minute's). */
  resourceUnitsPerDay?: number;
  /** Length of the "day" window in seconds (default 86,400): tests shorten it. */
  dayWindowSeconds?: number;
}

export interface AppTokenRequest {
  /** Application roles: Sites.Read.All, Sites.ReadWrite.All, Sites.Manage.All, Sites.FullControl.All, Sites.Selected. */
  roles: string[];
  /** Sites.Selected grants: site id (or host:/path) → read | write | manage | fullcontrol. */
  sites?: Record<string, string>;
}

export interface EmulatorControl {
  /** A new app token with these roles and per-site grants (the default app token keeps broad roles). */
  issueAppToken(request: AppTokenRequest): string;
  /** Drop all lists, items, subscriptions, faults, logs and stats; settings return to the start options. */
  reset(): void;
  setThrottling(settings: ThrottlingSettings): void;
  setLatency(ms: number): void;
  setNotificationDelay(ms: number): void;
  injectFault(fault: FaultSpec): void;
  clearFaults(): void;
  /** Every delta token issued so far answers 410 from now on. */
  expireDeltaTokens(): void;
  /** Repeat items in delta feeds (earlier, possibly stale occurrences, the latest one last): on, off or a share. */
  setDeltaRepeats(enabled: boolean | number): void;
  /** Delta answers that would show the item show a Graph `{"error": …}` entry in its place (deltaErrors.ts). */
  injectDeltaError(spec: DeltaErrorSpec): void;
  clearDeltaErrors(): void;
  triggerLifecycle(subscriptionId: string, event: 'reauthorizationRequired'): void;
  stats(): EmulatorStats;
  requestLog(): RequestLogEntry[];
  clearRequestLog(): void;
  /** Composite site id for `host:/path`. */
  getSiteId(hostPath: string): string;
  /** Items of a list with their fields, for assertions (no resource units, not logged). */
  listItems(siteId: string, listIdOrName: string): EmulatorItemSnapshot[];
  setSiteTimeZone(siteIdOrHostPath: string, timeZone: string): void;
  /**
   * Restores a deleted item from the recycle bin, as a user does in SharePoint: back under its id, with the values it
   * had, as a new version by `user`; delta and change notifications report it like any change.
   */
  restoreItem(siteId: string, listIdOrName: string, itemId: string, user: string): void;
  /** Row id of an identity (`app` or a user name) in the site's hidden user list: the value of person columns. */
  userLookupId(name: string): number;
}

export interface RunningEmulator {
  /** 'https://127.0.0.1:<port>/v1.0' */
  baseUrl: string;
  /** 'https://127.0.0.1:<port>' */
  origin: string;
  /** PEM of the certificate to trust. */
  caCert: string;
  /** Bearer token of the application identity (the sync engine). */
  appToken: string;
  /** Names of the users that have tokens. */
  users: string[];
  /** `host:/path` of every site served, the first being the one the tenant is named after. */
  sites: string[];
  /** Bearer token acting as a named user (edits "in SharePoint"). */
  userToken(name: string): string;
  control: EmulatorControl;
  stop(): Promise<void>;
}
