/**
 * JSON batching: `POST /$batch` with up to 20 requests, unique ids, relative URLs, dependsOn
 * ordering (424 when a parent failed). Each inner request runs through the whole pipeline
 * (faults, throttling, permissions, log) on its own; the outer answer is 200 even when inner requests
 * fail (https://learn.microsoft.com/en-us/graph/json-batching). A seeded share of applied item writes
 * is answered 503 all the same (`batchAmbiguous503Rate`).
 */
import { z } from 'zod';
import { jsonResponse, type EmulatorContext, type GraphRequest, type GraphResponse } from './context';
import { badRequest, graphErrorBody } from './errors';
import { newGuid } from './ids';

export const MAX_BATCH_REQUESTS = 20;

const batchSchema = z.object({
  requests: z
    .array(
      z.object({
        id: z.string().min(1),
        method: z.string().min(1),
        url: z.string().min(1),
        headers: z.record(z.string(), z.string()).optional(),
        body: z.unknown().optional(),
        dependsOn: z.array(z.string()).optional(),
      }),
    )
    .min(1),
});

type InnerRequest = z.infer<typeof batchSchema>['requests'][number];

interface InnerResponse {
  id: string;
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

function innerError(
  req: GraphRequest,
  id: string,
  status: number,
  code: string,
  message: string,
): InnerResponse {
  return {
    id,
    status,
    headers: { 'Content-Type': 'application/json' },
    body: graphErrorBody(code, message, req.requestId, req.clientRequestId),
  };
}

/** Orders requests so that each comes after the ones it depends on; throws 400 on unknown ids or cycles. */
function executionOrder(requests: InnerRequest[]): InnerRequest[] {
  const byId = new Map(requests.map((r) => [r.id, r]));
  const ordered: InnerRequest[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (r: InnerRequest): void => {
    const s = state.get(r.id);
    if (s === 'done') return;
    if (s === 'visiting') throw badRequest(`Batch request '${r.id}' has a circular dependsOn`, 'BadRequest');
    state.set(r.id, 'visiting');
    for (const parent of r.dependsOn ?? []) {
      const p = byId.get(parent);
      if (!p)
        throw badRequest(`Batch request '${r.id}' depends on unknown request '${parent}'`, 'BadRequest');
      visit(p);
    }
    state.set(r.id, 'done');
    ordered.push(r);
  };
  requests.forEach(visit);
  return ordered;
}

/** A create, update or delete of a list item that succeeded. */
function isAppliedItemWrite(method: string, path: string, status: number): boolean {
  return (
    status >= 200 &&
    status < 300 &&
    ['POST', 'PATCH', 'DELETE'].includes(method.toUpperCase()) &&
    /\/lists\/[^/]+\/items(\/|$)/.test(path)
  );
}

export async function runBatch(ctx: EmulatorContext, outer: GraphRequest): Promise<GraphResponse> {
  const parsed = batchSchema.safeParse(outer.body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badRequest(
      `Invalid batch payload format at '${issue.path.join('.')}': ${issue.message}`,
      'BadRequest',
    );
  }
  const requests = parsed.data.requests;
  if (requests.length > MAX_BATCH_REQUESTS)
    throw badRequest(
      `The number of batch requests (${requests.length}) exceeds the limit of ${MAX_BATCH_REQUESTS}.`,
      'BadRequest',
    );
  // "id … Not case-sensitive. Must be unique in the batch, otherwise, the batch request fails with a 400 error"
  // (https://learn.microsoft.com/en-us/graph/json-batching, "Creating a batch request").
  const ids = new Set<string>();
  for (const r of requests) {
    const id = r.id.toLowerCase();
    if (ids.has(id)) throw badRequest(`Batch request id '${r.id}' is used more than once`, 'BadRequest');
    ids.add(id);
    const headerNames = Object.keys(r.headers ?? {}).map((h) => h.toLowerCase());
    if (r.body !== undefined && !headerNames.includes('content-type'))
      throw badRequest(`Batch request '${r.id}' has a body but no Content-Type header`, 'BadRequest');
  }

  const responses = new Map<string, InnerResponse>();
  let drop: 'before' | 'after' | undefined;
  for (const r of executionOrder(requests)) {
    const failedParent = (r.dependsOn ?? []).find((p) => (responses.get(p)?.status ?? 0) >= 400);
    if (failedParent !== undefined) {
      responses.set(
        r.id,
        innerError(
          outer,
          r.id,
          424,
          'FailedDependency',
          `Request '${r.id}' depends on request '${failedParent}', which failed`,
        ),
      );
      continue;
    }
    const response = await runInner(ctx, outer, r);
    if (response.dropConnection === 'before') {
      drop = 'before';
      break;
    }
    if (response.dropConnection === 'after') drop = 'after';
    responses.set(r.id, {
      id: r.id,
      status: response.status,
      headers: response.headers,
      body: response.body,
    });
  }
  // Graph answers in any order; reversing keeps clients from relying on request order.
  const ordered = [...responses.values()].reverse();
  return { ...jsonResponse(200, { responses: ordered }), dropConnection: drop };
}

async function runInner(
  ctx: EmulatorContext,
  outer: GraphRequest,
  inner: InnerRequest,
): Promise<GraphResponse> {
  const errorResponse = (status: number, code: string, message: string): GraphResponse => ({
    status,
    headers: { 'Content-Type': 'application/json' },
    body: graphErrorBody(code, message, outer.requestId, outer.clientRequestId),
  });
  if (/^[a-z][a-z0-9+.-]*:/i.test(inner.url))
    return errorResponse(
      400,
      'BadRequest',
      `Batch request urls must be relative to /v1.0, got '${inner.url}'`,
    );
  const relative = inner.url.startsWith('/') ? inner.url : `/${inner.url}`;
  const firstSegment = relative.split(/[/?]/)[1];
  // The version belongs to the batch endpoint: Graph reads '/v1.0/…' inside a batch as a resource segment.
  if (firstSegment === 'v1.0' || firstSegment === 'beta')
    return errorResponse(400, 'BadRequest', `Resource not found for the segment '${firstSegment}'.`);
  if (firstSegment === '$batch')
    return errorResponse(400, 'BadRequest', 'A batch cannot contain a $batch request');
  const url = new URL(relative, 'https://batch.invalid');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(inner.headers ?? {})) headers[name.toLowerCase()] = value;
  const response = await ctx.execute({
    method: inner.method.toUpperCase(),
    path: url.pathname,
    query: url.searchParams,
    headers,
    body: inner.body,
    identity: outer.identity,
    inBatch: true,
    requestId: newGuid(),
    clientRequestId: headers['client-request-id'] ?? outer.clientRequestId,
  });
  if (
    isAppliedItemWrite(inner.method, url.pathname, response.status) &&
    ctx.random.chance(ctx.settings.batchAmbiguous503Rate)
  ) {
    // Applied, then answered 503: nothing documents that a 5xx means "not applied"
    // (https://learn.microsoft.com/en-us/graph/errors lists 503 as "the service is temporarily
    // unavailable"), so a client must find out before it sends the write again.
    return errorResponse(503, 'serviceNotAvailable', 'The service is temporarily unavailable.');
  }
  // Inner responses carry plain JSON content types, which the SDK's BatchResponseContent expects.
  const innerHeaders = { ...response.headers };
  if (innerHeaders['Content-Type']) innerHeaders['Content-Type'] = 'application/json; charset=utf-8';
  return { ...response, headers: innerHeaders };
}
