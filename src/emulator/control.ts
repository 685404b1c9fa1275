/**
 * The control API: the same operations in process (EmulatorControl) and over HTTPS under
 * /_emulator/… (JSON, no auth, never under /v1.0).
 */
import { z } from 'zod';
import type { IdentityRegistry } from './auth';
import type { EmulatorContext } from './context';
import { EmulatorSetupError } from './errors';
import type { FaultInjector } from './faults';
import { valueScope } from './items';
import type { Notifier } from './notifier';
import { initialSettings, repeatShare, type ResolvedOptions } from './options';
import type { RequestRecorder } from './requestLog';
import type { ResourceUnitBudget } from './throttling';
import type { ListState, SiteState } from './state';
import { assertTimeZone, toGraphDateTime } from './time';
import { APP_ROLES, SITE_ACCESS_LEVELS, type SiteAccess } from './permissions';
import type {
  AppTokenRequest,
  DeltaErrorSpec,
  EmulatorControl,
  EmulatorItemSnapshot,
  EmulatorStats,
  FaultSpec,
  RequestLogEntry,
  ThrottlingSettings,
} from './types';
import { itemETag, toGraphFields } from './values';

export interface ControlDependencies {
  ctx: EmulatorContext;
  options: ResolvedOptions;
  identities: IdentityRegistry;
  faults: FaultInjector;
  budget: ResourceUnitBudget;
  recorder: RequestRecorder;
  notifier: Notifier;
}

const throttlingSchema = z.object({
  enabled: z.boolean(),
  resourceUnitsPerMinute: z.number().int().positive().optional(),
  resourceUnitsPerDay: z.number().int().positive().optional(),
  dayWindowSeconds: z.number().int().positive().optional(),
});
const msSchema = z.number().int().min(0);
const tokenRequestSchema = z.object({
  roles: z.array(z.enum(APP_ROLES)),
  sites: z.record(z.string(), z.enum(SITE_ACCESS_LEVELS)).optional(),
});

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new EmulatorSetupError(
      `Invalid ${what}${issue.path.length ? ` at ${issue.path.join('.')}` : ''}: ${issue.message}`,
      {
        value,
      },
    );
  }
  return parsed.data;
}

export class ControlApi implements EmulatorControl {
  constructor(private readonly deps: ControlDependencies) {}

  private get ctx(): EmulatorContext {
    return this.deps.ctx;
  }

  reset(): void {
    const { ctx, options } = this.deps;
    void this.deps.notifier.cancelAll();
    ctx.state.resetContents(options.siteTimeZones);
    this.deps.faults.clear();
    ctx.deltaErrors.clear();
    this.deps.budget.reset();
    this.deps.recorder.reset();
    Object.assign(ctx.settings, initialSettings(options));
    ctx.events.stateChanged();
  }

  issueAppToken(request: AppTokenRequest): string {
    const parsed = parse(tokenRequestSchema, request, 'token request');
    const grants = new Map<string, SiteAccess>();
    for (const [ref, level] of Object.entries(parsed.sites ?? {})) {
      const site = this.ctx.state.findSite(ref);
      if (!site) throw new EmulatorSetupError(`No site '${ref}' to grant ${level} on`, { site: ref });
      grants.set(site.id, level);
    }
    if (grants.size > 0 && !parsed.roles.includes('Sites.Selected'))
      throw new EmulatorSetupError(
        'per-site grants ("sites") take effect only with the role Sites.Selected',
        {
          roles: parsed.roles,
        },
      );
    return this.deps.identities.issueAppToken(parsed.roles, grants);
  }

  setThrottling(settings: ThrottlingSettings): void {
    const parsed = parse(throttlingSchema, settings, 'throttling settings');
    this.ctx.settings.throttlingEnabled = parsed.enabled;
    if (parsed.resourceUnitsPerMinute !== undefined)
      this.ctx.settings.resourceUnitsPerMinute = parsed.resourceUnitsPerMinute;
    if (parsed.resourceUnitsPerDay !== undefined)
      this.ctx.settings.resourceUnitsPerDay = parsed.resourceUnitsPerDay;
    if (parsed.dayWindowSeconds !== undefined) this.ctx.settings.dayWindowMs = parsed.dayWindowSeconds * 1000;
  }

