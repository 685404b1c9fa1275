import { createRequire } from 'node:module';
import type { RunSummary } from '../engine/types';
import type { SlotStatus } from '../ops/slotHealth';
import { collectFetchDependencies, type FetchDependency } from './fetchDependencies';

/** Context attached to exceptions so they can be found by definition and run. */
export interface ExceptionContext {
  definition?: string;
  runId?: string | null;
  /** The function or operation that failed (e.g. `pushWorker`). */
  operation?: string;
}

/**
 * What the app reports to Application Insights. `enabled` is false (and every method a no-op) unless
 * APPLICATIONINSIGHTS_CONNECTION_STRING is set.
 */
export interface Telemetry {
  readonly enabled: boolean;
  /** One `ArcoreRun` custom event per run, plus the run's throttle-wait, resource-unit and conflict metrics. */
  trackRun(summary: RunSummary): void;
  trackException(error: unknown, context?: ExceptionContext): void;
  /** One `ArcoreSlot` event per LSN definition per push-timer tick, plus retained-WAL and lag metrics. */
  trackSlot(definition: string, status: SlotStatus): void;
  flush(): Promise<void>;
  /** Flushes and stops collection (the process keeps running without telemetry). */
  dispose(): Promise<void>;
}

export const RUN_EVENT_NAME = 'ArcoreRun';
export const METRIC_THROTTLE_WAIT_MS = 'Arcore.ThrottleWaitMs';
export const METRIC_RESOURCE_UNITS = 'Arcore.ResourceUnits';
export const METRIC_CONFLICTS = 'Arcore.Conflicts';
export const SLOT_EVENT_NAME = 'ArcoreSlot';
export const METRIC_SLOT_RETAINED_WAL_BYTES = 'Arcore.SlotRetainedWalBytes';
export const METRIC_SLOT_LAG_BYTES = 'Arcore.SlotLagBytes';

export const disabledTelemetry: Telemetry = {
  enabled: false,
  trackRun() {},
  trackException() {},
  trackSlot() {},
  flush: async () => {},
  dispose: async () => {},
};

