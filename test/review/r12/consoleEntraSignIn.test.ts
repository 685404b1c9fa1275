import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/*
 * Static check (Bicep cannot be compiled or deployed here; test/infra reads the templates as text the same way).
 * README: the Functions app serves the console at /api/console/ and "every page reads and acts only through the
 * ops API (same authentication: Microsoft Entra sign-in in Azure)". In OPS_AUTH=entra (the Azure default):
 * - authsettingsV2 answers every unauthenticated request to a path other than Graph's two with 401
 *   (`unauthenticatedClientAction: 'Return401'`), so a browser opening /api/console/ is never sent to sign in;
 * - the ops app registration (entra.bicep and scripts/create-ops-app.sh) declares no web redirect URI
 *   (`https://<app>/.auth/login/aad/callback`) and no ID-token issuance, so /.auth/login/aad cannot complete
 *   (AADSTS50011) even for an operator who knows to go there;
 * - the console's own fetches send no bearer token (only `x-functions-key`), and on 401 show the error only.
 * An operator holding Ops.Write therefore cannot use the console in Azure at all.
 */
const ROOT = resolve(__dirname, '../../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

describe('r12: the console in Azure with OPS_AUTH=entra', () => {
  it('lets a browser sign in: a login redirect for the console, and a redirect URI for Easy Auth on the app', () => {
    const functionApp = read('infra/app/functionapp.bicep');
    const entra = read('infra/app/entra.bicep');
    const script = read('scripts/create-ops-app.sh');
    const console = read('src/console/web/app.js');

    const browserIsSentToSignIn =
      /unauthenticatedClientAction:\s*'RedirectToLoginPage'/.test(functionApp) ||
      /\.auth\/login\/aad/.test(console);
    const registrationAcceptsEasyAuthCallback =
      /\.auth\/login\/aad\/callback/.test(entra) && /\.auth\/login\/aad\/callback/.test(script);

    expect({ browserIsSentToSignIn, registrationAcceptsEasyAuthCallback }).toEqual({
      browserIsSentToSignIn: true,
      registrationAcceptsEasyAuthCallback: true,
    });
  });
});