  setLatency(ms: number): void {
    this.ctx.settings.latencyMs = parse(msSchema, ms, 'latency');
  }

  setNotificationDelay(ms: number): void {
    this.ctx.settings.notificationDelayMs = parse(msSchema, ms, 'notification delay');
  }

  injectFault(fault: FaultSpec): void {
    this.deps.faults.add(fault);
  }

  clearFaults(): void {
    this.deps.faults.clear();
  }

  expireDeltaTokens(): void {
    this.ctx.state.deltaEpoch++;
    this.ctx.events.stateChanged();
  }

  setDeltaRepeats(enabled: boolean | number): void {
    this.ctx.settings.deltaRepeats = repeatShare(
      parse(z.union([z.boolean(), z.number().min(0).max(1)]), enabled, 'delta repeats'),
    );
  }

  injectDeltaError(spec: DeltaErrorSpec): void {
    this.ctx.deltaErrors.add(this.ctx, spec);
  }

  clearDeltaErrors(): void {
    this.ctx.deltaErrors.clear();
  }

  triggerLifecycle(subscriptionId: string, event: 'reauthorizationRequired'): void {
    if (event !== 'reauthorizationRequired')
      throw new EmulatorSetupError(
        `Lists have only the lifecycle event reauthorizationRequired, not '${String(event)}'`,
      );
    const subscription = this.ctx.state.subscriptions.get(subscriptionId);
    if (!subscription)
      throw new EmulatorSetupError(`No subscription '${subscriptionId}'`, { subscriptionId });
    if (!subscription.lifecycleNotificationUrl)
      throw new EmulatorSetupError(`Subscription '${subscriptionId}' has no lifecycleNotificationUrl`, {
        subscriptionId,
      });
    this.deps.notifier.lifecycle(subscription, event);
  }

  stats(): EmulatorStats {
    return this.deps.recorder.stats(this.deps.budget.resourceUnitsCharged);
  }

  requestLog(): RequestLogEntry[] {
    return this.deps.recorder.log();
  }

  clearRequestLog(): void {
    this.deps.recorder.clearLog();
  }

  getSiteId(hostPath: string): string {
    const site = this.ctx.state.findSite(hostPath);
    if (!site) throw new EmulatorSetupError(`No site '${hostPath}'`, { hostPath });
    return site.id;
  }

  /** A site's list, by id or name, or the setup error naming what is missing. */
  private siteList(siteId: string, listIdOrName: string): { site: SiteState; list: ListState } {
    const site = this.ctx.state.findSite(siteId);
    if (!site) throw new EmulatorSetupError(`No site '${siteId}'`, { siteId });
    const list = site.findList(listIdOrName);
    if (!list)
      throw new EmulatorSetupError(`No list '${listIdOrName}' in site '${site.id}'`, {
        siteId,
        listIdOrName,
      });
    return { site, list };
  }

  listItems(siteId: string, listIdOrName: string): EmulatorItemSnapshot[] {
    const { site, list } = this.siteList(siteId, listIdOrName);
    const scope = valueScope(this.ctx, site, list);
    return [...list.itemsAfter(0)].map((item) => ({
      id: String(item.id),
      eTag: itemETag(item),
      createdDateTime: toGraphDateTime(item.createdMs),
      lastModifiedDateTime: toGraphDateTime(item.modifiedMs),
      fields: toGraphFields(scope, item, true, true),
    }));
  }

  restoreItem(siteId: string, listIdOrName: string, itemId: string, user: string): void {
    const { site, list } = this.siteList(siteId, listIdOrName);
    const identity = this.deps.identities.byNameOrUndefined(user);
    if (!identity) throw new EmulatorSetupError(`No identity '${user}'`, { user });
    const id = Number(itemId);
    if (!list.recycleBin.has(id) || list.item(id))
      throw new EmulatorSetupError(
        `Item '${itemId}' of list '${list.displayName}' is not in the recycle bin`,
        {
          siteId,
          listIdOrName,
          itemId,
        },
      );
    const seq = list.nextSeq();
    list.restore(id, seq, identity.name);
    list.logChange(seq, id);
    this.ctx.events.itemsChanged(site, list);
  }

