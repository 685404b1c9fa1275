import './bootstrap';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import {
  ConflictAlreadyResolvedError,
  ConflictNotFoundError,
  resolveConflict,
  ResolutionValueError,
} from '../core/engine/resolve';
import { runPull } from '../core/engine/pull';
import { runPush } from '../core/engine/push';
import { BackfillInProgressError, runBackfill } from '../core/engine/backfill';
import { relinkDefinition } from '../core/engine/relink';
import { verifyDefinition } from '../core/engine/verify';
import { previewPull, previewPush } from '../core/engine/dryRun';
import { budgetUsage } from '../core/ops/budget';
import { definitionDetail } from '../core/ops/definitionDetail';
import { listAllRuns, newestRunId } from '../core/ops/runs';
import type { EngineContext, RunSummary } from '../core/engine/types';
import { errorKindOf, hintFor } from '../core/errors/classify';
import type { ErrorKind } from '../core/errors/kind';
import {
  definitionIdByName,
  definitionStatus,
  discardFailures,
  getConflict,
  CursorSetupError,
  installCursor,
  listConflicts,
  removeDefinition,
  listFailures,
  listRuns,
  resetCursor,
  decideParkedTruncate,
  retryFailures,
  UnknownConflictError,
  UnknownFailureError,
} from '../core/ops';
import { DEFAULT_SLOT_POLICY } from '../core/ops/slotHealth';
import type { SlotReading } from '../core/ops/status';
import { UnknownDefinitionError } from '../core/store/definitions';
import { markPullPending } from '../core/subscriptions';
import { errorResponse, jsonResponse, readJsonBody } from './http';
import {
  auditName,
  hostAuthenticator,
  opsAuthLevel,
  opsAuthMode,
  type OpsAuthenticator,
  type OpsPrincipal,
} from './opsAuth';
import { pullQueueOutput, pushQueueOutput, type PullMessage, type PushMessage } from './queues';
import { engineContextFor, getRuntime, messageOf, type FunctionsRuntime } from './runtime';

/** How status reads LSN definitions' replication slots: the run's source pools and the app's thresholds. */
function slotReading(ctx: EngineContext): SlotReading {
  return { sourcePool: (c) => ctx.sourcePool(c), policy: ctx.slotPolicy ?? DEFAULT_SLOT_POLICY };
}

/**
 * In Azure the front end ends an HTTP request after 230 s whatever the function still does ("230 seconds is the
 * maximum amount of time that an HTTP triggered function can take to respond",
 * https://learn.microsoft.com/azure/azure-functions/functions-scale#timeout): the caller gets 502/504 while the
 * run carries on. Work the deployed ops API does inside the request (a backfill, a dry run) therefore stops at
 * this budget and answers; a backfill continues where it stopped when posted again. Push and pull need not wait:
 * `{"wait": false}` enqueues them (the console always does).
 */
export const AZURE_INLINE_RUN_SECONDS = 200;

export interface OpsApiOptions {
  /** Longest a run inside a request may take (seconds); none: the context's RUN_MAX_SECONDS alone. */
  inlineRunSeconds?: number;
}

/** The time budget of a run done inside the request: the inline limit, never more than RUN_MAX_SECONDS. */
function inlineBudget(ctx: EngineContext, options: OpsApiOptions): number | undefined {
  const limit = options.inlineRunSeconds;
  if (limit === undefined) return undefined;
  return ctx.runMaxSeconds === undefined ? limit : Math.min(limit, ctx.runMaxSeconds);
}

/** Request bodies of the ops API are small; anything bigger is a mistake. */
const MAX_OPS_BODY_BYTES = 256 * 1024;
const ID = /^[1-9][0-9]{0,18}$/;

const idSchema = z.union([
  z.string().regex(ID, 'must be a positive integer id'),
  z.number().int().positive(),
]);

export const runNowBodySchema = z
  .object({
    wait: z.boolean().default(true).describe('false: enqueue the run and answer 202'),
    importExistingItems: z
      .boolean()
      .default(false)
      .describe(
        'true: a routed list the run binds for the first time may hold items made before the sync: import them ' +
          '(CLI --import-existing-items) instead of refusing',
      ),
  })
  .strict();
