import fc from 'fast-check';
import { headerReader } from '../../../../src/core/target/sharepoint/batchWriter';
import { resourceUnitsFor } from '../../../../src/core/target/sharepoint/pacing';

/** resourceUnitsFor before its shortcut for writes. */
function unitsByParsing(method: string, url: string): number {
  const { pathname, searchParams } = new URL(url, 'https://graph.invalid');
  if (/\/subscriptions(\/|$)/i.test(pathname)) return 0;
  if (method.toUpperCase() !== 'GET') return 2;
  if (/\/delta$/i.test(pathname)) return searchParams.has('token') ? 1 : 2;
  const lastSegment = pathname.split('/').filter(Boolean).pop() ?? '';
  return ['items', 'lists', 'columns', 'subscriptions', 'sites'].includes(lastSegment) ? 2 : 1;
}

const segment = fc.constantFrom(
  'sites',
  'lists',
  'items',
  'subscriptions',
  'SUBSCRIPTIONS',
  'Subscriptions',
  'subscriptionsX',
  '%73ubscriptions',
  'delta',
  '$batch',
  'columns',
  'x',
  '',
  '7',
  'fields',
  '..',
  '%2F',
);
const url = fc
  .tuple(
    fc.constantFrom('https://graph.microsoft.com/v1.0', 'https://127.0.0.1:8443/v1.0', '', '/'),
    fc.array(segment, { maxLength: 6 }),
    fc.constantFrom('', '?token=x', '?$select=subscriptions', '#subscriptions', '?a=1&token=2'),
  )
  .map(([base, segments, query]) => `${base}/${segments.join('/')}${query}`);

describe('hot-path shortcuts', () => {
  it('resourceUnitsFor equals the URL-parsing version for every method', () => {
    fc.assert(
      fc.property(fc.constantFrom('GET', 'get', 'POST', 'PATCH', 'DELETE', 'post'), url, (method, u) => {
        // The transport only prices URLs it is about to send (absolute, so they parse); '//' and the like
        // made the old version throw, and are never sent.
        fc.pre(URL.canParse(u, 'https://graph.invalid'));
        expect(resourceUnitsFor(method, u)).toBe(unitsByParsing(method, u));
      }),
      { numRuns: 1_000 },
    );
  });

  it('headerReader reads an inner response header as new Headers(record).get did', () => {
    const name = fc.constantFrom(
      'RateLimit-Remaining',
      'ratelimit-remaining',
      'RATELIMIT-LIMIT',
      'Retry-After',
      'x-a',
    );
    const value = fc.oneof(fc.stringMatching(/^[0-9a-z]{0,6}$/), fc.constantFrom('12', '0', '1.5'));
    fc.assert(
      fc.property(fc.dictionary(name, value), name, (record, wanted) =>
        expect(headerReader(record).get(wanted)).toBe(new Headers(record).get(wanted)),
      ),
      { numRuns: 500 },
    );
  });
});
