/** Typed errors of webhook ingress and subscription upkeep; each names what was wrong and where. */

/** A notification or lifecycle body that is not the shape Graph sends (sync-model I12): answered with 400. */
export class NotificationBodyError extends Error {
  override readonly name = 'NotificationBodyError';

  constructor(
    readonly kind: 'notification' | 'lifecycle',
    readonly problems: string[],
  ) {
    super(`invalid ${kind} body: ${problems.join('; ')}`);
  }
}

/** A subscription could not be created, renewed or deleted for one definition. */
export class SubscriptionUpkeepError extends Error {
  override readonly name = 'SubscriptionUpkeepError';

  constructor(
    readonly definition: string,
    readonly action: 'create' | 'renew' | 'reauthorize' | 'delete' | 'resolve',
    readonly subscriptionId: string | null,
    options: { cause: unknown },
  ) {
    super(
      `subscription ${action} failed for definition "${definition}"` +
        (subscriptionId ? ` (subscription ${subscriptionId})` : '') +
        `: ${options.cause instanceof Error ? options.cause.message : String(options.cause)}`,
      options,
    );
  }
}
