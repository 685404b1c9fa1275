import type { HttpRequest } from '@azure/functions';
import { z } from 'zod';
import { opsAuthSchema } from '../config/settings';
import { crossSiteRefusal, isWrite, jsonWriteRefusal } from './crossSite';

/**
 * Who may call the ops API, and who the audit trail says did.
 *
 * Two modes, chosen by the `OPS_AUTH` app setting (docs/security.md):
 * - `entra`: App Service Authentication (Easy Auth, `authsettingsV2` in infra/app/functionapp.bicep)
 *   validates the caller's Microsoft Entra token (a script's bearer token, or the session cookie a browser got
 *   by signing in at /.auth/login/aad) in front of the app and passes the claims in the
 *   `x-ms-client-principal` header. App Service strips that header from incoming requests, so it can only
 *   have come from the platform ("External requests aren't allowed to set these headers",
 *   https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities). The setting
 *   is written by the same template that turns Easy Auth on: without Easy Auth the header is forgeable,
 *   so it is read in this mode only.
 * - `key` (default; local development and the documented fallback): the function is registered with
 *   `authLevel: 'admin'`, so the Functions host admits only the master key
 *   (https://learn.microsoft.com/azure/azure-functions/function-keys-how-to). Identity headers are ignored.
 *
 * Roles (app roles of the ops app registration): `Ops.Read` may GET, `Ops.Write` may GET and POST.
 * In entra mode a write must also come from the app's own origin and be JSON (`browserWriteRefusal`).
 */

export const OPS_READ_ROLE = 'Ops.Read';
export const OPS_WRITE_ROLE = 'Ops.Write';

export type OpsAuthMode = z.output<typeof opsAuthSchema>;

/** The mode from the environment; an unknown value is a configuration error, never a silent downgrade. */
export function opsAuthMode(env: NodeJS.ProcessEnv = process.env): OpsAuthMode {
  const raw = env.OPS_AUTH?.trim() || undefined;
  const parsed = opsAuthSchema.safeParse(raw);
  if (!parsed.success) {
    throw new OpsAuthConfigError(`OPS_AUTH must be "entra" or "key", got "${raw}"`);
  }
  return parsed.data;
}

export class OpsAuthConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OpsAuthConfigError';
  }
}

/** A caller the ops API has authenticated. `name` is what the audit trail records. */
export type OpsPrincipal =
  | { kind: 'entra'; id: string; name: string; roles: string[] }
  | { kind: 'admin-key'; name: 'admin-key' }
  | { kind: 'local'; name: string };

export type OpsAuthResult =
  | { ok: true; principal: OpsPrincipal }
  | {
      ok: false;
      status: 401 | 403 | 415;
      error: string;
      /** Where a browser signs in (entra mode, 401): the console sends the operator there. */
      signIn?: string;
    };

/**
 * App Service Authentication's sign-in endpoint for Microsoft Entra, coming back to the console afterwards
 * (https://learn.microsoft.com/azure/app-service/configure-authentication-customize-sign-in-out). The session
 * cookie it sets then authenticates the console's same-origin calls to the ops API.
 */
export const ENTRA_SIGN_IN_PATH = '/.auth/login/aad';
export const CONSOLE_PATH = '/api/console/';

export function entraSignInUrl(returnTo = CONSOLE_PATH): string {
  return `${ENTRA_SIGN_IN_PATH}?post_login_redirect_uri=${encodeURIComponent(returnTo)}`;
}

export type OpsAuthenticator = (request: HttpRequest) => OpsAuthResult;

/** The decoded `x-ms-client-principal` (https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities#decoding-the-client-principal-header). */
const clientPrincipalSchema = z.object({
  auth_typ: z.string().optional(),
  name_typ: z.string().optional(),
  role_typ: z.string().optional(),
  claims: z.array(z.object({ typ: z.string(), val: z.string() })),
});

const OBJECT_ID_CLAIMS = ['http://schemas.microsoft.com/identity/claims/objectidentifier', 'oid'];
const NAME_CLAIMS = ['preferred_username', 'name', 'appid', 'azp'];
const ROLE_CLAIMS = ['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'];

