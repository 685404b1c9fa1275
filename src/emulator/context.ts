/** What every handler gets: the request, the shared state and the runtime settings. */
import type { Identity, IdentityRegistry } from './auth';
import type { DeltaErrorInjector } from './deltaErrors';
import type { HeaderMap } from './errors';
import type { SeededRandom } from './random';
import type { EmulatorState, ListState, SiteState } from './state';

export interface GraphRequest {
  /** Upper case. */
  method: string;
  /** Path after /v1.0, still percent-encoded, without the query string. */
  path: string;
  query: URLSearchParams;
  /** Lower-cased names. */
  headers: Record<string, string>;
  /** Parsed JSON body; undefined when the request had none. */
  body: unknown;
  /** The body's JSON text as it arrived (outer requests only): the request log keeps it as it is. */
  bodyText?: string;
  identity: Identity;
  inBatch: boolean;
  requestId: string;
  clientRequestId: string;
}

export interface GraphResponse {
  status: number;
  headers: HeaderMap;
  body?: unknown;
  /** Set by $batch when an inner fault asks for the whole connection to be dropped. */
  dropConnection?: 'before' | 'after';
}

export interface RuntimeSettings {
  throttlingEnabled: boolean;
  resourceUnitsPerMinute: number;
  /** The 24-hour budget; undefined = 960 × the minute's (the documented tiers). */
  resourceUnitsPerDay?: number;
  /** Length of the "day" window (24 h; tests shorten it). */
  dayWindowMs?: number;
  latencyMs: number;
  /** Fixed delay before a notification POST; undefined = seeded random within notificationDelayRangeMs. */
  notificationDelayMs: number | undefined;
  notificationDelayRangeMs: [number, number];
  notificationRetryWindowMs: number;
  /** undefined = tokens never expire (a relaxation). */
  deltaTokenMaxAgeMs: number | undefined;
  /** Share of items repeated across delta pages (and stale occurrences before the latest); 0 = off. */
  deltaRepeats: number;
  /** 'unspecified': entries of a page come in a seeded random order; 'stable': in id/change order. */
  deltaOrder: 'unspecified' | 'stable';
  /** Change pages' items without their fields object (a tenant failing delta.changePagesCarryFields). */
  deltaChangesWithoutFields: boolean;
  /** Share of item writes inside $batch that are applied and answered 503 all the same. */
  batchAmbiguous503Rate: number;
}

export interface Links {
  origin: string;
  baseUrl: string;
  /** Absolute URL of a path under /v1.0 (path starting with '/'). */
  absolute(path: string): string;
}

export interface EmulatorEvents {
  /** An item of `list` was created, updated or deleted. */
  itemsChanged(site: SiteState, list: ListState): void;
  /** Anything persisted changed. */
  stateChanged(): void;
}

export interface EmulatorContext {
  state: EmulatorState;
  identities: IdentityRegistry;
  settings: RuntimeSettings;
  links: Links;
  events: EmulatorEvents;
  /** The seeded source of every random choice the emulator makes. */
  random: SeededRandom;
  /** Items whose delta entries a test asked to come as `{"error"}` entries (control `injectDeltaError`). */
  deltaErrors: DeltaErrorInjector;
  /** Runs one Graph request through the full pipeline (faults, throttling, log): $batch uses it. */
  execute(request: GraphRequest): Promise<GraphResponse>;
}

export const JSON_CONTENT_TYPE =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

export function jsonResponse(status: number, body: unknown, headers: HeaderMap = {}): GraphResponse {
  return { status, headers: { 'Content-Type': JSON_CONTENT_TYPE, ...headers }, body };
}

export function emptyResponse(status: number, headers: HeaderMap = {}): GraphResponse {
  return { status, headers };
}