export const verifyBodySchema = z.object({}).strict();
export const dryRunBodySchema = z.object({ run: z.enum(['push', 'pull', 'sync']) }).strict();
export const installCursorBodySchema = z
  .object({ printSql: z.boolean().default(false).describe('true: answer the SQL still needed, run nothing') })
  .strict();
export const backfillBodySchema = z
  .object({
    fields: z
      .array(z.string().min(1))
      .min(1)
      .max(500)
      .describe('SharePoint field names or source columns of the definition'),
    strategy: z.enum(['update_only', 'full_resync']).default('update_only'),
    direction: z.enum(['push', 'pull']).default('push'),
    dryRun: z.boolean().default(false).describe('true: read as the backfill would, write nothing'),
    restart: z.boolean().default(false).describe('true: start over an unfinished backfill'),
  })
  .strict();
export const truncateDecisionBodySchema = z.object({ decision: z.enum(['PROPAGATE', 'IGNORE']) }).strict();
export const resetCursorBodySchema = z.object({ scope: z.enum(['source', 'target', 'all']) }).strict();
// No `resolvedBy`: who resolved a conflict is the authenticated caller, never a claim in the body.
export const resolveBodySchema = z.union([
  z.object({ take: z.enum(['postgres', 'sharepoint']) }).strict(),
  z.object({ values: z.record(z.string(), z.unknown()) }).strict(),
]);
export const failureIdsBodySchema = z
  .object({ ids: z.array(idSchema).min(1).max(1000).optional() })
  .strict()
  .transform((b) => ({ ids: b.ids?.map(String) }));

const runsQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(20) });
const conflictsQuerySchema = z.object({
  status: z
    .string()
    .transform((s) => s.toUpperCase())
    .pipe(z.enum(['OPEN', 'RESOLVED']))
    .optional(),
});
const failuresQuerySchema = z.object({
  status: z
    .string()
    .transform((s) => s.toUpperCase())
    .pipe(z.enum(['PARKED', 'RESOLVED', 'DISCARDED', 'ALL']))
    .default('PARKED'),
});