/** Parses the platform's principal header; null when absent or not the documented shape. */
export function parseClientPrincipal(
  header: string | null,
): { id: string; name: string; roles: string[] } | null {
  if (!header) return null;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    return null;
  }
  const parsed = clientPrincipalSchema.safeParse(decoded);
  if (!parsed.success) return null;
  const { claims, name_typ: nameType, role_typ: roleType } = parsed.data;
  const first = (types: string[]) => types.map((t) => claims.find((c) => c.typ === t)?.val).find(Boolean);
  const id = first(OBJECT_ID_CLAIMS);
  if (!id) return null;
  const name = first([...(nameType ? [nameType] : []), ...NAME_CLAIMS]) ?? id;
  const roleTypes = new Set([...ROLE_CLAIMS, ...(roleType ? [roleType] : [])]);
  const roles = [...new Set(claims.filter((c) => roleTypes.has(c.typ)).map((c) => c.val))];
  return { id, name, roles };
}

/** Reading needs Ops.Read or Ops.Write; anything else (every POST) needs Ops.Write. */
export function roleAllows(roles: string[], method: string): boolean {
  if (roles.includes(OPS_WRITE_ROLE)) return true;
  return method === 'GET' && roles.includes(OPS_READ_ROLE);
}

/** The authenticator of the deployed app, for the given mode. */
export function hostAuthenticator(mode: OpsAuthMode): OpsAuthenticator {
  if (mode === 'key') {
    // The host already refused every request without the master key (authLevel 'admin').
    return () => ({ ok: true, principal: { kind: 'admin-key', name: 'admin-key' } });
  }
  return (request) => {
    const principal = parseClientPrincipal(request.headers.get('x-ms-client-principal'));
    if (!principal) {
      return {
        ok: false,
        status: 401,
        error:
          'not signed in: a browser signs in with Microsoft Entra at signIn (the console goes there itself); ' +
          'a script sends a bearer token for the ops API app registration (Authorization: Bearer …)',
        signIn: entraSignInUrl(),
      };
    }
    if (!roleAllows(principal.roles, request.method)) {
      const needed = request.method === 'GET' ? `${OPS_READ_ROLE} or ${OPS_WRITE_ROLE}` : OPS_WRITE_ROLE;
      return {
        ok: false,
        status: 403,
        error: `${principal.name} lacks the app role ${needed} for ${request.method}`,
      };
    }
    const refusal = browserWriteRefusal(request);
    if (refusal) return { ok: false, ...refusal };
    return { ok: true, principal: { kind: 'entra', ...principal } };
  };
}

/**
 * In entra mode a browser that signed in at /.auth/login/aad attaches the session cookie to every request to
 * the app, a page of another site's included, and Easy Auth turns it into the principal: a write is therefore
 * refused unless it is same-origin and JSON (crossSite.ts, the local host's rules). The app's own origin is the
 * request's host (App Service keeps the `Host` the browser sent; the scheme is not compared, as the app may
 * see the request as http behind the front end's TLS). A request with an `Authorization` header (a script's
 * bearer token) need not be JSON: a page can send that header cross-origin only after a CORS preflight the
 * app never grants, so `curl -d` without a content type keeps working.
 */
function browserWriteRefusal(request: HttpRequest) {
  if (!isWrite(request.method)) return null;
  const ownHost = new URL(request.url).host.toLowerCase();
  const crossSite = crossSiteRefusal(
    request.headers.get('origin') ?? undefined,
    request.headers.get('sec-fetch-site') ?? undefined,
    (origin) => {
      try {
        return new URL(origin).host.toLowerCase() === ownHost;
      } catch {
        return false; // the opaque origin "null" of sandboxed frames and file: pages
      }
    },
  );
  if (crossSite) return crossSite;
  if (request.headers.has('authorization')) return null;
  return jsonWriteRefusal(request.method, request.headers.get('content-type') ?? undefined);
}

/** The Functions host authorization level the ops API is registered with in `mode`. */
export function opsAuthLevel(mode: OpsAuthMode): 'anonymous' | 'admin' {
  // In entra mode Easy Auth validates the caller's token or session and the handler refuses a request without
  // the validated principal (401, naming where to sign in) or without the role (403). A function key would add
  // nothing but a shared secret.
  return mode === 'entra' ? 'anonymous' : 'admin';
}

/** What the audit trail records as the resolver: the principal's name, and its object id for Entra. */
export function auditName(principal: OpsPrincipal): string {
  return principal.kind === 'entra' ? `${principal.name} (${principal.id})` : principal.name;
}
