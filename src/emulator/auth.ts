/**
 * Bearer tokens and the identities behind them. The application identity is the sync engine
 * (app-only writes show `application` plus the "SharePoint App" user); named users edit "in SharePoint".
 * Each identity has a row id in the site's hidden user list: the value person columns hold.
 */
import { randomBytes } from 'node:crypto';
import { guidFromName } from './ids';
import type { AppRole, SiteAccess } from './permissions';

export interface Identity {
  /** 'app' or the user name. */
  name: string;
  kind: 'application' | 'user';
  id: string;
  displayName: string;
  email: string | undefined;
  lookupId: number;
  token: string;
  /**
   * Application permissions (the `roles` claim) of an app token; undefined for a user, whose access is
   * delegated and not modelled (users edit "in SharePoint" with full rights on the emulator's sites).
   */
  roles?: ReadonlySet<AppRole>;
  /** Sites.Selected grants by composite site id. */
  siteGrants?: ReadonlyMap<string, SiteAccess>;
}

/** What the default app token holds: today's broad access (create lists and columns, write, subscribe). */
export const DEFAULT_APP_ROLES: readonly AppRole[] = ['Sites.FullControl.All'];

export interface IdentitySeed {
  tokens: Record<string, string>;
}

export const APP_DISPLAY_NAME = 'ArcoreSyncBridge';
/** What SharePoint shows as the user of app-only writes. */
export const APP_USER_DISPLAY_NAME = 'SharePoint App';
const APP_LOOKUP_ID = 6;
const FIRST_USER_LOOKUP_ID = 10;

function newToken(name: string): string {
  return `emu.${name}.${randomBytes(18).toString('base64url')}`;
}

function capitalise(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

export class IdentityRegistry {
  readonly app: Identity;
  private readonly byToken = new Map<string, Identity>();
  private readonly byName = new Map<string, Identity>();
  private readonly byLookupId = new Map<number, Identity>();

  constructor(
    readonly tenantDomain: string,
    userNames: string[],
    seed?: IdentitySeed,
  ) {
    const tokenFor = (name: string): string => seed?.tokens[name] ?? newToken(name);
    this.app = {
      name: 'app',
      kind: 'application',
      id: guidFromName(`application:${tenantDomain}`),
      displayName: APP_DISPLAY_NAME,
      email: undefined,
      lookupId: APP_LOOKUP_ID,
      token: tokenFor('app'),
      roles: new Set(DEFAULT_APP_ROLES),
    };
    this.add(this.app);
    userNames.forEach((name, index) =>
      this.add({
        name,
        kind: 'user',
        id: guidFromName(`user:${name}@${tenantDomain}`),
        displayName: capitalise(name),
        email: `${name}@${tenantDomain}`,
        lookupId: FIRST_USER_LOOKUP_ID + index,
        token: tokenFor(name),
      }),
    );
  }

  private add(identity: Identity): void {
    this.byToken.set(identity.token, identity);
    this.byName.set(identity.name, identity);
    this.byLookupId.set(identity.lookupId, identity);
  }

  /**
   * A new token of the application identity with the given roles and Sites.Selected grants: the same
   * app (same resource-unit budget, same author on items), other permissions.
   */
  issueAppToken(roles: readonly AppRole[], siteGrants: ReadonlyMap<string, SiteAccess>): string {
    const token = newToken('app');
    this.byToken.set(token, { ...this.app, token, roles: new Set(roles), siteGrants });
    return token;
  }

  /** The identity of an `Authorization` header value, or undefined when missing or unknown. */
  fromAuthorization(header: string | undefined): Identity | undefined {
    if (!header) return undefined;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match ? this.byToken.get(match[1]) : undefined;
  }

  byNameOrUndefined(name: string): Identity | undefined {
    return this.byName.get(name);
  }

  byLookup(lookupId: number): Identity | undefined {
    return this.byLookupId.get(lookupId);
  }

  users(): Identity[] {
    return [...this.byName.values()].filter((i) => i.kind === 'user');
  }

  seed(): IdentitySeed {
    return { tokens: Object.fromEntries([...this.byName.values()].map((i) => [i.name, i.token])) };
  }
}

/** `createdBy` / `lastModifiedBy` as Graph shows them for this identity. */
export function identitySet(identity: Identity): Record<string, unknown> {
  if (identity.kind === 'application') {
    return {
      application: { id: identity.id, displayName: identity.displayName },
      user: { displayName: APP_USER_DISPLAY_NAME },
    };
  }
  return { user: { id: identity.id, displayName: identity.displayName, email: identity.email } };
}
