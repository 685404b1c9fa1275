import './bootstrap';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { consoleAsset } from '../console/assets';

/**
 * The web console's files (HTML, one ES module, styles, vendored libraries). They hold no data: the page reads
 * and acts only through the ops API, which carries the authentication. In Azure, App Service Authentication
 * signs the operator in for both (docs/security.md); the route itself is anonymous so the sign-in redirect, not
 * a function key, protects it.
 */
export async function consoleFiles(request: HttpRequest): Promise<HttpResponseInit> {
  if (request.method !== 'GET' && request.method !== 'HEAD')
    return { status: 405, headers: { Allow: 'GET, HEAD' }, body: 'the console is read with GET' };
  const path = request.params.path ?? '';
  const asset = consoleAsset(path);
  return { status: asset.status, headers: asset.headers, body: request.method === 'HEAD' ? '' : asset.body };
}

app.http('console', {
  methods: ['GET', 'HEAD'],
  authLevel: 'anonymous',
  route: 'console/{*path}',
  handler: consoleFiles,
});
