import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AuthenticationProvider } from '@microsoft/microsoft-graph-client';
import pLimit from 'p-limit';
import { Agent } from 'undici';
import { RunTimeBudgetError } from '../../budget/errors';
import { budgetClassOf } from '../../budget/shape';
import { isTlsFailure } from '../../errors/classify';
import { authenticationProviderFor } from './auth';
import {
  GraphAuthError,
  GraphOutcomeUnknownError,
  GraphPermissionError,
  GraphRequestError,
  GraphResponseShapeError,
  redactUrl,
} from './errors';
import { graphErrorBodySchema } from './graphSchemas';
import { graphWireUrl, sendsToken } from './graphUrl';
import { exchange, type WireAnswer, type WireRequest } from './httpExchange';
import { defaultAppKey, type GraphClientOptions, type ThrottleGate, type TraceNotice } from './options';
import {
  appThrottleState,
  backoffMs,
  budgetLimits,
  parseRetryAfterMs,
  resourceUnitsFor,
  sleep,
  type AppThrottleState,
} from './pacing';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface GraphRequestInit {
  body?: unknown;
  headers?: Record<string, string>;
  /** Resource units the request costs; by default derived from method and URL (graph.md costs). */
  resourceUnits?: number;
  /**
   * Whether the request may be repeated after a dropped connection or a 5xx. Default: everything but
   * POST. When false such failures throw GraphOutcomeUnknownError and the caller reconciles (I6).
   * 429s are always retried: a throttled request was not applied.
   */
  safeToRetry?: boolean;
  /** Told how long the last attempt took on the wire (pacing and back-off waits excluded). */
  onRoundTrip?: (ms: number) => void;
  /**
   * Called right before each attempt leaves, after every wait (a 429 block, pacing, a back-off) and inside the
   * request's slot; throws to stop the request before it is sent. A batch of writes passes its run's lock check, so
   * a request that waited out a 429 is not sent once the lock is known lost (I11).
   */
  beforeSend?: () => void;
}

/** An error thrown by `beforeSend`: the request was not sent, and the error is the caller's to handle. */
class StoppedBeforeSending extends Error {
  constructor(readonly reason: unknown) {
    super('stopped before sending');
  }
}

/** A zod schema, or a function with the same result (a hand-written check of a hot-path answer). */
export interface ResponseParser<T> {
  safeParse(input: unknown): { success: true; data: T } | { success: false; error: { message: string } };
}

export interface GraphResponse {
  method: HttpMethod;
  url: string;
  status: number;
  headers: Headers;
  /** Parsed JSON, the text when it is not JSON, undefined when empty. */
  body: unknown;
  requestId?: string;
}

export interface GraphTransportStats {
  /** HTTP requests sent (a `$batch` is one), retries included. */
  requests: number;
  /** Resource units spent as the server counts them (throttled and retried requests still count). */
  resourceUnits: number;
  /** Throttling answers, outer and inside batches: 429s, and 503s that carry Retry-After (SharePoint's other one). */
  throttled429: number;
  /** Time requests waited because of throttling: Retry-After, RateLimit headers, the shared gate. */
  throttleWaitMs: number;
  /** Time requests waited for our own resource-unit budget (pacing). */
  paceWaitMs: number;
  /** Retries after transient failures (5xx, resets, timeouts), including re-sent batch items. */
  transientRetries: number;
}

const TRANSIENT_STATUSES = new Set([500, 502, 503, 504]);
const DEFAULT_THROTTLE_WAIT_MS = 5_000;
const DEFAULT_MAX_RETRY_AFTER_MS = 300_000;
/** Pacing waits at least this long are reported (shorter ones are the normal rhythm of pacing). */
const REPORTED_PACE_WAIT_MS = 5_000;

