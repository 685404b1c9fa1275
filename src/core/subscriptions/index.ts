export {
  acceptNotifications,
  type AcceptResult,
  type IgnoredNotification,
  type PullRequest,
} from './acceptNotifications';
export { clientStateMatches, generateClientState, hashClientState } from './clientState';
export {
  createSubscriptionFor,
  ensureSubscriptions,
  removeSubscription,
  renewSubscription,
  RENEW_WHEN_REMAINING_MINUTES,
  SUBSCRIPTION_LIFETIME_MINUTES,
  type EnsureSubscriptionsOptions,
  type EnsureSubscriptionsResult,
  type SubscriptionAction,
  type SubscriptionActionKind,
  type SubscriptionUrls,
} from './ensureSubscriptions';
export { NotificationBodyError, SubscriptionUpkeepError } from './errors';
export {
  handleLifecycle,
  type LifecycleAction,
  type LifecycleOptions,
  type LifecycleResult,
} from './lifecycle';
export { storedNotificationUrl } from './notificationUrl';
export {
  claimPendingPull,
  markPullPending,
  owePulls,
  releasePulls,
  requestPull,
  requestPulls,
  STALE_PENDING_PULL_SECONDS,
  takeOwedPulls,
  type WantedPull,
} from './pendingPulls';
export {
  changeNotificationSchema,
  lifecycleNotificationSchema,
  MAX_CLIENT_STATE_LENGTH,
  MAX_NOTIFICATION_BODY_BYTES,
  MAX_NOTIFICATIONS_PER_BODY,
  MAX_VALIDATION_TOKEN_LENGTH,
  notificationBodySchema,
  type ChangeNotification,
  type LifecycleEvent,
  type LifecycleNotification,
} from './schemas';
export { listStoredSubscriptions, getStoredSubscription, type StoredSubscription } from './store';
