/**
 * Change-notification subscriptions on lists: create (with the validation handshake), list, get,
 * renew (PATCH), delete, reauthorize. Expired subscriptions disappear.
 */
import { z } from 'zod';
import {
  emptyResponse,
  jsonResponse,
  type EmulatorContext,
  type GraphRequest,
  type GraphResponse,
} from './context';
import { badRequest, GraphError } from './errors';
import { newGuid } from './ids';
import type { Subscription } from './state';

export const MAX_SUBSCRIPTION_MINUTES = 42_300;
export const MAX_CLIENT_STATE_LENGTH = 128;
export const VALIDATION_TIMEOUT_MS = 10_000;

const createSchema = z.object({
  changeType: z.string().min(1),
  notificationUrl: z.string().min(1),
  resource: z.string().min(1),
  expirationDateTime: z.string().min(1),
  clientState: z.string().nullable().optional(),
  lifecycleNotificationUrl: z.string().nullable().optional(),
  latestSupportedTlsVersion: z.string().optional(),
  includeResourceData: z.boolean().optional(),
});

const renewSchema = z.object({ expirationDateTime: z.string().min(1) }).strict();

const invalid = (message: string) => badRequest(message, 'InvalidRequest');

function isLoopback(hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
}

/** https only, except http on loopback (local development and tests): documented deviation. */
function checkEndpointUrl(name: string, raw: string): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`${name} '${raw}' is not a valid URL`);
  }
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && isLoopback(url.hostname)) return;
  throw invalid(`${name} must be an https URL (the emulator also accepts http on 127.0.0.1 and localhost)`);
}

function parseExpiration(raw: string): number {
  const ms = Date.parse(raw);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}T/.test(raw))
    throw invalid(`expirationDateTime '${raw}' is not an ISO-8601 date-time`);
  const now = Date.now();
  if (ms <= now) throw invalid('Subscription expiration must be in the future.');
  if (ms > now + MAX_SUBSCRIPTION_MINUTES * 60_000)
    throw invalid(`Subscription expiration can only be ${MAX_SUBSCRIPTION_MINUTES} minutes in the future.`);
  return ms;
}

/**
 * The validation handshake: POST `<url>?validationToken=<token>` (text/plain); the endpoint must
 * answer 200, Content-Type text/plain, body = the decoded token, within 10 s.
 */
export async function validateEndpoint(name: string, url: string): Promise<void> {
  const token = `Validation: Testing client application reachability for subscription Request-Id: ${newGuid()}`;
  const target = `${url}${url.includes('?') ? '&' : '?'}validationToken=${encodeURIComponent(token)}`;
  const failed = (detail: string) => invalid(`Subscription validation request failed for ${name}. ${detail}`);
  let response: Response;
  try {
    response = await fetch(target, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      body: '',
      signal: AbortSignal.timeout(VALIDATION_TIMEOUT_MS),
    });
  } catch (error) {
    const reason =
      error instanceof Error && error.name === 'TimeoutError' ? 'did not answer within 10 s' : String(error);
    throw failed(
      `Notification endpoint must respond with 200 OK to validation request; the endpoint ${reason}.`,
    );
  }
  const text = await response.text();
  if (response.status !== 200)
    throw failed(
      `Notification endpoint must respond with 200 OK to validation request; it answered ${response.status}.`,
    );
  const contentType = response.headers.get('content-type') ?? '';
  if (!contentType.toLowerCase().startsWith('text/plain'))
    throw failed(`The validation response must have Content-Type text/plain, got '${contentType}'.`);
  if (text !== token) throw failed('Response must exactly match validationToken query parameter.');
}

export function removeExpiredSubscriptions(ctx: EmulatorContext): void {
  const now = Date.now();
  let removed = false;
  for (const [id, subscription] of ctx.state.subscriptions)
    if (subscription.expirationMs <= now) {
      ctx.state.subscriptions.delete(id);
      removed = true;
    }
  if (removed) ctx.events.stateChanged();
}

/**
 * A subscription as Graph answers it. The list leaves clientState out: "the clientState property value is not
 * returned for security purposes" (https://learn.microsoft.com/en-us/graph/api/subscription-list); create, get by id
 * and renew show it.
 */
function render(
  ctx: EmulatorContext,
  subscription: Subscription,
  withClientState = true,
): Record<string, unknown> {
  const creator = ctx.identities.byNameOrUndefined(subscription.creator) ?? ctx.identities.app;
  return {
    id: subscription.id,
    resource: subscription.resource,
    applicationId: ctx.identities.app.id,
    changeType: subscription.changeType,
    clientState: withClientState ? (subscription.clientState ?? null) : null,
    notificationUrl: subscription.notificationUrl,
    notificationQueryOptions: null,
    lifecycleNotificationUrl: subscription.lifecycleNotificationUrl ?? null,
    expirationDateTime: new Date(subscription.expirationMs).toISOString(),
    creatorId: creator.id,
    includeResourceData: false,
    latestSupportedTlsVersion: 'v1_2',
    encryptionCertificate: null,
    encryptionCertificateId: null,
    notificationUrlAppId: null,
  };
}