  setSiteTimeZone(siteIdOrHostPath: string, timeZone: string): void {
    const site = this.ctx.state.findSite(siteIdOrHostPath);
    if (!site) throw new EmulatorSetupError(`No site '${siteIdOrHostPath}'`, { siteIdOrHostPath });
    assertTimeZone(timeZone);
    site.timeZone = timeZone;
    this.ctx.events.stateChanged();
  }

  userLookupId(name: string): number {
    const identity = this.deps.identities.byNameOrUndefined(name);
    if (!identity) throw new EmulatorSetupError(`No identity '${name}'`, { name });
    return identity.lookupId;
  }
}

export interface ControlHttpResult {
  status: number;
  body?: unknown;
}

const bodyOf = <T>(schema: z.ZodType<T>, body: unknown, what: string) => parse(schema, body, what);

/** Serves /_emulator/<path>; `path` is what follows /_emulator. */
export function handleControlHttp(
  control: EmulatorControl,
  method: string,
  path: string,
  query: URLSearchParams,
  body: unknown,
): ControlHttpResult {
  const done: ControlHttpResult = { status: 204 };
  const route = `${method} ${path}`;
  try {
    switch (route) {
      case 'POST /reset':
        control.reset();
        return done;
      case 'POST /tokens':
        return { status: 200, body: { token: control.issueAppToken(body as AppTokenRequest) } };
      case 'POST /throttling':
        control.setThrottling(bodyOf(throttlingSchema, body, 'throttling settings'));
        return done;
      case 'POST /latency':
        control.setLatency(bodyOf(z.object({ ms: msSchema }), body, 'latency').ms);
        return done;
      case 'POST /notification-delay':
        control.setNotificationDelay(bodyOf(z.object({ ms: msSchema }), body, 'notification delay').ms);
        return done;
      case 'POST /faults':
        control.injectFault(body as FaultSpec);
        return done;
      case 'DELETE /faults':
        control.clearFaults();
        return done;
      case 'POST /delta/expire':
        control.expireDeltaTokens();
        return done;
      case 'POST /delta/repeats':
        control.setDeltaRepeats(
          bodyOf(
            z.object({ enabled: z.union([z.boolean(), z.number().min(0).max(1)]) }),
            body,
            'delta repeats',
          ).enabled,
        );
        return done;
      case 'POST /delta/errors':
        control.injectDeltaError(body as DeltaErrorSpec);
        return done;
      case 'DELETE /delta/errors':
        control.clearDeltaErrors();
        return done;
      case 'GET /stats':
        return { status: 200, body: control.stats() };
      case 'GET /requests':
        return { status: 200, body: control.requestLog() };
      case 'DELETE /requests':
        control.clearRequestLog();
        return done;
      case 'GET /site-id':
        return { status: 200, body: { id: control.getSiteId(query.get('hostPath') ?? '') } };
      case 'GET /items':
        return { status: 200, body: control.listItems(query.get('siteId') ?? '', query.get('list') ?? '') };
      case 'POST /site-timezone': {
        const parsed = bodyOf(z.object({ site: z.string(), timeZone: z.string() }), body, 'site time zone');
        control.setSiteTimeZone(parsed.site, parsed.timeZone);
        return done;
      }
      case 'POST /recycle-bin/restore': {
        const parsed = bodyOf(
          z.object({ siteId: z.string(), list: z.string(), itemId: z.string(), user: z.string() }),
          body,
          'recycle-bin restore',
        );
        control.restoreItem(parsed.siteId, parsed.list, parsed.itemId, parsed.user);
        return done;
      }
      case 'GET /user-lookup-id':
        return { status: 200, body: { lookupId: control.userLookupId(query.get('name') ?? '') } };
      default:
        break;
    }
    const lifecycle = /^POST \/subscriptions\/([^/]+)\/lifecycle$/.exec(route);
    if (lifecycle) {
      const parsed = bodyOf(
        z.object({ event: z.literal('reauthorizationRequired') }),
        body,
        'lifecycle event',
      );
      control.triggerLifecycle(decodeURIComponent(lifecycle[1]), parsed.event);
      return done;
    }
    return { status: 404, body: { error: { code: 'notFound', message: `No control operation '${route}'` } } };
  } catch (error) {
    if (error instanceof EmulatorSetupError)
      return { status: 400, body: { error: { code: 'invalidRequest', message: error.message } } };
    throw error;
  }
}
