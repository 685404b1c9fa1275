import './bootstrap';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { consoleAsset } from '../console/assets';
import { entraSignInUrl, opsAuthMode, parseClientPrincipal, type OpsAuthMode } from './opsAuth';

/**
 * The web console's files (HTML, one ES module, styles, vendored libraries). They hold no data: the page reads
 * and acts only through the ops API, which carries the authentication. In Azure with `OPS_AUTH=entra`, App
 * Service Authentication lets unauthenticated requests through to the code (infra/app/functionapp.bicep), so
 * a browser opening the page without a sign-in is sent to Microsoft Entra's sign-in (/.auth/login/aad) and
 * comes back here; the session cookie then authenticates the page's calls to the ops API (docs/security.md).
 * The route itself is anonymous: the sign-in, not a function key, protects what the page can see.
 */
export async function consoleFiles(request: HttpRequest): Promise<HttpResponseInit> {
  if (request.method !== 'GET' && request.method !== 'HEAD')
    return { status: 405, headers: { Allow: 'GET, HEAD' }, body: 'the console is read with GET' };
  const path = request.params.path ?? '';
  // `/api/console` reaches this route too (its catch-all matches nothing), but the page's files are relative:
  // from there `app.js` would be `/api/app.js`, which nothing serves. The local host redirects the same way.
  const url = new URL(request.url);
  if (path === '' && !url.pathname.endsWith('/'))
    return { status: 308, headers: { Location: `${url.pathname}/${url.search}` }, body: '' };
  if (isPage(path) && modeOrNull() === 'entra' && !signedIn(request)) {
    return {
      status: 302,
      headers: { Location: entraSignInUrl(), 'Cache-Control': 'no-store' },
      body: '',
    };
  }
  const asset = consoleAsset(path);
  return { status: asset.status, headers: asset.headers, body: request.method === 'HEAD' ? '' : asset.body };
}

/** The page itself; its scripts and styles are public code and need no sign-in. */
function isPage(path: string): boolean {
  const name = path.replace(/^\/+/, '');
  return name === '' || name === 'index.html';
}

/** An invalid OPS_AUTH is the ops API's to report (500 naming it); the page still loads to show that answer. */
function modeOrNull(): OpsAuthMode | null {
  try {
    return opsAuthMode();
  } catch {
    return null;
  }
}

/** Easy Auth injected a principal: it strips the header from incoming requests, so only it can have set it. */
function signedIn(request: HttpRequest): boolean {
  return parseClientPrincipal(request.headers.get('x-ms-client-principal')) !== null;
}

app.http('console', {
  methods: ['GET', 'HEAD'],
  authLevel: 'anonymous',
  route: 'console/{*path}',
  handler: consoleFiles,
});
