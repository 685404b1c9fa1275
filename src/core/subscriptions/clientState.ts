import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Graph accepts up to 128 characters of clientState; 48 random bytes in base64url are 64. */
const CLIENT_STATE_BYTES = 48;

/** A fresh secret for one subscription. It is sent to Graph once and stored only as its hash. */
export function generateClientState(): string {
  return randomBytes(CLIENT_STATE_BYTES).toString('base64url');
}

/** The stored form of a clientState: SHA-256, lower-case hex. */
export function hashClientState(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Whether a received clientState is the secret behind `storedHash`. Both sides are compared as 32-byte
 * digests with `timingSafeEqual`, so the time taken says nothing about how much of the secret matched.
 */
export function clientStateMatches(received: string | undefined | null, storedHash: string): boolean {
  if (typeof received !== 'string' || !SHA256_HEX.test(storedHash)) return false;
  const receivedDigest = createHash('sha256').update(received, 'utf8').digest();
  const storedDigest = Buffer.from(storedHash, 'hex');
  return receivedDigest.length === storedDigest.length && timingSafeEqual(receivedDigest, storedDigest);
}
