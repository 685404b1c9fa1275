import { createHash, randomUUID } from 'node:crypto';

/** A random GUID, lower case, as Graph prints most ids. */
export function newGuid(): string {
  return randomUUID();
}

/**
 * A GUID derived from a name, so that a site configured as `contoso.sharepoint.com:/sites/demo` keeps
 * the same composite id across restarts (clients keep site ids in configuration).
 */
export function guidFromName(name: string): string {
  const hex = createHash('sha1').update(name).digest('hex');
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function isGuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
