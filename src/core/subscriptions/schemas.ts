import { z } from 'zod';

/**
 * The bodies Graph POSTs to our endpoints (graph.md "Change notifications"). The outer shape must be
 * right or the whole body is rejected (400); each entry is then checked on its own so that one bad
 * entry never costs the valid ones next to it (sync-model I12).
 */

/** Larger bodies are refused before they are parsed (413). Graph's batches are far smaller. */
export const MAX_NOTIFICATION_BODY_BYTES = 1024 * 1024;
/** Entries per body; a 1 MB body holds roughly 3,000 real notifications. */
export const MAX_NOTIFICATIONS_PER_BODY = 5000;
/** Graph's own limit on clientState; a longer one cannot be ours. */
export const MAX_CLIENT_STATE_LENGTH = 128;
/** Longest validation token we echo (Graph's are a few hundred characters). */
export const MAX_VALIDATION_TOKEN_LENGTH = 8192;

const subscriptionId = z.string().min(1).max(128);

export const notificationBodySchema = z.object({
  value: z.array(z.unknown()).max(MAX_NOTIFICATIONS_PER_BODY),
});

export const changeNotificationSchema = z.object({
  subscriptionId,
  clientState: z.string().max(MAX_CLIENT_STATE_LENGTH).optional(),
  changeType: z.string().max(64),
  resource: z.string().max(2048),
  tenantId: z.string().max(128).optional(),
  subscriptionExpirationDateTime: z.string().max(64).optional(),
});

export type ChangeNotification = z.output<typeof changeNotificationSchema>;

export const lifecycleEventSchema = z.enum(['reauthorizationRequired', 'subscriptionRemoved', 'missed']);
export type LifecycleEvent = z.output<typeof lifecycleEventSchema>;

export const lifecycleNotificationSchema = z.object({
  subscriptionId,
  lifecycleEvent: lifecycleEventSchema,
  clientState: z.string().max(MAX_CLIENT_STATE_LENGTH).optional(),
  resource: z.string().max(2048).optional(),
  tenantId: z.string().max(128).optional(),
  subscriptionExpirationDateTime: z.string().max(64).optional(),
});

export type LifecycleNotification = z.output<typeof lifecycleNotificationSchema>;

/** Turns zod issues into short `path: message` strings for error bodies and logs. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.slice(0, 10).map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`);
}
