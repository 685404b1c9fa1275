import './bootstrap';
import { app, type InvocationContext } from '@azure/functions';
import { loadSettings } from '../config/settings';
import { createEngineContext } from '../core/engine/context';
import type { EngineContext, Logger } from '../core/engine/types';
import { migrate } from '../core/store/migrate';
import { consoleLogger, invocationLogger, startTelemetry, type Telemetry } from '../core/telemetry';

/**
 * What every function needs, built once per process: the engine context (pools, Graph target factory),
 * telemetry, and the public URLs subscriptions point at. On Azure it is built lazily from the app
 * settings on the first invocation, after the metadata migrations ran (under their advisory lock).
 * The local host (src/serve) installs its own, so the same handlers run there unchanged.
 */
export interface FunctionsRuntime {
  ctx: EngineContext;
  telemetry: Telemetry;
  webhookUrls: { notificationUrl?: string; lifecycleNotificationUrl?: string };
}

let current: Promise<FunctionsRuntime> | undefined;
let installed = false;

async function runtimeFromEnvironment(): Promise<FunctionsRuntime> {
  const settings = loadSettings(process.env);
  const telemetry = startTelemetry(settings.APPLICATIONINSIGHTS_CONNECTION_STRING);
  const { ctx } = await createEngineContext(settings, {
    log: consoleLogger('arcore'),
    onRunFinished: (summary) => telemetry.trackRun(summary),
  });
  await migrate(ctx.meta);
  return {
    ctx,
    telemetry,
    webhookUrls: {
      notificationUrl: settings.WEBHOOK_NOTIFICATION_URL,
      lifecycleNotificationUrl: settings.WEBHOOK_LIFECYCLE_URL,
    },
  };
}

/** The process's runtime; the first call builds it from the environment unless one was installed. */
export function getRuntime(): Promise<FunctionsRuntime> {
  current ??= runtimeFromEnvironment().catch((err: unknown) => {
    // A failed start (bad settings, database down) is retried by the next invocation.
    current = undefined;
    throw err;
  });
  return current;
}

/**
 * Makes `runtime` the one every handler uses (the local host, tests). Returns the function that removes
 * it again. Only one runtime can be installed at a time.
 */
export function installRuntime(runtime: FunctionsRuntime): () => void {
  if (installed) throw new Error('a functions runtime is already installed in this process');
  installed = true;
  current = Promise.resolve(runtime);
  return () => {
    installed = false;
    current = undefined;
  };
}

/** The engine context for one invocation: the process's pools and Graph, logging through `context`. */
export function engineContextFor(runtime: FunctionsRuntime, context: InvocationContext): EngineContext {
  const log: Logger = invocationLogger(context);
  const { ctx } = runtime;
  return {
    meta: ctx.meta,
    sourcePool: (connection) => ctx.sourcePool(connection),
    target: (run) => ctx.target(run),
    runMaxSeconds: ctx.runMaxSeconds,
    log,
    onProgress: ctx.onProgress,
    onRunFinished: ctx.onRunFinished,
  };
}

// Build the runtime (and run migrations) when the host starts rather than on the first invocation, so
// the first webhook delivery does not wait for it. A failure here is logged; invocations retry it.
app.hook.appStart(async () => {
  try {
    await getRuntime();
  } catch (err) {
    console.error(`arcore: startup failed, will retry on the first invocation: ${messageOf(err)}`);
  }
});

/** The error message to log and record, whatever was thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