const entityContext = (ctx: EmulatorContext) => `${ctx.links.baseUrl}/$metadata#subscriptions/$entity`;

function requireOwn(ctx: EmulatorContext, req: GraphRequest, id: string): Subscription {
  removeExpiredSubscriptions(ctx);
  const subscription = ctx.state.subscriptions.get(id);
  if (!subscription || subscription.creator !== req.identity.name)
    throw new GraphError(404, 'ResourceNotFound', `The object was not found: subscription '${id}'.`);
  return subscription;
}

export async function createSubscription(ctx: EmulatorContext, req: GraphRequest): Promise<GraphResponse> {
  const parsed = createSchema.safeParse(req.body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(`Invalid subscription at '${issue.path.join('.')}': ${issue.message}`);
  }
  const body = parsed.data;
  const resourceMatch = /^\/?sites\/([^/]+)\/lists\/([^/]+)\/?$/i.exec(body.resource);
  if (!resourceMatch)
    throw invalid(
      `Resource '${body.resource}' is not supported: the emulator accepts sites/{site-id}/lists/{list-id}`,
    );
  const site = ctx.state.findSite(decodeURIComponent(resourceMatch[1]));
  const list = site?.findList(decodeURIComponent(resourceMatch[2]));
  if (!site || !list) throw invalid(`Resource '${body.resource}' was not found.`);
  const changeTypes = body.changeType.split(',').map((c) => c.trim());
  if (changeTypes.some((c) => c !== 'updated'))
    throw invalid(
      `ChangeType '${body.changeType}' is not supported for list resources: lists accept only 'updated'.`,
    );
  if (body.includeResourceData) throw invalid('includeResourceData is not supported for list resources.');
  checkEndpointUrl('notificationUrl', body.notificationUrl);
  if (body.lifecycleNotificationUrl)
    checkEndpointUrl('lifecycleNotificationUrl', body.lifecycleNotificationUrl);
  const expirationMs = parseExpiration(body.expirationDateTime);
  if (body.clientState && body.clientState.length > MAX_CLIENT_STATE_LENGTH)
    throw invalid(
      `clientState is ${body.clientState.length} characters; the maximum is ${MAX_CLIENT_STATE_LENGTH}.`,
    );

  await validateEndpoint('notificationUrl', body.notificationUrl);
  if (body.lifecycleNotificationUrl)
    await validateEndpoint('lifecycleNotificationUrl', body.lifecycleNotificationUrl);

  const subscription: Subscription = {
    id: newGuid(),
    resource: body.resource,
    siteId: site.id,
    listId: list.id,
    changeType: 'updated',
    notificationUrl: body.notificationUrl,
    lifecycleNotificationUrl: body.lifecycleNotificationUrl ?? undefined,
    clientState: body.clientState ?? undefined,
    expirationMs,
    creator: req.identity.name,
  };
  ctx.state.subscriptions.set(subscription.id, subscription);
  ctx.events.stateChanged();
  return jsonResponse(201, { '@odata.context': entityContext(ctx), ...render(ctx, subscription) });
}

export function listSubscriptions(ctx: EmulatorContext, req: GraphRequest): GraphResponse {
  removeExpiredSubscriptions(ctx);
  const own = [...ctx.state.subscriptions.values()].filter((s) => s.creator === req.identity.name);
  return jsonResponse(200, {
    '@odata.context': `${ctx.links.baseUrl}/$metadata#subscriptions`,
    value: own.map((s) => render(ctx, s, false)),
  });
}

export function getSubscription(ctx: EmulatorContext, req: GraphRequest, id: string): GraphResponse {
  return jsonResponse(200, {
    '@odata.context': entityContext(ctx),
    ...render(ctx, requireOwn(ctx, req, id)),
  });
}

export function renewSubscription(ctx: EmulatorContext, req: GraphRequest, id: string): GraphResponse {
  const subscription = requireOwn(ctx, req, id);
  const parsed = renewSchema.safeParse(req.body);
  if (!parsed.success)
    throw invalid('PATCH /subscriptions/{id} accepts only {"expirationDateTime": "…"} in the emulator');
  subscription.expirationMs = parseExpiration(parsed.data.expirationDateTime);
  ctx.events.stateChanged();
  return jsonResponse(200, { '@odata.context': entityContext(ctx), ...render(ctx, subscription) });
}

export function deleteSubscription(ctx: EmulatorContext, req: GraphRequest, id: string): GraphResponse {
  requireOwn(ctx, req, id);
  ctx.state.subscriptions.delete(id);
  ctx.events.stateChanged();
  return emptyResponse(204);
}

export function reauthorizeSubscription(ctx: EmulatorContext, req: GraphRequest, id: string): GraphResponse {
  requireOwn(ctx, req, id);
  return emptyResponse(204);
}
