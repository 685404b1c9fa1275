import { GraphError } from '../../src/emulator/errors';
import { matchRoute } from '../../src/emulator/router';

describe('router', () => {
  const site =
    'contoso.sharepoint.com,11111111-1111-1111-1111-111111111111,22222222-2222-2222-2222-222222222222';

  it('names routes for the stats and extracts parameters, decoding segments', () => {
    const match = matchRoute('GET', `/sites/${site}/lists/My%20List/items/7`);
    expect(match.route.template).toBe('/sites/{site}/lists/{list}/items/{item}');
    expect(match.params).toEqual({ site, list: 'My List', item: '7' });
    expect(matchRoute('PATCH', `/sites/${site}/lists/L/items/7/fields`).route.template).toBe(
      '/sites/{site}/lists/{list}/items/{item}/fields',
    );
  });

  it('addresses sites by host:/path, with or without a trailing :/rest', () => {
    expect(matchRoute('GET', '/sites/contoso.sharepoint.com:/sites/demo').params.site).toBe(
      'contoso.sharepoint.com:/sites/demo',
    );
    const lists = matchRoute('GET', '/sites/contoso.sharepoint.com:/sites/demo:/lists');
    expect(lists.route.template).toBe('/sites/{site}/lists');
    expect(lists.params.site).toBe('contoso.sharepoint.com:/sites/demo');
  });

  it('prefers items/delta (and delta()) over an item id', () => {
    expect(matchRoute('GET', `/sites/${site}/lists/L/items/delta`).route.template).toMatch(/items\/delta$/);
    expect(matchRoute('GET', `/sites/${site}/lists/L/items/delta()`).route.template).toMatch(/items\/delta$/);
  });

  it('charges resource units per route', () => {
    const req = (query: string) =>
      ({ query: new URLSearchParams(query) }) as Parameters<
        ReturnType<typeof matchRoute>['route']['cost']
      >[0];
    const delta = matchRoute('GET', `/sites/${site}/lists/L/items/delta`).route;
    expect(delta.cost(req(''))).toBe(2);
    expect(delta.cost(req('token=abc'))).toBe(1);
    expect(matchRoute('POST', '/$batch').route.cost(req(''))).toBe(0);
    expect(matchRoute('DELETE', `/sites/${site}/lists/L/items/1`).route.cost(req(''))).toBe(2);
  });

  it('answers 400 for unknown segments and 405 for a wrong method', () => {
    expect(() => matchRoute('GET', '/me')).toThrow(GraphError);
    try {
      matchRoute('GET', '/nothing/here');
    } catch (error) {
      expect(error).toMatchObject({ status: 400, message: "Resource not found for the segment 'nothing'." });
    }
    try {
      matchRoute('PUT', `/sites/${site}/lists`);
    } catch (error) {
      expect(error).toMatchObject({ status: 405 });
    }
    expect.assertions(3);
  });
});