/** The subset of applicationinsights' TelemetryClient used here. */
interface TelemetryClientLike {
  trackEvent(t: {
    name: string;
    properties?: Record<string, unknown>;
    measurements?: Record<string, number>;
  }): void;
  trackMetric(t: { name: string; value: number; properties?: Record<string, unknown> }): void;
  trackException(t: { exception: Error; properties?: Record<string, unknown> }): void;
  trackDependency(t: {
    name: string;
    data: string;
    target: string;
    duration: number;
    resultCode: number;
    success: boolean;
    dependencyTypeName: string;
    time?: Date;
    properties?: Record<string, unknown>;
  }): void;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** Properties and measurements of the ArcoreRun event (exported for tests and dashboards). */
export function runEventOf(summary: RunSummary): {
  properties: Record<string, string>;
  measurements: Record<string, number>;
} {
  return {
    properties: {
      definition: summary.definition,
      runType: summary.runType,
      status: summary.status,
      runId: summary.runId ?? '',
      complete: String(summary.complete),
      ...(summary.resumeAfter ? { resumeAfter: summary.resumeAfter } : {}),
      ...(summary.error ? { error: summary.error.slice(0, 1000) } : {}),
      ...(summary.errorKind ? { errorKind: summary.errorKind } : {}),
    },
    measurements: {
      durationMs: summary.durationMs,
      processed: summary.processed,
      created: summary.created,
      updated: summary.updated,
      deleted: summary.deleted,
      skipped: summary.skipped,
      conflicts: summary.conflicts,
      failed: summary.failed,
      throttleWaitMs: summary.throttleWaitMs,
      paceWaitMs: summary.paceWaitMs,
      graphRequests: summary.graphRequests,
      resourceUnits: summary.resourceUnits,
      parkedFailures: summary.parkedFailures,
      openConflicts: summary.openConflicts,
      heldMoves: summary.heldMoves,
    },
  };
}

/** Properties and measurements of the ArcoreSlot event (exported for tests and dashboards). */
export function slotEventOf(
  definition: string,
  status: SlotStatus,
): { properties: Record<string, string>; measurements: Record<string, number> } {
  return {
    properties: {
      definition,
      slot: status.slot ?? '',
      exists: String(status.exists),
      healthy: String(status.healthy),
      walStatus: status.walStatus ?? '',
      ...(status.message ? { message: status.message } : {}),
    },
    measurements: {
      warnBytes: status.warnBytes,
      ...(status.retainedWalBytes !== null ? { retainedWalBytes: status.retainedWalBytes } : {}),
      ...(status.lagBytes !== null ? { lagBytes: status.lagBytes } : {}),
    },
  };
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

class ApplicationInsightsTelemetry implements Telemetry {
  readonly enabled = true;

  constructor(
    private readonly client: TelemetryClientLike,
    private readonly stop: () => void,
  ) {}

  trackRun(summary: RunSummary): void {
    const { properties, measurements } = runEventOf(summary);
    this.client.trackEvent({ name: RUN_EVENT_NAME, properties, measurements });
    const dims = { definition: summary.definition, runType: summary.runType };
    this.client.trackMetric({
      name: METRIC_THROTTLE_WAIT_MS,
      value: summary.throttleWaitMs,
      properties: dims,
    });
    this.client.trackMetric({ name: METRIC_RESOURCE_UNITS, value: summary.resourceUnits, properties: dims });
    this.client.trackMetric({ name: METRIC_CONFLICTS, value: summary.conflicts, properties: dims });
    if (summary.status === 'FAILED' && summary.error) {
      this.trackException(new Error(summary.error), { definition: summary.definition, runId: summary.runId });
    }
  }

  trackSlot(definition: string, status: SlotStatus): void {
    const { properties, measurements } = slotEventOf(definition, status);
    this.client.trackEvent({ name: SLOT_EVENT_NAME, properties, measurements });
    const dims = { definition };
    if (status.retainedWalBytes !== null)
      this.client.trackMetric({
        name: METRIC_SLOT_RETAINED_WAL_BYTES,
        value: status.retainedWalBytes,
        properties: dims,
      });
    if (status.lagBytes !== null)
      this.client.trackMetric({ name: METRIC_SLOT_LAG_BYTES, value: status.lagBytes, properties: dims });
  }

  trackException(error: unknown, context: ExceptionContext = {}): void {
    const properties: Record<string, string> = {};
    if (context.definition) properties.definition = context.definition;
    if (context.runId) properties.runId = context.runId;
    if (context.operation) properties.operation = context.operation;
    this.client.trackException({ exception: toError(error), properties });
  }

  trackFetch(dependency: FetchDependency): void {
    this.client.trackDependency({
      name: `${dependency.method} ${dependency.url}`,
      data: dependency.url,
      target: dependency.host,
      duration: dependency.durationMs,
      resultCode: dependency.statusCode,
      success: dependency.success,
      dependencyTypeName: 'HTTP',
      time: dependency.startedAt,
      // The shim writes only the old `http.url`/`http.status_code` attributes; the exporter recognises an
      // HTTP dependency (type, URL, result code) by the current semantic-convention names.
      properties: {
        'http.request.method': dependency.method,
        'url.full': dependency.url,
        'server.address': dependency.host,
        'http.response.status_code': dependency.statusCode,
        ...(dependency.error ? { error: dependency.error } : {}),
      },
    });
  }

  flush(): Promise<void> {
    return this.client.flush();
  }

  async dispose(): Promise<void> {
    this.stop();
    await this.client.flush().catch(() => undefined);
    // Waits for in-flight exports; the shim's dispose() would not.
    await this.client.shutdown().catch(() => undefined);
  }
}

let started: Telemetry | undefined;

/**
 * The managed identity's client id from APPLICATIONINSIGHTS_AUTHENTICATION_STRING
 * (`Authorization=AAD;ClientId=<id>`, the App Service convention): '' for the system identity,
 * undefined when Entra authentication is not requested.
 */
export function entraClientIdOf(authenticationString: string | undefined): string | undefined {
  if (!authenticationString) return undefined;
  const pairs = new Map(
    authenticationString
      .split(';')
      .map((pair) => pair.split('=').map((part) => part.trim()))
      .filter((parts) => parts.length === 2)
      .map(([key, value]) => [key.toLowerCase(), value]),
  );
  if (pairs.get('authorization')?.toUpperCase() !== 'AAD') return undefined;
  return pairs.get('clientid') ?? '';
}

/**
 * Starts Application Insights when a connection string is given, and nothing otherwise. One process has
 * one SDK instance: later calls return the first result.
 *
 * Call it before anything loads `pg` (src/functions/bootstrap.ts does, as the first import of every
 * function): the SDK's OpenTelemetry instrumentations patch modules as they are loaded, so Postgres
 * queries are collected as dependencies only when `pg` is loaded afterwards.
 *
 * Collected: the ArcoreRun event and metrics (trackRun), exceptions with definition and run ids,
 * Postgres dependencies (the SDK's `pg` instrumentation), node:http dependencies (its `http`
 * instrumentation) and Graph requests, which go through `fetch` (undici) and are therefore collected
 * from undici's diagnostics channels here: the SDK's http instrumentation does not see them.
 * Incoming requests are left to the Functions host, which already records them.
 */
export function startTelemetry(
  connectionString: string | undefined,
  authenticationString: string | undefined = process.env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING,
): Telemetry {
  if (!connectionString) return disabledTelemetry;
  if (started) return started;
  // Loaded only when configured: the SDK brings OpenTelemetry with it, a cost not worth paying otherwise.
  const appInsights = createRequire(__filename)(
    'applicationinsights',
  ) as typeof import('applicationinsights');
  const configuration = appInsights
    .setup(connectionString)
    .setAutoCollectConsole(false)
    .setAutoCollectRequests(false)
    .setAutoCollectDependencies(true)
    .setAutoCollectExceptions(true);
  const entraClientId = entraClientIdOf(authenticationString);
  if (entraClientId !== undefined) {
    // Application Insights with local authentication disabled accepts only Entra tokens.
    // A plain require (lazyCredential, db/entraToken.ts): bundled, but loaded only with Entra-only ingestion.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { ManagedIdentityCredential } = require('@azure/identity') as typeof import('@azure/identity');
    appInsights.defaultClient.config.aadTokenCredential = new ManagedIdentityCredential(
      entraClientId ? { clientId: entraClientId } : {},
    );
  }
  configuration.start();
  const client: TelemetryClientLike = appInsights.defaultClient;
  let stopFetch = () => {};
  const telemetry = new ApplicationInsightsTelemetry(client, () => stopFetch());
  stopFetch = collectFetchDependencies((d) => telemetry.trackFetch(d));
  started = telemetry;
  return telemetry;
}
