import { createHash } from 'node:crypto';

/**
 * The form in which a notification URL is stored in `graph_subscriptions`: the function key (`code`
 * query parameter) replaced by a fingerprint. The key stays out of the metadata store, yet a rotated key
 * or a moved endpoint still shows up as "a different URL" and the subscription is recreated.
 */
export function storedNotificationUrl(url: string): string {
  try {
    const parsed = new URL(url);
    for (const key of [...parsed.searchParams.keys()]) {
      if (key.toLowerCase() === 'code') {
        const value = parsed.searchParams.get(key) ?? '';
        const fingerprint = createHash('sha256').update(value).digest('hex').slice(0, 16);
        parsed.searchParams.set(key, `sha256-${fingerprint}`);
      }
    }
    return parsed.toString();
  } catch {
    return url;
  }
}
