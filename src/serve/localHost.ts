import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  HttpRequest,
  HttpResponse,
  InvocationContext,
  type HttpResponseInit,
  type StorageQueueOutput,
  type Timer,
} from '@azure/functions';
import { consoleAsset } from '../console/assets';
import { definitionsWithPushLeft } from '../core/ops/schedule';
import type { EngineContext, Logger } from '../core/engine/types';
import {
  listStoredSubscriptions,
  MAX_NOTIFICATION_BODY_BYTES,
  releasePulls,
  removeSubscription,
  takeOwedPulls,
} from '../core/subscriptions';
import { disabledTelemetry } from '../core/telemetry';
import {
  eventLevel,
  formatEvent,
  runEventTracker,
  type HostEvent,
  type LogFormat,
} from '../functions/events';
import { graphLifecycle } from '../functions/graphLifecycle';
import { graphWebhook } from '../functions/graphWebhook';
import { createOpsApi } from '../functions/opsApi';
import type { OpsPrincipal } from '../functions/opsAuth';
import { owedPullMessages, pullMessagesFor } from '../functions/owedPulls';
import { pullPoison } from '../functions/pullPoison';
import { pullSafetyTimer } from '../functions/pullSafetyTimer';
import { pullWorker } from '../functions/pullWorker';
import { duePushMessages, slotSafety } from '../functions/pushTimer';
import { pushPoison } from '../functions/pushPoison';
import { pushWorker } from '../functions/pushWorker';
import { pullQueueOutput, pushQueueOutput, type PullMessage, type PushMessage } from '../functions/queues';
import { installRuntime, type FunctionsRuntime } from '../functions/runtime';
import { subscriptionTimer } from '../functions/subscriptionTimer';
import { guardLocalRequest } from './localGuard';
import { LocalQueue, type QueuedWork, type QueueSnapshot } from './localQueue';

export interface LocalHostOptions {
  ctx: EngineContext;
  /** Default 7071 (as `func start`); 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1: the emulator accepts http notification URLs on loopback only. */
  host?: string;
  log?: Logger;
  /** Push fan-out tick (default 60 s): each definition is pushed when its own schedule fired since the last tick. */
  pushIntervalMs?: number;
  /** Safety pull of every pull-enabled definition (default hourly). */
  safetyIntervalMs?: number;
  /** Subscription upkeep (default hourly); it also runs once right after start. */
  subscriptionIntervalMs?: number;
  /** Delay before a failed queue item is delivered again, times its attempt number (default 2 s). */
  retryDelayMs?: number;
  /**
   * Delay before a run that found its definition locked by another run is tried again (default 30 s, as in Azure:
   * functions/queueWorkerFlow.ts). The demo, whose own runs hold the lock for a second or two, waits less.
   */
  busyRetryMs?: number;
  /** When set, the ops API requires `Authorization: Bearer <token>` (`serve --token`). */
  token?: string;
  /**
   * Where the event lines go (one per notification, run start and run end) and in which format
   * (`serve --log-format`). Default: text lines through `log`.
   */
  events?: { format: LogFormat; write(line: string, level: 'info' | 'warn'): void };
}

export interface LocalHost {
  /** `http://127.0.0.1:<port>` */
  url: string;
  notificationUrl: string;
  lifecycleUrl: string;
  /** Stops the timers, lets work in progress finish, and deletes the Graph subscriptions of this host. */
  stop(): Promise<void>;
  /** Resolves when no queued, running or retrying work (and no timer tick) remains. */
  idle(): Promise<void>;
  /** The work that keeps the host from being idle now. */
  pendingWork(): QueueSnapshot;
}

type QueueMessage = PushMessage | PullMessage;

function localUserName(): string {
  try {
    return userInfo().username;
  } catch {
    // Containers may run under a uid without a passwd entry.
    return 'user';
  }
}

const HOUR_MS = 3_600_000;

function timerInfo(last: Date | null): Timer {
  const now = new Date().toISOString();
  return {
    isPastDue: false,
    schedule: { adjustForDST: false },
    scheduleStatus: { last: last?.toISOString() ?? now, lastUpdated: now, next: now },
  };
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** Reads at most `limit` bytes and drains the rest, so an oversized body is seen as oversized, not buffered. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (size > limit) return;
      chunks.push(chunk);
      size += chunk.length;
    });
    req.on('end', () => resolve(Buffer.concat(chunks).subarray(0, limit + 1)));
    req.on('error', reject);
  });
}

