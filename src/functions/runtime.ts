import './bootstrap';
import { app, type InvocationContext } from '@azure/functions';
import { loadSettings } from '../config/settings';
import { createEngineContext } from '../core/engine/context';
import type { EngineContext, Logger } from '../core/engine/types';
import { migrate } from '../core/store/migrate';
import { consoleLogger, invocationLogger, startTelemetry, type Telemetry } from '../core/telemetry';
import { formatEvent, runEventTracker, type HostEvent } from './events';
import type { QueueDelays } from './queueWorkerFlow';

/**
 * What every function needs, built once per process: the engine context (pools, Graph target factory),
 * telemetry, and the public URLs subscriptions point at. On Azure it is built from the app settings
 * without touching Postgres; the metadata migrations run in the background from start-up (under their
 * advisory lock), and every handler waits for them, bounded by SCHEMA_WAIT_MS, before using the store.
 * The local host (src/serve) installs its own, so the same handlers run there unchanged.
 */
export interface FunctionsRuntime {
  ctx: EngineContext;
  telemetry: Telemetry;
  webhookUrls: { notificationUrl?: string; lifecycleNotificationUrl?: string };
  /** Overrides of the queue workers' delays (tests, the local host); defaults in queueWorkerFlow.ts. */
  queueDelays?: Partial<QueueDelays>;
  /** Where notification lines go; without it, the handler's invocation log gets them as JSON. */
  onEvent?: (event: HostEvent) => void;
}

let current: Promise<FunctionsRuntime> | undefined;
let schema: Promise<void> | undefined;
let installed = false;

/** How long a handler waits for the schema before failing (the host retries its message or request). */
export const SCHEMA_WAIT_MS = 60_000;

export class SchemaNotReadyError extends Error {
  override readonly name = 'SchemaNotReadyError';

  constructor(waitedMs: number) {
    super(
      `the metadata schema is not ready after ${Math.round(waitedMs / 1000)} s (migrations still running)`,
    );
  }
}

/** Runs the migrations once per process; a failure is retried by the next handler that needs the store. */
function schemaReady(runtime: FunctionsRuntime): Promise<void> {
  schema ??= migrate(runtime.ctx.meta).then(
    () => undefined,
    (err: unknown) => {
      schema = undefined;
      throw err;
    },
  );
  const pending = schema;
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new SchemaNotReadyError(SCHEMA_WAIT_MS)), SCHEMA_WAIT_MS);
    pending.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

async function runtimeFromEnvironment(): Promise<FunctionsRuntime> {
  const settings = loadSettings(process.env);
  const telemetry = startTelemetry(settings.APPLICATIONINSIGHTS_CONNECTION_STRING);
  const log = consoleLogger('arcore');
  // One JSON line per run start and end, so a run can be followed in the Functions logs.
  const runs = runEventTracker((event) => log.info(formatEvent(event, 'json')));
  const { ctx } = await createEngineContext(settings, {
    log,
    onRunStarted: (start) => runs.started(start),
    onRunFinished: (summary) => {
      runs.finished(summary);
      telemetry.trackRun(summary);
    },
  });
  return {
    ctx,
    telemetry,
    webhookUrls: {
      notificationUrl: settings.WEBHOOK_NOTIFICATION_URL,
      lifecycleNotificationUrl: settings.WEBHOOK_LIFECYCLE_URL,
    },
  };
}

/**
 * The process's runtime with its schema ready; the first call builds it from the environment unless one
 * was installed.
 */
export async function getRuntime(): Promise<FunctionsRuntime> {
  current ??= runtimeFromEnvironment().catch((err: unknown) => {
    // A failed start (bad settings) is retried by the next invocation.
    current = undefined;
    throw err;
  });
  const runtime = await current;
  await schemaReady(runtime);
  return runtime;
}

/**
 * Graph counts an answer slower than 10 s against the endpoint (more than 10 % of them in 10 minutes delay its
 * notifications, more than 15 % drop them) and retries a notification answered with an error within 10 s for up
 * to 4 hours (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks, "HTTP codes and retry
 * logic", "Throttling"). The notification handlers therefore wait this long at most for a cold runtime (the
 * migrations of a fresh instance), and answer 503 past it: Graph retries, and by then the instance is warm. The
 * rest of the 10 s is left to the host's own start and the work itself.
 */
export const NOTIFICATION_RUNTIME_WAIT_MS = 6_000;

/** `getRuntime`, or SchemaNotReadyError once `waitMs` passed (the runtime keeps starting for later calls). */
export async function getRuntimeWithin(waitMs: number): Promise<FunctionsRuntime> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new SchemaNotReadyError(waitMs)), waitMs);
  });
  const ready = getRuntime();
  // A start that fails after the wait gave up is retried by the next call; nobody else awaits this one.
  ready.catch(() => undefined);
  try {
    return await Promise.race([ready, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Makes `runtime` the one every handler uses (the local host, tests). Returns the function that removes
 * it again. Only one runtime can be installed at a time.
 */
export function installRuntime(runtime: FunctionsRuntime): () => void {
  if (installed) throw new Error('a functions runtime is already installed in this process');
  installed = true;
  current = Promise.resolve(runtime);
  // Whoever installs a runtime has migrated its store already.
  schema = Promise.resolve();
  return () => {
    installed = false;
    current = undefined;
    schema = undefined;
  };
}

/** The engine context for one invocation: the process's pools and Graph, logging through `context`. */
export function engineContextFor(runtime: FunctionsRuntime, context: InvocationContext): EngineContext {
  const log: Logger = invocationLogger(context);
  const { ctx } = runtime;
  // Every setting of the process's context (a field listed one by one here was once left out, and its app
  // setting had no effect), with this invocation's log.
  return {
    ...ctx,
    sourcePool: (connection) => ctx.sourcePool(connection),
    target: (run) => ctx.target(run),
    log,
  };
}

// Start building the runtime and migrating when the host starts, without holding start-up (Flex
// Consumption wants the app ready within seconds): handlers wait for the schema, bounded. A failure here
// is logged; invocations retry it.
app.hook.appStart(() => {
  getRuntime().catch((err: unknown) => {
    console.error(`arcore: startup failed, will retry on the first invocation: ${messageOf(err)}`);
  });
});

/** The error message to log and record, whatever was thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