function findPackageVersion(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const parsed: unknown = JSON.parse(readFileSync(candidate, 'utf8'));
      if (typeof parsed === 'object' && parsed !== null && 'name' in parsed && 'version' in parsed) {
        if (parsed.name === 'arcore-sync-bridge' && typeof parsed.version === 'string') return parsed.version;
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return '0.0.0';
    dir = parent;
  }
}

/** `User-Agent` decoration Microsoft asks of ISV-less apps (graph.md "Throttling"). */
export const USER_AGENT = `NONISV|Arcore|ArcoreSyncBridge/${findPackageVersion()}`;

/** One request's policy for the attempt loop, and the duration of its last attempt. */
class RequestPolicy {
  /** Duration of the last attempt, from sending to the whole answer. */
  lastAttemptMs = 0;

  constructor(
    readonly method: HttpMethod,
    readonly url: string,
    readonly resourceUnits: number,
    readonly safeToRetry: boolean,
  ) {}
}

function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  const causeText =
    cause instanceof Error
      ? `: ${(cause as Error & { code?: string }).code ?? cause.name} ${cause.message}`
      : '';
  return `${error.name} ${error.message}${causeText}`;
}

/** What the SDK's `serializeContent` sent for a body: strings and buffers as they are, the rest as JSON. */
function serializedBody(body: unknown): string | Buffer {
  if (typeof body === 'string' || Buffer.isBuffer(body)) return body;
  return JSON.stringify(body);
}

/**
 * The Graph HTTP client every SharePoint call goes through. Each attempt waits out shared 429 blocks,
 * paces to the resource-unit budget and takes a slot among the requests in flight; the transport honours
 * Retry-After and RateLimit-* headers and retries transient failures with capped exponential back-off and
 * jitter (I10). Requests go out through one undici connection pool per transport, with the URL, headers
 * and token the Graph SDK's client used to send (`graphUrl.ts`), without its per-request middleware
 * and `fetch` objects.
 */
export class GraphTransport {
  readonly baseUrl: string;
  readonly appKey: string;
  private readonly origin: string;
  private readonly version: string;
  private readonly hostname: string;
  private readonly auth: AuthenticationProvider;
  private readonly dispatcher: Agent;
  private readonly throttle: AppThrottleState;
  private readonly gate?: ThrottleGate;
  private readonly inFlight: pLimit.Limit;
  private readonly counters: GraphTransportStats = {
    requests: 0,
    resourceUnits: 0,
    throttled429: 0,
    throttleWaitMs: 0,
    paceWaitMs: 0,
    transientRetries: 0,
  };

  constructor(private readonly options: GraphClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    const base = new URL(this.baseUrl);
    this.appKey = options.appKey ?? defaultAppKey(options);
    // A deadline is an instant of the wall clock; a simulated clock would pass it (or never reach it) at once.
    if (options.clock && options.runDeadline !== undefined)
      throw new Error('a run deadline cannot be kept on a simulated pacing clock: give one or the other');
    this.throttle = appThrottleState(
      this.appKey,
      budgetLimits(options.resourceUnitsPerMinute ?? 1250, options.resourceUnitsPerDay),
      options.budgetStore,
      options.clock,
    );
    this.gate = options.throttleGate;
    this.inFlight = pLimit(Math.max(1, options.maxConcurrency ?? 4));
    this.dispatcher = new Agent(options.caCert ? { connect: { ca: options.caCert } } : {});
    this.origin = base.origin;
    this.version = base.pathname.split('/').filter(Boolean)[0] ?? 'v1.0';
    // The token goes to Microsoft's Graph hosts and to the configured one (the emulator's).
    this.hostname = base.hostname.toLowerCase();
    this.auth = authenticationProviderFor(options.auth, this.baseUrl);
  }