function outputsOf<T>(context: InvocationContext, output: StorageQueueOutput): T[] {
  const value = context.extraOutputs.get(output);
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]) as T[];
}

/**
 * Runs the Functions app in this process without Core Tools: a node:http server serving the same HTTP
 * handlers under `/api/...` (webhook, lifecycle, ops), an in-process queue feeding the same worker and
 * poison handlers, and in-process timers for push fan-out, subscription upkeep and the safety pull.
 * A development convenience (`arcore-sync serve`); production runs on Azure Functions.
 */
export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const log = options.log ?? options.ctx.log;
  const host = options.host ?? '127.0.0.1';
  const events = options.events ?? {
    format: 'text',
    write: (line: string, level: 'info' | 'warn') => log[level](line),
  };
  const emit = (event: HostEvent) => events.write(formatEvent(event, events.format), eventLevel(event));
  const runs = runEventTracker(emit);
  // The engine's own run hooks (telemetry, the caller's) keep working; the host adds its lines.
  const ctx: EngineContext = {
    ...options.ctx,
    onRunStarted: (start) => {
      options.ctx.onRunStarted?.(start);
      runs.started(start);
    },
    onRunFinished: (summary) => {
      options.ctx.onRunFinished?.(summary);
      runs.finished(summary);
    },
  };
  const invocation = (functionName: string, triggerMetadata?: Record<string, unknown>) =>
    new InvocationContext({
      invocationId: randomUUID(),
      functionName,
      triggerMetadata,
      logHandler: (level, ...args) => {
        const text = `[${functionName}] ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`;
        if (level === 'error' || level === 'critical') log.error(text);
        else if (level === 'warning') log.warn(text);
        else if (level === 'information') log.info(text);
      },
    });

  const queue: LocalQueue<QueueMessage> = new LocalQueue<QueueMessage>({
    log,
    retryDelayMs: options.retryDelayMs ?? 2000,
    run: async (work: QueuedWork<QueueMessage>) => {
      const context = invocation(work.kind === 'push' ? 'pushWorker' : 'pullWorker', {
        dequeueCount: work.attempt,
      });
      if (work.kind === 'push') await pushWorker(work.message, context);
      else await pullWorker(work.message, context);
      // Continuations and busy retries the worker sent on (I16).
      enqueueOutputs(context);
    },
    poison: async (work) => {
      const context = invocation(work.kind === 'push' ? 'pushPoison' : 'pullPoison', {
        dequeueCount: work.attempt,
      });
      if (work.kind === 'push') await pushPoison(work.message, context);
      else await pullPoison(work.message, context);
    },
  });
  // A message's notBefore becomes the queue's visibility delay, so the worker does not wait for it.
  const delayOf = (m: QueueMessage) => (m.notBefore ? Date.parse(m.notBefore) - Date.now() : 0);
  const enqueueOutputs = (context: InvocationContext) => {
    for (const m of outputsOf<PushMessage>(context, pushQueueOutput))
      queue.enqueue('push', m.definition, m, delayOf(m));
    for (const m of outputsOf<PullMessage>(context, pullQueueOutput))
      queue.enqueue('pull', m.definition, m, delayOf(m));
  };

  if (options.token !== undefined && options.token.trim().length < 16) {
    throw new Error('the local ops API token must be at least 16 characters');
  }
  // Whoever got past the guard is the developer running serve (or holds their token): the audit says so.
  const localPrincipal: OpsPrincipal = {
    kind: 'local',
    name: options.token !== undefined ? 'local (token)' : `local:${localUserName()}`,
  };
  const localOpsApi = createOpsApi(() => ({ ok: true, principal: localPrincipal }));

  const routes: {
    prefix: string;
    name: string;
    handler: typeof graphWebhook;
    params?: (rest: string) => Record<string, string>;
    /** Loopback Host, same Origin, JSON writes, token: see localGuard.ts. */
    guarded?: boolean;
  }[] = [
    { prefix: '/api/graph/notifications', name: 'graphWebhook', handler: graphWebhook },
    { prefix: '/api/graph/lifecycle', name: 'graphLifecycle', handler: graphLifecycle },
    {
      prefix: '/api/ops/',
      name: 'opsApi',
      handler: localOpsApi,
      params: (rest) => ({ path: rest }),
      guarded: true,
    },
  ];

  const serve = async (req: IncomingMessage, res: ServerResponse, baseUrl: string) => {
    const url = new URL(req.url ?? '/', baseUrl);
    if (url.pathname === '/console') {
      res.writeHead(308, { Location: '/console/' });
      res.end();
      return;
    }
    if (url.pathname.startsWith('/console/')) {
      const asset = consoleAsset(url.pathname.slice('/console/'.length));
      res.writeHead(asset.status, asset.headers);
      res.end(req.method === 'HEAD' ? '' : asset.body);
      return;
    }
    const route = routes.find((r) =>
      r.params
        ? url.pathname.startsWith(r.prefix)
        : url.pathname === r.prefix || url.pathname === `${r.prefix}/`,
    );
    let init: HttpResponseInit;
    const guard = route?.guarded
      ? guardLocalRequest(req.method ?? 'GET', req.headers, { port: listeningPort, token: options.token })
      : ({ ok: true } as const);
    if (!route) {
      init = { status: 404, jsonBody: { error: `no function at ${url.pathname}` } };
    } else if (!guard.ok) {
      // Drain without buffering: the body of a refused request is never parsed.
      req.resume();
      log.warn(`local host: refused ${req.method} ${url.pathname} (${guard.status}): ${guard.error}`);
      init = {
        status: guard.status,
        jsonBody: { error: guard.error },
        headers: { 'Cache-Control': 'no-store' },
      };
    } else {
      const bytes = await readBody(req, MAX_NOTIFICATION_BODY_BYTES);
      const request = new HttpRequest({
        method: req.method ?? 'GET',
        url: url.toString(),
        headers: headersOf(req),
        params: route.params ? route.params(url.pathname.slice(route.prefix.length)) : {},
        body: bytes.length > 0 ? { bytes } : undefined,
      });
      const context = invocation(route.name);
      init = await route.handler(request, context);
      enqueueOutputs(context);
    }
    const response = new HttpResponse(init);
    const text = await response.text();
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    res.writeHead(response.status ?? 200, headers);
    res.end(text);
  };

  let listeningPort = 0;
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 7071, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  listeningPort = port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const notificationUrl = `${url}/api/graph/notifications`;
  const lifecycleUrl = `${url}/api/graph/lifecycle`;
  server.on('request', (req, res) => {
    serve(req, res, url).catch((err: unknown) => {
      log.error(
        `local host: ${req.method} ${req.url} failed: ${err instanceof Error ? err.message : String(err)}`,
      );
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'internal error' }));
    });
  });

  let uninstall: () => void;
  const runtime: FunctionsRuntime = {
    ctx,
    telemetry: disabledTelemetry,
    webhookUrls: { notificationUrl, lifecycleNotificationUrl: lifecycleUrl },
    onEvent: emit,
    ...(options.busyRetryMs === undefined ? {} : { queueDelays: { busyRetryMs: options.busyRetryMs } }),
  };
  try {
    uninstall = installRuntime(runtime);
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw err;
  }

  const tick = (name: string, work: () => Promise<void>) => {
    void queue
      .track(work())
      .catch((err: unknown) => log.error(`${name}: ${err instanceof Error ? err.message : String(err)}`));
  };
  let lastPushTick = new Date();
  const pushTick = () =>
    tick('pushTimer', async () => {
      const now = new Date();
      const window = { from: lastPushTick, to: now };
      lastPushTick = now;
      const messages = await duePushMessages(ctx.meta, window);
      for (const m of messages) queue.enqueue('push', m.definition, m);
      if (messages.length)
        log.info(
          `[pushTimer] ${messages.length} push(es) due: ${messages.map((m) => m.definition).join(', ')}`,
        );
      // As the deployed timer does: pulls owed with no message on its way.
      const owed = await owedPullMessages(ctx.meta);
      for (const m of owed) queue.enqueue('pull', m.definition, m);
      if (owed.length)
        log.info(
          `[pushTimer] ${owed.length} owed pull(s) enqueued: ${owed.map((m) => m.definition).join(', ')}`,
        );
      // As the deployed timer does: replication slot health and the drop of long-disabled definitions' slots.
      await slotSafety(runtime, invocation('pushTimer'));
    });
  let lastSafety: Date | null = null;
  const safetyTick = () =>
    tick('pullSafetyTimer', async () => {
      const context = invocation('pullSafetyTimer');
      await pullSafetyTimer(timerInfo(lastSafety), context);
      lastSafety = new Date();
      enqueueOutputs(context);
    });
  let lastUpkeep: Date | null = null;
  const subscriptionTick = () =>
    tick('subscriptionTimer', async () => {
      const context = invocation('subscriptionTimer');
      await subscriptionTimer(timerInfo(lastUpkeep), context);
      lastUpkeep = new Date();
      // Catch-up pulls of lists that had no subscription, and owed pulls.
      enqueueOutputs(context);
    });

  const intervals = [
    setInterval(pushTick, options.pushIntervalMs ?? 60_000),
    setInterval(safetyTick, options.safetyIntervalMs ?? HOUR_MS),
    setInterval(subscriptionTick, options.subscriptionIntervalMs ?? HOUR_MS),
  ];
  // This queue is new: no message of an earlier host's in-memory queue exists any more (it was stopped or it
  // crashed), so every pending pull is taken over and sent here. Another host running on the same metadata
  // database at once makes this a duplicate pull, never a lost one.
  tick('pull take-over', async () => {
    const taken = pullMessagesFor(await takeOwedPulls(ctx.meta, { all: true }), 'webhook');
    for (const m of taken) queue.enqueue('pull', m.definition, m);
    if (taken.length)
      log.info(
        `local host: ${taken.length} pull(s) left pending by an earlier host enqueued: ${taken.map((m) => m.definition).join(', ')}`,
      );
  });
  // Likewise the continuations of pushes an earlier host's time budget stopped (or its crash cut): they were in its
  // queue, and the rows left would wait for the definition's next scheduled push.
  tick('push take-over', async () => {
    const enqueuedAt = new Date().toISOString();
    const left = await definitionsWithPushLeft(ctx.meta);
    for (const d of left)
      queue.enqueue('push', d.definition, {
        definition: d.definition,
        definitionId: d.definitionId,
        trigger: 'continuation',
        enqueuedAt,
      });
    if (left.length)
      log.info(
        `local host: ${left.length} push(es) an earlier run left unfinished enqueued: ${left.map((d) => d.definition).join(', ')}`,
      );
  });
  subscriptionTick();
  log.info(`local host serving ${url}/api (webhook ${notificationUrl})`);

  // Nothing may stay subscribed to a URL that no longer answers: Graph would keep posting to it, and the
  // next host (another port) creates its own. A failure is logged per subscription; upkeep of a later
  // host deletes what is left (subscriptions for an endpoint no definition owns).
  const removeOwnSubscriptions = async () => {
    const mine = (await listStoredSubscriptions(ctx.meta)).filter(
      (s) => s.notificationUrl === notificationUrl && s.state !== 'REMOVED',
    );
    if (mine.length === 0) return;
    const target = ctx.target();
    try {
      for (const s of mine) {
        try {
          await removeSubscription(ctx.meta, target, s.subscriptionId);
          log.info(`local host: deleted subscription ${s.subscriptionId}`);
        } catch (err) {
          log.error(
            `local host: could not delete subscription ${s.subscriptionId}: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      }
    } finally {
      await target.close();
    }
  };

  let stopped: Promise<void> | undefined;
  return {
    url,
    notificationUrl,
    lifecycleUrl,
    idle: () => queue.idle(),
    pendingWork: () => queue.snapshot(),
    stop: () =>
      (stopped ??= (async () => {
        for (const interval of intervals) clearInterval(interval);
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const dropped = await queue.stop();
        server.closeAllConnections();
        await closed;
        uninstall();
        // Their pending rows must not claim a message on its way: the pulls are owed again, sent by the next
        // host (or by the next notification or timer of another one).
        const pulls = dropped.flatMap((w) =>
          w.kind === 'pull' && w.message.definitionId ? [w.message.definitionId] : [],
        );
        await releasePulls(ctx.meta, pulls).catch((err: unknown) =>
          log.error(
            `local host: could not release dropped pulls: ${err instanceof Error ? err.message : String(err)}`,
          ),
        );
        await removeOwnSubscriptions();
      })()),
  };
}
