import { IdentityRegistry, identitySet } from '../../src/emulator/auth';
import {
  startTestEmulator,
  type EntityShape,
  type ErrorShape,
  type ListItemShape,
  type TestEmulator,
} from './support';

describe('IdentityRegistry', () => {
  it('maps bearer tokens to the application and named users, each with a hidden-user-list row id', () => {
    const registry = new IdentityRegistry('contoso.onmicrosoft.com', ['alice', 'bob']);
    const alice = registry.byNameOrUndefined('alice')!;
    expect(registry.fromAuthorization(`Bearer ${registry.app.token}`)).toBe(registry.app);
    expect(registry.fromAuthorization(`bearer ${alice.token}`)).toBe(alice);
    expect(registry.fromAuthorization('Bearer nope')).toBeUndefined();
    expect(registry.fromAuthorization(undefined)).toBeUndefined();
    expect(registry.fromAuthorization(alice.token)).toBeUndefined();
    expect(
      new Set([registry.app.lookupId, alice.lookupId, registry.byNameOrUndefined('bob')!.lookupId]).size,
    ).toBe(3);
    expect(registry.byLookup(alice.lookupId)).toBe(alice);
  });

  it('keeps tokens it is seeded with, so a restarted emulator honours old env files', () => {
    const first = new IdentityRegistry('contoso.onmicrosoft.com', ['alice']);
    const second = new IdentityRegistry('contoso.onmicrosoft.com', ['alice'], first.seed());
    expect(second.app.token).toBe(first.app.token);
    expect(second.byNameOrUndefined('alice')!.token).toBe(first.byNameOrUndefined('alice')!.token);
  });

  it('shows app-only writes as application plus the SharePoint App user, users as user', () => {
    const registry = new IdentityRegistry('contoso.onmicrosoft.com', ['alice']);
    expect(identitySet(registry.app)).toEqual({
      application: { id: registry.app.id, displayName: 'ArcoreSyncBridge' },
      user: { displayName: 'SharePoint App' },
    });
    expect(identitySet(registry.byNameOrUndefined('alice')!)).toEqual({
      user: { id: expect.any(String), displayName: 'Alice', email: 'alice@contoso.onmicrosoft.com' },
    });
  });
});

describe('authentication over HTTPS', () => {
  let t: TestEmulator;
  beforeAll(async () => {
    t = await startTestEmulator();
  });
  afterAll(() => t.stop());

  it('answers 401 InvalidAuthenticationToken with a Graph error when the bearer token is missing', async () => {
    const answer = await t.graph<ErrorShape>('GET', `/sites/${t.siteId}`, {
      token: null,
      headers: { 'client-request-id': 'c-1' },
    });
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual({
      error: {
        code: 'InvalidAuthenticationToken',
        message: 'Access token is empty.',
        innerError: {
          date: expect.any(String),
          'request-id': expect.any(String),
          'client-request-id': 'c-1',
        },
      },
    });
    expect(answer.headers.get('request-id')).toBe(answer.body.error.innerError['request-id']);
  });

  it('answers 401 for an unknown token, and logs the attempt without identity', async () => {
    const answer = await t.graph<ErrorShape>('GET', `/sites/${t.siteId}`, { token: 'forged' });
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe('InvalidAuthenticationToken');
    const logged = t.emulator.control.requestLog().filter((e) => e.status === 401);
    expect(logged.at(-1)).toMatchObject({ identity: null, path: `/sites/${t.siteId}` });
    expect(logged.at(-1)!.headers.authorization).toBeUndefined();
  });

  it('records who wrote an item: application for the app token, the user for a user token', async () => {
    const listId = await t.createList('Owners');
    const created = await t.graph<ListItemShape>('POST', `/sites/${t.siteId}/lists/${listId}/items`, {
      body: { fields: { Title: 'by app' } },
    });
    expect(created.body.createdBy).toMatchObject({ application: { displayName: 'ArcoreSyncBridge' } });
    const edited = await t.graph<Record<string, string>>(
      'PATCH',
      `/sites/${t.siteId}/lists/${listId}/items/${created.body.id}/fields`,
      { token: t.emulator.userToken('alice'), body: { Title: 'by alice' } },
    );
    expect(edited.status).toBe(200);
    expect(edited.body.AuthorLookupId).toBe(String(t.emulator.control.userLookupId('app')));
    expect(edited.body.EditorLookupId).toBe(String(t.emulator.control.userLookupId('alice')));
    expect(edited.body.AppAuthorLookupId).toBe(String(t.emulator.control.userLookupId('app')));
    expect(edited.body.AppEditorLookupId).toBeUndefined();
    const item = await t.graph<ListItemShape>(
      'GET',
      `/sites/${t.siteId}/lists/${listId}/items/${created.body.id}`,
    );
    expect(item.body.lastModifiedBy).toEqual({
      user: { id: expect.any(String), displayName: 'Alice', email: 'alice@contoso.onmicrosoft.com' },
    });
    expect(item.body.createdBy).toHaveProperty('application');
  });

  it('refuses userToken for names that are not users', () => {
    expect(() => t.emulator.userToken('mallory')).toThrow(/No user 'mallory'/);
    expect(() => t.emulator.userToken('app')).toThrow(/No user 'app'/);
  });

  it('answers 400 for paths outside /v1.0 and for bodies that are not JSON', async () => {
    const wrongVersion = await t.graph<ErrorShape>('GET', `${t.emulator.origin}/beta/sites/${t.siteId}`);
    expect(wrongVersion.status).toBe(400);
    expect(wrongVersion.body.error.message).toMatch(/Invalid version: beta/);
    const response = await fetch(`${t.emulator.baseUrl}/sites/${t.siteId}/lists`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.emulator.appToken}`, 'content-type': 'application/json' },
      body: '{not json',
      dispatcher: t.dispatcher,
    } as RequestInit);
    expect(response.status).toBe(400);
    expect(((await response.json()) as ErrorShape).error.message).toMatch(/Unable to read JSON/);
  });

  it('serves the site to the Graph SDK, which sends the token only to customHosts', async () => {
    const site = (await t.sdk().api(`/sites/${t.siteId}`).get()) as EntityShape;
    expect(site.id).toBe(t.siteId);
  });
});
