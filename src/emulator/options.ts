import { z } from 'zod';
import { EmulatorSetupError } from './errors';
import { assertTimeZone } from './time';
import type { EmulatorOptions } from './types';

export const DEFAULT_SITE = 'contoso.sharepoint.com:/sites/demo';
export const DEFAULT_RU_PER_MINUTE = 1250;
const FOUR_HOURS_MS = 4 * 60 * 60 * 1000;

const hostPath = z
  .string()
  .regex(
    /^[a-z0-9.-]+:\/[^:]*$/i,
    'a site is "host:/server-relative-path", e.g. contoso.sharepoint.com:/sites/demo',
  );

const optionsSchema = z.object({
  port: z.number().int().min(0).max(65535).optional(),
  stateDir: z.string().min(1).optional(),
  persist: z.boolean().optional(),
  sites: z.array(hostPath).min(1).optional(),
  siteTimeZones: z.record(z.string(), z.string()).optional(),
  throttling: z
    .object({ enabled: z.boolean(), resourceUnitsPerMinute: z.number().int().positive().optional() })
    .optional(),
  notificationDelayMs: z.number().int().min(0).optional(),
  notificationRetryWindowMs: z.number().int().min(0).optional(),
  deltaTokenMaxAgeMs: z.number().int().positive().optional(),
  latencyMs: z.number().int().min(0).optional(),
  users: z
    .array(z.string().regex(/^[a-z][a-z0-9_-]*$/i, 'user names are letters, digits, _ and -'))
    .optional(),
});

export interface ResolvedOptions {
  port: number;
  stateDir: string | undefined;
  persist: boolean;
  sites: string[];
  siteTimeZones: Record<string, string>;
  throttlingEnabled: boolean;
  resourceUnitsPerMinute: number;
  notificationDelayMs: number;
  notificationRetryWindowMs: number;
  deltaTokenMaxAgeMs: number | undefined;
  latencyMs: number;
  users: string[];
}

export function resolveOptions(input: EmulatorOptions | undefined): ResolvedOptions {
  const parsed = optionsSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new EmulatorSetupError(
      `Invalid emulator option ${issue.path.join('.') || '(root)'}: ${issue.message}`,
      {
        issues: parsed.error.issues,
      },
    );
  }
  const o = parsed.data;
  if (o.persist && !o.stateDir) throw new EmulatorSetupError('persist: true needs a stateDir');
  const users = o.users ?? ['alice', 'bob'];
  if (users.includes('app'))
    throw new EmulatorSetupError("'app' is the application identity, not a user name");
  if (new Set(users).size !== users.length)
    throw new EmulatorSetupError('user names must be unique', { users });
  const siteTimeZones = o.siteTimeZones ?? {};
  for (const tz of Object.values(siteTimeZones)) assertTimeZone(tz);
  return {
    port: o.port ?? 0,
    stateDir: o.stateDir,
    persist: o.persist ?? false,
    sites: o.sites ?? [DEFAULT_SITE],
    siteTimeZones,
    throttlingEnabled: o.throttling?.enabled ?? true,
    resourceUnitsPerMinute: o.throttling?.resourceUnitsPerMinute ?? DEFAULT_RU_PER_MINUTE,
    notificationDelayMs: o.notificationDelayMs ?? 1000,
    notificationRetryWindowMs: o.notificationRetryWindowMs ?? FOUR_HOURS_MS,
    deltaTokenMaxAgeMs: o.deltaTokenMaxAgeMs,
    latencyMs: o.latencyMs ?? 0,
    users,
  };
}