/** A client mistake the handler answers with 400, naming each problem. */
class BadRequestError extends Error {
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new BadRequestError(
      `invalid ${what}`,
      parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`),
    );
  }
  return parsed.data;
}

async function bodyValue(request: HttpRequest, emptyValue: unknown): Promise<unknown> {
  const read = await readJsonBody(request, { limit: MAX_OPS_BODY_BYTES, emptyValue });
  if (!read.ok) {
    const detail = read.response.jsonBody as { error?: string } | undefined;
    throw new BadRequestError(detail?.error ?? 'unreadable body');
  }
  return read.value;
}

async function body<T>(request: HttpRequest, schema: z.ZodType<T>, emptyValue: unknown = {}): Promise<T> {
  return parseWith(schema, await bodyValue(request, emptyValue), 'body');
}

function query(request: HttpRequest): Record<string, string> {
  return Object.fromEntries(request.query.entries());
}

interface RouteInput {
  params: Record<string, string>;
  request: HttpRequest;
  ctx: EngineContext;
  context: InvocationContext;
  runtime: FunctionsRuntime;
  principal: OpsPrincipal;
  /** The time budget of work done inside this request (backfill, dry run). */
  inlineSeconds: number | undefined;
}

interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  pattern: string[];
  handle(input: RouteInput): Promise<HttpResponseInit>;
}

function runResponse(summary: RunSummary): HttpResponseInit {
  if (summary.status === 'SKIPPED') {
    return jsonResponse(409, {
      error: 'another run of this definition holds its lock; try again shortly',
      summary,
    });
  }
  return jsonResponse(200, summary);
}

const allRunsQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  definition: z.string().min(1).optional(),
  status: z
    .string()
    .transform((s) => s.toUpperCase())
    .pipe(z.enum(['RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED', 'SKIPPED', 'ABANDONED']))
    .optional(),
  runType: z
    .string()
    .transform((s) => s.toUpperCase())
    .transform((s) => (s === 'INGRESS' ? 'PULL' : s)) // the name before migration 008, kept as an alias
    .pipe(z.enum(['PUSH', 'PULL', 'CDC', 'BACKFILL']))
    .optional(),
});

const routes: Route[] = [
  {
    method: 'GET',
    pattern: ['runs'],
    handle: async ({ ctx, request }) => {
      const filter = parseWith(allRunsQuerySchema, query(request), 'query');
      return jsonResponse(200, { runs: await listAllRuns(ctx.meta, filter) });
    },
  },
  {
    method: 'GET',
    pattern: ['budget'],
    handle: async ({ ctx }) => jsonResponse(200, await budgetUsage(ctx.meta, ctx.ruPerMinute ?? 1250)),
  },
  {
    method: 'GET',
    pattern: ['definitions', ':name', 'definition'],
    handle: async ({ ctx, params }) =>
      jsonResponse(200, await definitionDetail(ctx.meta, (c) => ctx.sourcePool(c), params.name)),
  },
  {
    method: 'GET',
    pattern: ['definitions'],
    handle: async ({ ctx }) =>
      jsonResponse(200, { definitions: await definitionStatus(ctx.meta, undefined, slotReading(ctx)) }),
  },
  {
    method: 'GET',
    pattern: ['definitions', ':name'],
    handle: async ({ ctx, params }) =>
      jsonResponse(200, (await definitionStatus(ctx.meta, params.name, slotReading(ctx)))[0]),
  },
  {
    // Rows and items stay; 409 while a run holds the lock. Subscriptions Graph kept are in `subscriptionsLeft`.
    method: 'DELETE',
    pattern: ['definitions', ':name'],
    handle: async ({ ctx, params }) => jsonResponse(200, await removeDefinition(ctx, params.name)),
  },
  {
    method: 'POST',
    pattern: ['definitions', ':name', 'push'],
    handle: async ({ ctx, params, request, context }) => {
      const { wait, importExistingItems } = await body(request, runNowBodySchema);
      const importing = importExistingItems ? { importExistingItems: true as const } : {};
      if (wait) return runResponse(await runPush(ctx, params.name, { trigger: 'ops', ...importing }));
      const definitionId = await definitionIdByName(ctx.meta, params.name);
      const message: PushMessage = {
        definition: params.name,
        definitionId,
        trigger: 'ops',
        enqueuedAt: new Date().toISOString(),
        ...importing,
      };
      context.extraOutputs.set(pushQueueOutput, [message]);
      return jsonResponse(202, {
        enqueued: 'push',
        definition: params.name,
        afterRunId: await newestRunId(ctx.meta, definitionId),
      });
    },
  },
  {
    method: 'POST',
    pattern: ['definitions', ':name', 'pull'],
    handle: async ({ ctx, params, request, context }) => {
      const { wait, importExistingItems } = await body(request, runNowBodySchema);
      const importing = importExistingItems ? { importExistingItems: true as const } : {};
      if (wait) return runResponse(await runPull(ctx, params.name, { trigger: 'ops', ...importing }));
      const definitionId = await definitionIdByName(ctx.meta, params.name);
      await markPullPending(ctx.meta, definitionId, 'ops API');
      const message: PullMessage = {
        definition: params.name,
        definitionId,
        trigger: 'ops',
        enqueuedAt: new Date().toISOString(),
        ...importing,
      };
      context.extraOutputs.set(pullQueueOutput, [message]);
      return jsonResponse(202, {
        enqueued: 'pull',
        definition: params.name,
        afterRunId: await newestRunId(ctx.meta, definitionId),
      });
    },
  },
  {
    method: 'POST',
    pattern: ['definitions', ':name', 'reset-cursor'],
    handle: async ({ ctx, params, request }) => {
      const { scope } = await body(request, resetCursorBodySchema, undefined);
      return jsonResponse(200, await resetCursor(ctx.meta, params.name, scope));
    },
  },
  {
    // Re-syncs the chosen fields of every ledger row (issue #22); 409 while another run holds the lock or while
    // a backfill of other fields is unfinished (`restart: true` starts over). A rerun continues where it stopped.
    method: 'POST',
    pattern: ['definitions', ':name', 'backfill'],
    handle: async ({ ctx, params, request, inlineSeconds }) => {
      const input = await body(request, backfillBodySchema, undefined);
      const summary = await runBackfill(ctx, params.name, {
        ...input,
        trigger: 'ops',
        maxSeconds: inlineSeconds,
      });
      if (summary.status === 'SKIPPED') {
        return jsonResponse(409, {
          error: 'another run of this definition holds its lock; try again shortly',
          summary,
        });
      }
      return jsonResponse(200, summary);
    },
  },
  {
    method: 'POST',
    pattern: ['definitions', ':name', 'truncate-decision'],
    handle: async ({ ctx, params, request, principal }) => {
      const { decision } = await body(request, truncateDecisionBodySchema);
      return jsonResponse(
        200,
        await decideParkedTruncate(ctx.meta, params.name, decision, auditName(principal)),
      );
    },
  },
  {
    method: 'POST',
    pattern: ['definitions', ':name', 'relink'],
    handle: async ({ ctx, params }) => jsonResponse(200, await relinkDefinition(ctx, params.name)),
  },
  {
    // Reads both sides as the run would, writes nothing, records no run and takes no lock.
    method: 'POST',
    pattern: ['definitions', ':name', 'dry-run'],
    handle: async ({ ctx, params, request, inlineSeconds }) => {
      const { run } = await body(request, dryRunBodySchema, undefined);
      const opts = { trigger: 'ops' as const, maxSeconds: inlineSeconds };
      if (run === 'push') return jsonResponse(200, await previewPush(ctx, params.name, opts));
      if (run === 'pull') return jsonResponse(200, await previewPull(ctx, params.name, opts));
      // One budget for both previews of a sync, so that together they answer within it.
      const started = Date.now();
      const pull = await previewPull(ctx, params.name, opts);
      const left =
        inlineSeconds === undefined
          ? undefined
          : Math.max(1, inlineSeconds - Math.ceil((Date.now() - started) / 1000));
      const push =
        pull.status === 'FAILED' ? null : await previewPush(ctx, params.name, { ...opts, maxSeconds: left });
      return jsonResponse(200, { dryRun: true, definition: params.name, pull, push });
    },
  },
  {
    // Reads both sides (no writes, no lock): 200 with `agree` true or false.
    method: 'POST',
    pattern: ['definitions', ':name', 'verify'],
    handle: async ({ ctx, params, request }) => {
      await body(request, verifyBodySchema);
      return jsonResponse(200, await verifyDefinition(ctx, params.name));
    },
  },
  {
    method: 'POST',
    pattern: ['definitions', ':name', 'install-cursor'],
    handle: async ({ ctx, params, request }) => {
      const { printSql } = await body(request, installCursorBodySchema);
      return jsonResponse(
        200,
        await installCursor(ctx.meta, (c) => ctx.sourcePool(c), params.name, { printSql }),
      );
    },
  },
  {
    method: 'GET',
    pattern: ['definitions', ':name', 'runs'],
    handle: async ({ ctx, params, request }) => {
      const { limit } = parseWith(runsQuerySchema, query(request), 'query');
      return jsonResponse(200, { runs: await listRuns(ctx.meta, params.name, limit) });
    },
  },
  {
    method: 'GET',
    pattern: ['definitions', ':name', 'conflicts'],
    handle: async ({ ctx, params, request }) => {
      const { status } = parseWith(conflictsQuerySchema, query(request), 'query');
      return jsonResponse(200, { conflicts: await listConflicts(ctx.meta, params.name, status) });
    },
  },
  {
    method: 'GET',
    pattern: ['definitions', ':name', 'failures'],
    handle: async ({ ctx, params, request }) => {
      const { status } = parseWith(failuresQuerySchema, query(request), 'query');
      return jsonResponse(200, { failures: await listFailures(ctx.meta, params.name, status) });
    },
  },
  {
    method: 'POST',
    pattern: ['definitions', ':name', 'failures', 'retry'],
    handle: async ({ ctx, params, request }) => {
      const { ids } = await body(request, failureIdsBodySchema);
      return jsonResponse(200, await retryFailures(ctx.meta, params.name, ids));
    },
  },
  {
    method: 'POST',
    pattern: ['definitions', ':name', 'failures', 'discard'],
    handle: async ({ ctx, params, request }) => {
      const { ids } = await body(request, failureIdsBodySchema);
      return jsonResponse(200, await discardFailures(ctx.meta, params.name, ids));
    },
  },
  {
    method: 'GET',
    pattern: ['conflicts', ':id'],
    handle: async ({ ctx, params }) => jsonResponse(200, await getConflict(ctx.meta, params.id)),
  },
  {
    method: 'POST',
    pattern: ['conflicts', ':id', 'resolve'],
    handle: async ({ ctx, params, request, principal }) => {
      const value = await bodyValue(request, undefined);
      if (typeof value === 'object' && value !== null && 'resolvedBy' in value) {
        throw new BadRequestError('resolvedBy is not accepted: the audit records the authenticated caller', [
          'resolvedBy: remove it',
        ]);
      }
      const choice = parseWith(resolveBodySchema, value, 'body');
      await getConflict(ctx.meta, params.id);
      const resolution = 'take' in choice ? { take: choice.take } : { values: choice.values };
      return jsonResponse(200, await resolveConflict(ctx, params.id, resolution, auditName(principal)));
    },
  },
];

/** The path below `ops/`: the route parameter on Azure, the URL elsewhere. */
function opsPath(request: HttpRequest): string {
  const fromRoute = request.params.path;
  if (typeof fromRoute === 'string') return fromRoute;
  const pathname = new URL(request.url).pathname;
  const at = pathname.indexOf('/ops/');
  return at >= 0 ? pathname.slice(at + '/ops/'.length) : '';
}

function match(pattern: string[], segments: string[]): Record<string, string> | null {
  if (pattern.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (const [i, part] of pattern.entries()) {
    if (part.startsWith(':')) params[part.slice(1)] = segments[i];
    else if (part !== segments[i]) return null;
  }
  return params;
}

export interface OpsErrorResponse {
  status: number;
  body: Record<string, unknown>;
  /** `Retry-After` (seconds, RFC 9110 §10.2.3) when the error says how long to wait. */
  headers?: Record<string, string>;
}

export function opsErrorStatus(err: unknown): OpsErrorResponse | null {
  const mapped = statusOf(err);
  const seconds = retryAfterSecondsOf(err);
  if (mapped && seconds !== null) return { ...mapped, headers: { 'Retry-After': String(seconds) } };
  return mapped;
}

/** The seconds an error asks the caller to wait before trying again (busy errors that know it). */
function retryAfterSecondsOf(err: unknown): number | null {
  if (typeof err !== 'object' || err === null || !('retryAfterSeconds' in err)) return null;
  const seconds = (err as { retryAfterSeconds: unknown }).retryAfterSeconds;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds) : null;
}

function statusOf(err: unknown): OpsErrorResponse | null {
  if (err instanceof BadRequestError)
    return { status: 400, body: { error: err.message, problems: err.problems } };
  if (err instanceof ResolutionValueError || err instanceof CursorSetupError)
    return { status: 400, body: { error: err.message } };
  if (
    err instanceof UnknownDefinitionError ||
    err instanceof UnknownConflictError ||
    err instanceof ConflictNotFoundError ||
    err instanceof UnknownFailureError
  ) {
    return { status: 404, body: { error: err.message } };
  }
  if (err instanceof BackfillInProgressError)
    return { status: 409, body: { error: err.message, kind: err.errorKind, hint: err.hint } };
  if (err instanceof ConflictAlreadyResolvedError) return { status: 409, body: { error: err.message } };
  // Everything else by its kind (src/core/errors), with the kind and the next step in the body.
  const kind = errorKindOf(err);
  const status = STATUS_BY_KIND[kind];
  if (status === undefined) return null;
  return { status, body: { error: messageOf(err), kind, hint: hintFor(err, kind) } };
}

/** HTTP status per failure kind; `internal` stays a logged 500. */
const STATUS_BY_KIND: Partial<Record<ErrorKind, number>> = {
  not_found: 404,
  invalid_definition: 400,
  invalid_input: 400,
  data: 400,
  unreachable: 502,
  tls: 502,
  authentication: 502,
  permission: 502,
  throttled: 503,
  busy: 409,
};

/**
 * The operations API under `ops/` (JSON): definitions with status; run a push or pull now (or enqueue it
 * with `{"wait": false}`), or preview one (dry run); verify both sides; relink, remove a definition; set up
 * its cursor; reset a cursor; runs; conflicts and their resolution; parked failures, retry and discard.
 * `authenticate` decides who may call (opsAuth.ts on Azure, the local host's checks under
 * `arcore-sync serve`): 401 without credentials, 403 without the role. Bad input → 400 naming the
 * problem, unknown names and ids → 404, a definition busy with a run → 409.
 */
export function createOpsApi(
  authenticate: OpsAuthenticator,
  options: OpsApiOptions = {},
): (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return (request, context) => handleOps(request, context, authenticate, options);
}

async function handleOps(
  request: HttpRequest,
  context: InvocationContext,
  authenticate: OpsAuthenticator,
  options: OpsApiOptions,
): Promise<HttpResponseInit> {
  let auth;
  try {
    auth = authenticate(request);
  } catch (err) {
    context.error(`opsApi: authentication is misconfigured: ${messageOf(err)}`);
    return errorResponse(500, `the ops API is misconfigured: ${messageOf(err)}`);
  }
  if (!auth.ok) {
    context.warn(`opsApi: ${request.method} refused (${auth.status}): ${auth.error}`);
    return errorResponse(auth.status, auth.error, auth.signIn ? { signIn: auth.signIn } : undefined);
  }
  const { principal } = auth;
  let segments: string[];
  try {
    segments = opsPath(request)
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
  } catch {
    return errorResponse(400, 'malformed path');
  }
  const candidates = routes
    .map((route) => ({ route, params: match(route.pattern, segments) }))
    .filter((c): c is { route: Route; params: Record<string, string> } => c.params !== null);
  if (candidates.length === 0) return errorResponse(404, `no such operation: /ops/${segments.join('/')}`);
  const chosen = candidates.find((c) => c.route.method === request.method);
  if (!chosen) {
    const allowed = [...new Set(candidates.map((c) => c.route.method))].join(', ');
    return errorResponse(405, `use ${allowed}`, { allowed });
  }
  if (chosen.params.id !== undefined && !ID.test(chosen.params.id)) {
    return errorResponse(404, `no conflict with id "${chosen.params.id}"`);
  }
  let runtime: FunctionsRuntime;
  try {
    runtime = await getRuntime();
  } catch (err) {
    context.error(`opsApi: runtime unavailable: ${messageOf(err)}`);
    return errorResponse(503, `the service is not ready: ${messageOf(err)}`);
  }
  try {
    const ctx = engineContextFor(runtime, context);
    return await chosen.route.handle({
      params: chosen.params,
      request,
      ctx,
      context,
      runtime,
      principal,
      inlineSeconds: inlineBudget(ctx, options),
    });
  } catch (err) {
    const mapped = opsErrorStatus(err);
    if (mapped) return jsonResponse(mapped.status, mapped.body, mapped.headers);
    context.error(`opsApi: ${request.method} /ops/${segments.join('/')}: ${messageOf(err)}`);
    runtime.telemetry.trackException(err, { operation: 'opsApi', definition: chosen.params.name });
    return errorResponse(500, messageOf(err));
  }
}

/**
 * The deployed ops API. The mode is read per request so that a misconfigured OPS_AUTH is answered (500
 * naming the setting) rather than failing the whole app at indexing.
 */
export const opsApi = createOpsApi((request) => hostAuthenticator(opsAuthMode())(request), {
  inlineRunSeconds: AZURE_INLINE_RUN_SECONDS,
});

function registrationAuthLevel(): 'anonymous' | 'admin' {
  try {
    return opsAuthLevel(opsAuthMode());
  } catch {
    // An invalid OPS_AUTH: the strictest level; every request then gets the configuration error too.
    return 'admin';
  }
}

app.http('opsApi', {
  methods: ['GET', 'POST', 'DELETE'],
  authLevel: registrationAuthLevel(),
  route: 'ops/{*path}',
  extraOutputs: [pushQueueOutput, pullQueueOutput],
  handler: opsApi,
});
