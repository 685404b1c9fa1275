import { renderSite, resolveSite } from '../../src/emulator/sites';
import { EmulatorState } from '../../src/emulator/state';
import {
  DEMO_SITE,
  startTestEmulator,
  type EntityShape,
  type ErrorShape,
  type PageShape,
  type TestEmulator,
} from './support';

describe('sites', () => {
  let t: TestEmulator;
  beforeAll(async () => {
    t = await startTestEmulator({ sites: [DEMO_SITE, 'contoso.sharepoint.com:/sites/ops'] });
  });
  afterAll(() => t.stop());

  it('gets a site by host:/path with id, displayName, name and webUrl', async () => {
    const answer = await t.graph<EntityShape>('GET', '/sites/contoso.sharepoint.com:/sites/demo');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      id: t.siteId,
      name: 'demo',
      displayName: 'Demo',
      webUrl: 'https://contoso.sharepoint.com/sites/demo',
    });
    expect(answer.body.id).toMatch(/^contoso\.sharepoint\.com,[0-9a-f-]{36},[0-9a-f-]{36}$/);
  });

  it('gets the same site by composite id, and lists through host:/path:/lists', async () => {
    const byId = await t.graph<EntityShape>('GET', `/sites/${t.siteId}`);
    expect(byId.body.webUrl).toBe('https://contoso.sharepoint.com/sites/demo');
    await t.createList('Addressed');
    const lists = await t.graph<PageShape<EntityShape>>(
      'GET',
      '/sites/contoso.sharepoint.com:/sites/demo:/lists',
    );
    expect(lists.status).toBe(200);
    expect(lists.body.value.map((l) => l.displayName)).toContain('Addressed');
  });

  it('serves every configured site with its own id', async () => {
    const ops = await t.graph<EntityShape>('GET', '/sites/contoso.sharepoint.com:/sites/ops');
    expect(ops.status).toBe(200);
    expect(ops.body.id).not.toBe(t.siteId);
    expect(ops.body.id).toBe(t.emulator.control.getSiteId('contoso.sharepoint.com:/sites/ops'));
  });

  it('answers 404 itemNotFound for an unknown site', async () => {
    const answer = await t.graph<ErrorShape>('GET', '/sites/contoso.sharepoint.com:/sites/nowhere');
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('itemNotFound');
  });

  it('derives stable composite ids from host and path', () => {
    const a = new EmulatorState('t', [DEMO_SITE], {});
    const b = new EmulatorState('t', [DEMO_SITE], {});
    expect([...a.sites.keys()]).toEqual([...b.sites.keys()]);
    const site = [...a.sites.values()][0];
    expect(a.findSite(site.collectionId)).toBe(site);
    expect(renderSite(site)).toMatchObject({ siteCollection: { hostname: 'contoso.sharepoint.com' } });
    expect(() =>
      resolveSite({ state: a } as unknown as Parameters<typeof resolveSite>[0], 'other.sharepoint.com:/x'),
    ).toThrow(/could not be found/);
  });
});
