import { Client } from '@microsoft/microsoft-graph-client';
import { isCustomHost, isGraphURL } from '@microsoft/microsoft-graph-client/lib/src/GraphRequestUtil';
import fc from 'fast-check';
import { graphWireUrl, sendsToken } from '../../../../src/core/target/sharepoint/graphUrl';

/** The URL the Graph SDK's client built for a request (what the transport sent before it used undici). */
function sdkUrl(pathOrUrl: string, origin: string, version: string): string {
  const client = Client.init({
    baseUrl: origin,
    defaultVersion: version,
    authProvider: (done) => done(null, 'token'),
  });
  return (client.api(pathOrUrl) as unknown as { buildFullUrl(): string }).buildFullUrl();
}

const segment = fc.stringMatching(/^[A-Za-z0-9{}\-_.,%']{0,12}$/);
const queryKey = fc.oneof(
  fc.constantFrom('$select', '$expand', '$orderby', '$filter', '$top', '$skip', '$skipToken', '$count'),
  fc.constantFrom('token', 'deltatoken', '1', '22', 'x'),
  fc.stringMatching(/^[a-z$(]{0,6}$/),
);
const queryValue = fc.stringMatching(/^[A-Za-z0-9$()=,/ '%]{0,16}$/);
const parameter = fc.oneof(
  fc.tuple(queryKey, queryValue).map(([key, value]) => `${key}=${value}`),
  fc.stringMatching(/^[a-z()$=?]{0,8}$/),
);
const path = fc
  .tuple(
    fc.constantFrom('', '/', '//'),
    fc.array(segment, { maxLength: 5 }),
    fc.option(fc.array(parameter, { minLength: 1, maxLength: 6 }), { nil: undefined }),
  )
  .map(([lead, segments, query]) => `${lead}${segments.join('/')}${query ? `?${query.join('&')}` : ''}`);
const host = fc.constantFrom(
  'https://graph.microsoft.com',
  'https://127.0.0.1:8443',
  'https://emulator.local',
  'https://GRAPH.microsoft.us',
);
const version = fc.constantFrom('v1.0', 'beta');

describe('graphWireUrl', () => {
  it('builds the URL the Graph SDK built, for relative paths and absolute URLs', () => {
    fc.assert(
      fc.property(path, host, version, host, version, (p, origin, v, otherHost, otherVersion) => {
        expect(graphWireUrl(p, origin, v)).toBe(sdkUrl(p, origin, v));
        const absolute = `${otherHost}/${otherVersion}/${p.replace(/^\/+/, '')}`;
        expect(graphWireUrl(absolute, origin, v)).toBe(sdkUrl(absolute, origin, v));
      }),
      { numRuns: 500 },
    );
  });

  it('moves OData options first and merges repeated $select, as the SDK did', () => {
    expect(
      graphWireUrl(
        '/sites/s/lists/l/items/delta?token=latest&$select=a&$expand=fields&$select=b',
        'https://h',
        'v1.0',
      ),
    ).toBe('https://h/v1.0/sites/s/lists/l/items/delta?$select=a,b&$expand=fields&token=latest');
  });
});

describe('sendsToken', () => {
  it('attaches the token exactly where the SDK authentication handler did', () => {
    const url = fc
      .tuple(
        fc.constantFrom('https://', 'http://', 'HTTPS://', ''),
        fc.constantFrom(
          'graph.microsoft.com',
          'Graph.Microsoft.Com',
          '127.0.0.1',
          'evil.example',
          'dod-graph.microsoft.us',
        ),
        fc.constantFrom('', ':8443', ':443'),
        fc.constantFrom('', '/', '/v1.0/sites/x'),
      )
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(url, fc.constantFrom('127.0.0.1', 'graph.microsoft.com', 'emulator.local'), (u, custom) => {
        expect(sendsToken(u, custom)).toBe(isGraphURL(u) || isCustomHost(u, new Set([custom])));
      }),
      { numRuns: 300 },
    );
  });
});