  /** An absolute URL for a path under the base URL (`/sites/…`); absolute URLs pass through. */
  url(pathOrUrl: string): string {
    if (/^https?:\/\//i.test(pathOrUrl)) return pathOrUrl;
    return `${this.baseUrl}/${pathOrUrl.replace(/^\/+/, '')}`;
  }

  stats(): GraphTransportStats {
    return { ...this.counters };
  }

  /** Releases the connection pool. Safe to call twice. */
  async close(): Promise<void> {
    if (!this.dispatcher.closed && !this.dispatcher.destroyed) await this.dispatcher.close();
  }

  /**
   * Sends one request and returns Graph's answer whatever its status (after retrying what is safe to
   * retry). Throws GraphAuthError on 401 or when no token can be had, GraphOutcomeUnknownError when a
   * request that is not safe to repeat failed in transit, GraphRequestError when retries ran out.
   */
  async send(method: HttpMethod, pathOrUrl: string, init: GraphRequestInit = {}): Promise<GraphResponse> {
    const url = this.url(pathOrUrl);
    const policy = new RequestPolicy(
      method,
      url,
      init.resourceUnits ?? resourceUnitsFor(method, url),
      init.safeToRetry ?? method !== 'POST',
    );
    const headers: Record<string, string> = { 'User-Agent': USER_AGENT, ...init.headers };
    let body: string | Buffer | undefined;
    if (method === 'POST' || method === 'PATCH') {
      body = serializedBody(init.body ?? {});
      if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type'))
        headers['Content-Type'] = 'application/json';
    }
    const wire: WireRequest = { method, url: graphWireUrl(url, this.origin, this.version), headers, body };
    let raw: WireAnswer;
    try {
      raw = await this.attemptUntilSettled(wire, policy, init.beforeSend);
    } catch (error) {
      if (error instanceof StoppedBeforeSending) throw error.reason;
      throw error;
    } finally {
      init.onRoundTrip?.(policy.lastAttemptMs);
    }
    const response = toGraphResponse(method, url, raw);
    if (response.status === 401) {
      const { code, message } = graphErrorOf(response);
      throw new GraphAuthError({
        baseUrl: this.baseUrl,
        authKind: this.options.auth.kind,
        method,
        url,
        status: 401,
        code,
        message,
        requestId: response.requestId,
      });
    }
    return response;
  }

  /** Sends a request that must succeed, and validates its body with `schema` (I12). */
  async request<T>(
    method: HttpMethod,
    pathOrUrl: string,
    schema: ResponseParser<T>,
    init: GraphRequestInit = {},
  ): Promise<T> {
    const response = await this.send(method, pathOrUrl, init);
    if (response.status < 200 || response.status > 299) throw requestErrorOf(response);
    const parsed = schema.safeParse(response.body);
    if (!parsed.success) {
      throw new GraphResponseShapeError(method, response.url, 'the expected shape', parsed.error.message);
    }
    return parsed.data;
  }

  /**
   * Records a throttling answer (a 429, or a 503 with Retry-After; outer or inside a batch) and returns the wait
   * honoured: every request of this app, in this process and, through the gate, in every other worker, waits that
   * long from now. A Retry-After beyond GRAPH_MAX_RETRY_AFTER_SECONDS is honoured only up to that cap (one answer
   * must not stall every worker for an hour); the wait, what the server asked for and the cap are reported. The gate
   * times the block by the metadata database's clock: instances whose clocks differ wait the same span.
   */
  async noteThrottled(retryAfterMs: number, count = 1, status: 429 | 503 = 429): Promise<number> {
    this.counters.throttled429 += count;
    const now = Date.now();
    const waitMs = Math.min(retryAfterMs, this.maxRetryAfterMs);
    const until = now + waitMs;
    if (until > this.throttle.blockedUntil) this.throttle.blockedUntil = until;
    const capped = retryAfterMs > waitMs;
    const reason = capped
      ? `${status} Retry-After ${Math.round(retryAfterMs / 1000)} s, capped to ${Math.round(waitMs / 1000)} s`
      : `${status} Retry-After ${Math.round(retryAfterMs / 1000)} s`;
    await this.gate?.block(this.appKey, waitMs, { askedMs: retryAfterMs, reason });
    if (capped) {
      this.options.onWait?.({ reason: 'throttled', ms: waitMs, until, askedMs: retryAfterMs });
    }
    return waitMs;
  }

  /** GRAPH_MAX_RETRY_AFTER_SECONDS in ms: the longest one 429 makes this app wait. */
  get maxRetryAfterMs(): number {
    return this.options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
  }

  /**
   * Waits before re-sending after a transient failure the caller handled itself (batch items). The back-off is short
   * and bounded (backoffDelay, at most maxTransientRetries times), so it may end a little after the run's deadline;
   * it does not stop the run, since a chunk stopped here would lose the outcomes of its writes already applied. Long
   * waits (429 or 503 with Retry-After) go through the shared block, whose clearance stops the run (I16).
   */
  async transientBackoff(attempt: number): Promise<void> {
    this.counters.transientRetries += 1;
    await sleep(this.backoffDelay(attempt));
  }

  get maxTransientRetries(): number {
    return this.options.maxTransientRetries ?? 5;
  }

  get maxThrottleWaitMs(): number {
    return this.options.maxThrottleWaitMs ?? 300_000;
  }

  /** @internal */
  backoffDelay(attempt: number): number {
    return backoffMs(attempt, this.options.retryBaseDelayMs ?? 500, this.options.retryMaxDelayMs ?? 30_000);
  }

  /**
   * @internal Waits out 429 blocks (local and shared) and the pacing budget before one attempt. A block
   * that outlasts the run's deadline stops the run (RunTimeBudgetError) before anything is sent. A stored
   * block is honoured only up to the cap from now, whoever wrote it.
   */
  async clearance(resourceUnits: number): Promise<void> {
    for (;;) {
      const now = Date.now();
      // With a gate its row is the truth (our own blocks are written there at once, and an operator may
      // clear it); the process-local block serves clients without one.
      const blocked = this.gate
        ? ((await this.gate.blockedUntil(this.appKey)) ?? 0)
        : this.throttle.blockedUntil;
      const until = Math.min(blocked, now + this.maxRetryAfterMs);
      const blockedMs = until - now;
      if (blockedMs <= 0) break;
      const deadline = this.options.runDeadline;
      if (deadline !== undefined && until > deadline) {
        throw new RunTimeBudgetError(until, `Graph throttled this app for ${Math.ceil(blockedMs / 1000)} s`);
      }
      if (blockedMs >= 1000) this.options.onWait?.({ reason: 'throttled', ms: blockedMs, until });
      this.recordThrottleWait(blockedMs);
      await sleep(blockedMs);
    }
    const budgetClass = budgetClassOf(this.options.runKind ?? 'other', this.counters.resourceUnits);
    const waited = await this.throttle.budget.reserve(resourceUnits, budgetClass, this.options.runDeadline);
    this.counters.paceWaitMs += waited.paceMs;
    if (waited.paceMs > 0) this.options.onTrace?.({ kind: 'wait', reason: 'pacing', ms: waited.paceMs });
    if (waited.paceMs >= REPORTED_PACE_WAIT_MS) {
      const reason = waited.dailyMs * 2 >= waited.paceMs ? 'dailyBudget' : 'pacing';
      this.options.onWait?.({ reason, ms: waited.paceMs, until: Date.now() });
    }
    if (waited.serverHoldMs > 0) this.recordThrottleWait(waited.serverHoldMs);
  }

  /** @internal */
  countAttempt(resourceUnits: number): void {
    this.counters.requests += 1;
    this.counters.resourceUnits += resourceUnits;
  }

  /** @internal */
  countTransientRetry(): void {
    this.counters.transientRetries += 1;
  }

  /** Feeds the server's `RateLimit-*` view of the budget to the pacer (slows down when little is left). */
  noteRateLimitHeaders(headers: Pick<Headers, 'get'>): void {
    const remaining = Number(headers.get('ratelimit-remaining') ?? NaN);
    const limit = Number(headers.get('ratelimit-limit') ?? NaN);
    const reset = Number(headers.get('ratelimit-reset') ?? NaN);
    if (Number.isFinite(remaining) && Number.isFinite(limit) && Number.isFinite(reset)) {
      this.throttle.budget.noteServerRemaining(limit, remaining, reset);
    }
  }

  /** @internal */
  runLimited<T>(task: () => Promise<T>): Promise<T> {
    return this.inFlight(task);
  }

  /** @internal */
  get requestTimeoutMs(): number {
    return this.options.requestTimeoutMs ?? 100_000;
  }

  private recordThrottleWait(ms: number): void {
    this.counters.throttleWaitMs += ms;
    this.options.onThrottleWait?.(ms);
    this.options.onTrace?.({ kind: 'wait', reason: 'throttled', ms });
  }

  /** Sends one request until it has an answer to return: 429s waited out, transient failures retried. */
  private async attemptUntilSettled(
    wire: WireRequest,
    policy: RequestPolicy,
    beforeSend?: () => void,
  ): Promise<WireAnswer> {
    let transientAttempts = 0;
    let throttledMs = 0;
    for (;;) {
      let response: WireAnswer;
      try {
        // Budget is taken inside the slot, right before sending: what we count is what the server sees.
        response = await this.runLimited(async () => {
          await this.clearance(policy.resourceUnits);
          try {
            beforeSend?.();
          } catch (error) {
            throw new StoppedBeforeSending(error);
          }
          // A fresh token for every attempt: a long wait may have outlived the last one.
          const attempt = await this.authorised(wire);
          const sentAt = Date.now();
          try {
            return await exchange(this.dispatcher, attempt, this.requestTimeoutMs);
          } finally {
            policy.lastAttemptMs = Date.now() - sentAt;
          }
        });
      } catch (error) {
        // Nothing was sent when the run's time budget stopped it, or auth failed: no attempt, no retry.
        if (
          error instanceof GraphAuthError ||
          error instanceof RunTimeBudgetError ||
          error instanceof StoppedBeforeSending
        )
          throw error;
        this.countAttempt(policy.resourceUnits);
        const reason = describeFailure(error);
        // An untrusted certificate fails the same way every time: say so at once instead of retrying.
        if (isTlsFailure(error)) {
          throw new GraphRequestError({
            method: policy.method,
            url: policy.url,
            status: 0,
            code: 'tlsFailure',
            message: reason,
          });
        }
        if (!policy.safeToRetry) throw new GraphOutcomeUnknownError(policy.method, policy.url, reason);
        if (transientAttempts >= this.maxTransientRetries) {
          throw new GraphRequestError({
            method: policy.method,
            url: policy.url,
            status: 0,
            code: 'transportFailure',
            message: `${reason} (after ${transientAttempts} retries)`,
          });
        }
        transientAttempts += 1;
        this.countTransientRetry();
        await sleep(this.backoffDelay(transientAttempts));
        continue;
      }
      this.countAttempt(policy.resourceUnits);
      this.noteRateLimitHeaders(response.headers);
      const throttling = throttlingOf(response.status, response.headers);
      if (throttling !== undefined) {
        // Shared with every worker and capped; the next attempt (or the caller's next request) waits in `clearance`,
        // which stops the run when the block outlasts its deadline.
        const waitMs = await this.noteThrottled(throttling.waitMs, 1, throttling.status);
        if (throttling.status === 503 && !policy.safeToRetry) {
          // SharePoint's throttling 503 is documented as a failed request, but a 503 is not documented as "not
          // applied" (graph/errors: "temporarily unavailable"): the caller settles the outcome by reading, and its
          // reads wait out the block first.
          throw new GraphOutcomeUnknownError(
            policy.method,
            policy.url,
            'server answered 503 (throttled)',
            503,
          );
        }
        if (throttledMs + waitMs > this.maxThrottleWaitMs) return response;
        throttledMs += waitMs;
        continue;
      }
      if (TRANSIENT_STATUSES.has(response.status)) {
        if (!policy.safeToRetry) {
          throw new GraphOutcomeUnknownError(
            policy.method,
            policy.url,
            `server answered ${response.status}`,
            response.status,
          );
        }
        if (transientAttempts >= this.maxTransientRetries) return response;
        transientAttempts += 1;
        this.countTransientRetry();
        await sleep(this.backoffDelay(transientAttempts));
        continue;
      }
      return response;
    }
  }

  /** The request with its bearer token, where the SDK's authentication handler would have added one. */
  private async authorised(wire: WireRequest): Promise<WireRequest> {
    if (!sendsToken(wire.url, this.hostname)) return wire;
    const token = await this.auth.getAccessToken();
    return { ...wire, headers: { ...wire.headers, Authorization: `Bearer ${token}` } };
  }

  /** Reports a `$batch` the batch writer sent (its outcome per inner status). */
  noteBatch(notice: Extract<TraceNotice, { kind: 'batch' }>): void {
    this.options.onTrace?.(notice);
  }
}

/**
 * Whether an answer is SharePoint throttling the app, and for how long: every 429, and a 503 that carries Retry-After
 * (or RateLimit-Reset). "Avoid getting throttled or blocked in SharePoint Online"
 * (https://learn.microsoft.com/en-us/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online):
 * for an application's requests SharePoint "returns HTTP status code 429 ("Too many requests") or 503 ("Server Too
 * Busy")", and "in both cases, a Retry-After header is included"; throttled requests count towards the limits, and
 * an app that keeps exceeding them "keeps getting HTTP status code 503". A 503 without either header is an ordinary
 * transient failure (back-off and retry).
 */
export function throttlingOf(
  status: number,
  headers: Pick<Headers, 'get'>,
): { status: 429 | 503; waitMs: number } | undefined {
  if (status === 429) return { status, waitMs: throttleWaitOf(headers) };
  if (status !== 503) return undefined;
  if (headers.get('retry-after') === null && headers.get('ratelimit-reset') === null) return undefined;
  return { status, waitMs: throttleWaitOf(headers) };
}

/** How long a 429 asks us to wait: the larger of Retry-After and RateLimit-Reset (graph.md). */
export function throttleWaitOf(headers: Pick<Headers, 'get'>): number {
  const retryAfter = parseRetryAfterMs(headers.get('retry-after'));
  const reset = parseRetryAfterMs(headers.get('ratelimit-reset'));
  if (retryAfter === undefined && reset === undefined) return DEFAULT_THROTTLE_WAIT_MS;
  return Math.max(retryAfter ?? 0, reset ?? 0);
}

function toGraphResponse(method: HttpMethod, url: string, raw: WireAnswer): GraphResponse {
  const text = raw.text;
  let body: unknown = undefined;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return {
    method,
    url,
    status: raw.status,
    headers: raw.headers,
    body,
    requestId: raw.headers.get('request-id') ?? raw.headers.get('client-request-id') ?? undefined,
  };
}

/** Graph's `{error:{code,message}}`, or a description of whatever came instead. */
export function graphErrorOf(response: Pick<GraphResponse, 'status' | 'body'>): {
  code: string;
  message: string;
} {
  const parsed = graphErrorBodySchema.safeParse(response.body);
  if (parsed.success) return { code: parsed.data.error.code, message: parsed.data.error.message };
  const text = typeof response.body === 'string' ? response.body : JSON.stringify(response.body ?? null);
  return { code: `http${response.status}`, message: text.slice(0, 300) };
}

export function requestErrorOf(response: GraphResponse): GraphRequestError {
  const { code, message } = graphErrorOf(response);
  const context = {
    method: response.method,
    url: redactUrl(response.url),
    status: response.status,
    code,
    message,
    requestId: response.requestId,
  };
  return response.status === 403 ? new GraphPermissionError(context) : new GraphRequestError(context);
}
