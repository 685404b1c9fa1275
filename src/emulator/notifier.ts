/**
 * Change-notification delivery. Changes to a subscribed list collapse per subscription over a
 * window (a seeded random delay, or a fixed `notificationDelayMs`), and the notifications due for
 * one notificationUrl go out in one POST with several entries, as Graph batches them
 * (https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks: "one POST may
 * contain several notifications"). A receiver that does not answer 2xx within 3 s is retried with
 * exponential backoff until `notificationRetryWindowMs` has passed, then dropped.
 */
import type { RuntimeSettings } from './context';
import type { SeededRandom } from './random';
import type { RequestRecorder } from './requestLog';
import type { EmulatorState, ListState, SiteState, Subscription } from './state';

export const DELIVERY_TIMEOUT_MS = 3000;
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 60_000;

export interface ChangeNotification {
  subscriptionId: string;
  clientState: string | null;
  changeType: 'updated';
  resource: string;
  tenantId: string;
  subscriptionExpirationDateTime: string;
  resourceData: { '@odata.type': '#Microsoft.Graph.ListItem' };
}

export interface LifecycleNotification {
  subscriptionId: string;
  subscriptionExpirationDateTime: string;
  tenantId: string;
  clientState: string | null;
  lifecycleEvent: 'reauthorizationRequired';
}

export class Notifier {
  private pending = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<Promise<void>>();
  private abort = new AbortController();

  constructor(
    private readonly state: EmulatorState,
    private readonly settings: RuntimeSettings,
    private readonly recorder: RequestRecorder,
    private readonly random: SeededRandom,
  ) {}

  private delayMs(): number {
    const fixed = this.settings.notificationDelayMs;
    if (fixed !== undefined) return fixed;
    const [min, max] = this.settings.notificationDelayRangeMs;
    return this.random.between(min, max);
  }

  listChanged(_site: SiteState, list: ListState): void {
    const now = Date.now();
    for (const subscription of this.state.subscriptions.values())
      if (subscription.listId === list.id && subscription.expirationMs > now)
        this.pending.add(subscription.id);
    if (this.pending.size > 0 && !this.flushTimer) {
      this.flushTimer = setTimeout(() => this.flush(), this.delayMs());
      this.flushTimer.unref();
    }
  }

  private flush(): void {
    this.flushTimer = undefined;
    const ids = [...this.pending];
    this.pending.clear();
    const now = Date.now();
    const byUrl = new Map<string, ChangeNotification[]>();
    for (const id of ids) {
      const subscription = this.state.subscriptions.get(id);
      if (!subscription || subscription.expirationMs <= now) continue;
      const batch = byUrl.get(subscription.notificationUrl) ?? [];
      batch.push(this.changeNotification(subscription));
      byUrl.set(subscription.notificationUrl, batch);
    }
    for (const [url, value] of byUrl) this.deliver(url, { value });
  }

  private changeNotification(subscription: Subscription): ChangeNotification {
    const site = this.state.sites.get(subscription.siteId);
    return {
      subscriptionId: subscription.id,
      clientState: subscription.clientState ?? null,
      changeType: 'updated',
      resource: `/sites/${site?.collectionId ?? subscription.siteId}/lists/${subscription.listId}`,
      tenantId: this.state.tenantId,
      subscriptionExpirationDateTime: new Date(subscription.expirationMs).toISOString(),
      resourceData: { '@odata.type': '#Microsoft.Graph.ListItem' },
    };
  }

  /** Sends `reauthorizationRequired` to the subscription's lifecycleNotificationUrl. */
  lifecycle(subscription: Subscription, event: 'reauthorizationRequired'): void {
    if (!subscription.lifecycleNotificationUrl) return;
    const notification: LifecycleNotification = {
      subscriptionId: subscription.id,
      subscriptionExpirationDateTime: new Date(subscription.expirationMs).toISOString(),
      tenantId: this.state.tenantId,
      clientState: subscription.clientState ?? null,
      lifecycleEvent: event,
    };
    this.deliver(subscription.lifecycleNotificationUrl, { value: [notification] });
  }

  private deliver(url: string, payload: unknown): void {
    this.attempt(url, JSON.stringify(payload), Date.now(), 0);
  }

  private attempt(url: string, body: string, firstAttemptMs: number, attempt: number): void {
    const signal = this.abort.signal;
    const run = (async () => {
      const delivered = await this.post(url, body, signal);
      if (signal.aborted) return;
      if (delivered) {
        this.recorder.notificationsSent++;
        return;
      }
      const backoff = Math.min(FIRST_BACKOFF_MS * 2 ** attempt, MAX_BACKOFF_MS);
      if (Date.now() + backoff - firstAttemptMs > this.settings.notificationRetryWindowMs) {
        this.recorder.notificationsFailed++;
        return;
      }
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        this.attempt(url, body, firstAttemptMs, attempt + 1);
      }, backoff);
      timer.unref();
      this.retryTimers.add(timer);
    })();
    this.inflight.add(run);
    void run.finally(() => this.inflight.delete(run));
  }

  private async post(url: string, body: string, stop: AbortSignal): Promise<boolean> {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json; charset=utf-8' },
        body,
        signal: AbortSignal.any([stop, AbortSignal.timeout(DELIVERY_TIMEOUT_MS)]),
      });
      await response.arrayBuffer().catch(() => undefined);
      return response.status >= 200 && response.status < 300;
    } catch {
      return false;
    }
  }

  /** Cancels pending and retried deliveries (control reset, stop). */
  async cancelAll(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.pending.clear();
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    this.abort.abort();
    this.abort = new AbortController();
    await Promise.allSettled([...this.inflight]);
  }
}
