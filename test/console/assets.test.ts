import { consoleAsset } from '../../src/console/assets';

/**
 * The console's files are a fixed list (src/console/manifest.json): any other path below /console/ is a 404 that
 * names it, whatever the name, including the names every JavaScript object inherits.
 */
describe('consoleAsset', () => {
  it('serves a vendored library by its manifest name, with the console headers', () => {
    const asset = consoleAsset('vendor/preact.js');
    expect(asset.status).toBe(200);
    expect(asset.headers['Content-Type']).toBe('text/javascript; charset=utf-8');
    expect(asset.headers['Content-Security-Policy']).toContain("frame-ancestors 'none'");
    expect(asset.headers['X-Content-Type-Options']).toBe('nosniff');
  });

  it.each([
    'vendor/constructor',
    'vendor/__proto__',
    'vendor/toString',
    'vendor/hasOwnProperty',
    'constructor',
  ])('answers 404 for %s, a name objects inherit, instead of throwing (a 500)', (path) => {
    const asset = consoleAsset(path);
    expect(asset.status).toBe(404);
    expect(asset.body).toBe(`no console file ${path}`);
    expect(asset.headers['X-Content-Type-Options']).toBe('nosniff');
  });
});
