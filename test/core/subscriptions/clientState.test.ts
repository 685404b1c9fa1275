import fc from 'fast-check';
import {
  clientStateMatches,
  generateClientState,
  hashClientState,
  MAX_CLIENT_STATE_LENGTH,
} from '../../../src/core/subscriptions';

describe('clientState secrets', () => {
  it('generates distinct secrets within Graph’s 128-character limit', () => {
    const secrets = new Set(Array.from({ length: 200 }, () => generateClientState()));
    expect(secrets.size).toBe(200);
    for (const s of secrets) {
      expect(s.length).toBeLessThanOrEqual(MAX_CLIENT_STATE_LENGTH);
      expect(s).toMatch(/^[A-Za-z0-9_-]+$/);
    }
  });

  it('stores only a SHA-256 hex digest', () => {
    expect(hashClientState('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('accepts exactly the secret behind the hash', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 128 }), fc.string({ maxLength: 128 }), (secret, other) => {
        const stored = hashClientState(secret);
        expect(clientStateMatches(secret, stored)).toBe(true);
        expect(clientStateMatches(other, stored)).toBe(other === secret);
      }),
      { numRuns: 500 },
    );
  });

  it('rejects missing values and malformed stored hashes without throwing', () => {
    const stored = hashClientState('s3cret');
    expect(clientStateMatches(undefined, stored)).toBe(false);
    expect(clientStateMatches(null, stored)).toBe(false);
    expect(clientStateMatches('s3cret', 'not-a-hash')).toBe(false);
    expect(clientStateMatches('s3cret', stored.slice(0, 62))).toBe(false);
    expect(clientStateMatches('s3cret', stored.toUpperCase())).toBe(false);
  });
});
