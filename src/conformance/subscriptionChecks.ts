/**
 * Subscription checks in the engine's own form, through its SharePointTarget: the subscription subscription upkeep
 * creates (its lifetime, its clientState, the deployment's lifecycle URL, which Graph validates as it does the
 * notification URL), the list upkeep reads first (a live subscription Graph does not list is taken for gone and
 * replaced), and the reauthorization a lifecycle event asks for. The hand-built `subscription.*` checks (checks.ts)
 * pass where these can fail: they send neither the lifecycle URL nor the engine's lifetime.
 */
import {
  generateClientState,
  RENEW_WHEN_REMAINING_MINUTES,
  storedNotificationUrl,
  SUBSCRIPTION_LIFETIME_MINUTES,
} from '../core/subscriptions';
import type { Check, ProbeContext } from './context';
import { fail, pass, skip } from './types';

const DOCS = 'https://learn.microsoft.com/en-us/graph/api';

const describeError = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The engine-form subscription created by `subscription.engineForm`, for the checks after it. */
const ENGINE_SUBSCRIPTION = 'engineSubscription';

const inLifetime = () => new Date(Date.now() + SUBSCRIPTION_LIFETIME_MINUTES * 60_000).toISOString();

function engineSubscription(ctx: ProbeContext): string | undefined {
  return ctx.items.get(ENGINE_SUBSCRIPTION);
}

export const ENGINE_SUBSCRIPTIONS: Check[] = [
  {
    name: 'subscription.engineForm',
    source: `${DOCS}/subscription-post-subscriptions`,
    async run(ctx) {
      const notificationUrl = ctx.options.notificationUrl;
      if (!notificationUrl)
        return skip('no notification URL (set WEBHOOK_NOTIFICATION_URL or --notification-url)');
      if (!ctx.listId) return skip('the scratch list could not be created (see permission.manageLists)');
      const { target, siteId, listId } = ctx.engineList();
      const lifecycleNotificationUrl = ctx.options.lifecycleNotificationUrl;
      const carries = lifecycleNotificationUrl
        ? `with the lifecycleNotificationUrl ${lifecycleNotificationUrl}`
        : 'without a lifecycleNotificationUrl (WEBHOOK_LIFECYCLE_URL and --lifecycle-url are unset)';
      let created;
      try {
        created = await target.createSubscription({
          resource: `sites/${siteId}/lists/${listId}`,
          notificationUrl,
          ...(lifecycleNotificationUrl ? { lifecycleNotificationUrl } : {}),
          clientState: generateClientState(),
          expirationDateTime: inLifetime(),
        });
      } catch (error) {
        return fail(
          `the engine's subscription (${SUBSCRIPTION_LIFETIME_MINUTES} minutes, ${carries}) was refused: ` +
            `${describeError(error)}. Subscription upkeep would fail the same way: SharePoint changes reach ` +
            'Postgres only when a pull runs. Graph validates the lifecycle URL as it does the notification URL',
        );
      }
      ctx.subscriptionIds.add(created.id);
      const remainingMinutes = (Date.parse(created.expirationDateTime) - Date.now()) / 60_000;
      // Upkeep stores Graph's expiry and renews once less than a third of the lifetime remains.
      if (!(remainingMinutes >= RENEW_WHEN_REMAINING_MINUTES))
        return fail(
          `created, but Graph set its expiry to ${created.expirationDateTime} (${Math.round(remainingMinutes)} ` +
            `minutes), under the ${RENEW_WHEN_REMAINING_MINUTES} at which upkeep renews: it would renew on every tick`,
        );
      try {
        await target.renewSubscription(created.id, inLifetime());
      } catch (error) {
        return fail(
          `created, but its renewal for another ${SUBSCRIPTION_LIFETIME_MINUTES} minutes failed: ${describeError(error)}`,
        );
      }
      ctx.items.set(ENGINE_SUBSCRIPTION, created.id);
      return pass(
        `created for ${SUBSCRIPTION_LIFETIME_MINUTES} minutes ${carries.replace('with the', 'with its')} (both ` +
          'URLs validated), and renewed for as long',
      );
    },
  },
  {
    name: 'subscription.listedByApp',
    source: `${DOCS}/subscription-list`,
    async run(ctx) {
      const id = engineSubscription(ctx);
      if (!id) return skip('no subscription in the engine form (subscription.engineForm)');
      const { target } = ctx.engineList();
      const listed = (await target.listSubscriptions()).find((s) => s.id === id);
      if (!listed)
        return fail(
          `GET /subscriptions does not list the app's subscription ${id}: upkeep reads that list first and takes a ` +
            'subscription it does not list for deleted at Graph, so every upkeep would create another one and pull the list again',
        );
      const sent = storedNotificationUrl(ctx.options.notificationUrl ?? '');
      return storedNotificationUrl(listed.notificationUrl) === sent
        ? pass(`GET /subscriptions lists ${id} with the notificationUrl as sent`)
        : fail(
            `GET /subscriptions lists ${id} with the notificationUrl ${listed.notificationUrl}, not the one sent: ` +
              "upkeep's orphan sweep would never recognise (nor delete) a subscription of this deployment",
          );
    },
  },
  {
    name: 'subscription.reauthorize',
    source: 'https://learn.microsoft.com/en-us/graph/api/subscription-reauthorize',
    async run(ctx) {
      const id = engineSubscription(ctx);
      if (!id) return skip('no subscription in the engine form (subscription.engineForm)');
      const { target } = ctx.engineList();
      try {
        await target.reauthorizeSubscription(id);
      } catch (error) {
        return fail(
          `POST /subscriptions/${id}/reauthorize failed: ${describeError(error)}. A reauthorizationRequired ` +
            'lifecycle event then falls back to a renewal, and to a new subscription if that fails too',
        );
      }
      try {
        await target.deleteSubscription(id);
        ctx.subscriptionIds.delete(id);
      } catch (error) {
        return fail(`reauthorized, but its delete failed: ${describeError(error)}`);
      }
      return pass('reauthorized (what a reauthorizationRequired lifecycle event asks for), then deleted');
    },
  },
];
