/**
 * The pipeline every Graph request goes through, outer or inside a $batch: route, injected fault,
 * resource-unit charge (429 when over budget), handler, request log and stats.
 */
import type { EmulatorContext, GraphRequest, GraphResponse } from './context';
import { JSON_CONTENT_TYPE } from './context';
import { defaultCodeForStatus, GraphError, graphErrorBody, type HeaderMap } from './errors';
import type { FaultInjector } from './faults';
import { checkAccess } from './permissions';
import type { RequestRecorder } from './requestLog';
import { matchRoute, type RouteMatch } from './router';
import { resourceUnitsPerDayOf, type ResourceUnitBudget } from './throttling';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function errorResponse(req: GraphRequest, error: GraphError): GraphResponse {
  return {
    status: error.status,
    headers: { 'Content-Type': JSON_CONTENT_TYPE, ...error.headers },
    body: graphErrorBody(error.code, error.message, req.requestId, req.clientRequestId),
  };
}

function loggedHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (name !== 'authorization') out[name] = value;
  return out;
}

export class GraphExecutor {
  constructor(
    private readonly ctx: EmulatorContext,
    private readonly faults: FaultInjector,
    private readonly budget: ResourceUnitBudget,
    private readonly recorder: RequestRecorder,
  ) {}

  async execute(req: GraphRequest): Promise<GraphResponse> {
    let match: RouteMatch | undefined;
    let routeError: GraphError | undefined;
    try {
      match = matchRoute(req.method, req.path);
    } catch (error) {
      if (!(error instanceof GraphError)) throw error;
      routeError = error;
    }
    const routeKey = `${req.method} ${match ? match.route.template : '(unmatched)'}`;
    const fault = this.faults.take(req.method, req.path);
    if (fault?.latencyMs) await sleep(fault.latencyMs);
    if (fault?.drop === 'before') {
      this.record(req, routeKey, 0, 'before');
      return { status: 0, headers: {}, dropConnection: 'before' };
    }

    let response: GraphResponse;
    if (fault?.status !== undefined) {
      const headers: HeaderMap = {};
      if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
      response = errorResponse(
        req,
        new GraphError(
          fault.status,
          defaultCodeForStatus(fault.status),
          `Injected fault: ${fault.status}`,
          headers,
        ),
      );
    } else if (!match) {
      response = errorResponse(req, routeError!);
    } else {
      response = await this.run(req, match);
    }

    const drop = response.dropConnection ?? fault?.drop;
    this.record(req, routeKey, response.status, drop);
    return drop ? { ...response, dropConnection: drop } : response;
  }

  private async run(req: GraphRequest, match: RouteMatch): Promise<GraphResponse> {
    const charge = this.budget.charge(req.identity.name, match.route.cost(req));
    if (!charge.allowed) {
      return errorResponse(
        req,
        new GraphError(
          429,
          'TooManyRequests',
          charge.exhausted === 'day'
            ? `The request has been throttled: the application has used its ${resourceUnitsPerDayOf(this.ctx.settings)} resource units for this day. Retry after ${charge.retryAfterSeconds} seconds.`
            : `The request has been throttled: the application has used its ${this.ctx.settings.resourceUnitsPerMinute} resource units for this minute. Retry after ${charge.retryAfterSeconds} seconds.`,
          charge.headers,
        ),
      );
    }
    let response: GraphResponse;
    try {
      const site = match.params.site === undefined ? undefined : this.ctx.state.findSite(match.params.site);
      checkAccess(req.identity, match.route.access, site?.id);
      response = await match.route.handle(this.ctx, req, match.params);
    } catch (error) {
      if (!(error instanceof GraphError)) throw error;
      response = errorResponse(req, error);
    }
    return Object.keys(charge.headers).length
      ? { ...response, headers: { ...response.headers, ...charge.headers } }
      : response;
  }

  private record(
    req: GraphRequest,
    routeKey: string,
    status: number,
    dropped: 'before' | 'after' | undefined,
  ): void {
    this.recorder.record(
      {
        method: req.method,
        path: req.path,
        query: req.query.toString(),
        status,
        body: req.body,
        identity: req.identity.name,
        headers: loggedHeaders(req.headers),
        ...(req.inBatch ? { batch: true as const } : {}),
        ...(dropped ? { dropped } : {}),
      },
      routeKey,
      req.bodyText,
    );
  }
}
