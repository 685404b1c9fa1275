import { z } from 'zod';
import { EmulatorSetupError } from './errors';
import { assertTimeZone } from './time';
import type { RuntimeSettings } from './context';
import type { EmulatorOptions } from './types';

export const DEFAULT_SITE = 'contoso.sharepoint.com:/sites/demo';
export const DEFAULT_RU_PER_MINUTE = 1250;
const FOUR_HOURS_MS = 4 * 60 * 60 * 1000;
/**
 * Delta tokens of lists have no documented lifetime; OneDrive's expire after about 30 days
 * (https://github.com/OneDrive/onedrive-api-docs/issues/231). The emulator expires them after that.
 */
export const DEFAULT_DELTA_TOKEN_MAX_AGE_MS = 30 * 24 * 60 * 60 * 1000;
/**
 * List notifications arrive "on average under a minute, at most 5 minutes" later
 * (https://learn.microsoft.com/en-us/graph/change-notifications-overview#latency). The emulator keeps
 * the randomness and the batching but scales the delay down so that tests finish: 0.5 to 3 s by default.
 */
export const DEFAULT_NOTIFICATION_DELAY_RANGE_MS: readonly [number, number] = [500, 3000];
/** Share of item writes inside a $batch that are applied and still answered 503 (an ambiguous outcome). */
export const DEFAULT_BATCH_AMBIGUOUS_503_RATE = 0.02;
export const DEFAULT_SEED = 20261;
/** Share of a page's items shown again on the next page, and first in a stale version. */
export const DEFAULT_DELTA_REPEAT_SHARE = 0.2;

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
    .object({
      enabled: z.boolean(),
      resourceUnitsPerMinute: z.number().int().positive().optional(),
      resourceUnitsPerDay: z.number().int().positive().optional(),
      dayWindowSeconds: z.number().int().positive().optional(),
    })
    .optional(),
  notificationDelayMs: z.number().int().min(0).optional(),
  notificationDelayRangeMs: z
    .tuple([z.number().int().min(0), z.number().int().min(0)])
    .refine(([min, max]) => min <= max, 'the range is [min, max] with min <= max')
    .optional(),
  notificationRetryWindowMs: z.number().int().min(0).optional(),
  deltaTokenMaxAgeMs: z.union([z.number().int().positive(), z.literal('never')]).optional(),
  deltaRepeats: z.union([z.boolean(), z.number().min(0).max(1)]).optional(),
  deltaOrder: z.enum(['unspecified', 'stable']).optional(),
  deltaChangesWithoutFields: z.boolean().optional(),
  batchAmbiguous503Rate: z.number().min(0).max(1).optional(),
  seed: z.number().int().optional(),
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
  resourceUnitsPerDay: number | undefined;
  dayWindowMs: number | undefined;
  /** A fixed delay (a relaxation), or undefined for a seeded random one in notificationDelayRangeMs. */
  notificationDelayMs: number | undefined;
  notificationDelayRangeMs: [number, number];
  notificationRetryWindowMs: number;
  deltaTokenMaxAgeMs: number | undefined;
  /** Share of items repeated (0 = off). */
  deltaRepeats: number;
  deltaOrder: 'unspecified' | 'stable';
  deltaChangesWithoutFields: boolean;
  batchAmbiguous503Rate: number;
  seed: number;
  latencyMs: number;
  users: string[];
}

/** The runtime settings an emulator starts with (and returns to on reset). */
export function initialSettings(o: ResolvedOptions): RuntimeSettings {
  return {
    throttlingEnabled: o.throttlingEnabled,
    resourceUnitsPerMinute: o.resourceUnitsPerMinute,
    resourceUnitsPerDay: o.resourceUnitsPerDay,
    dayWindowMs: o.dayWindowMs,
    latencyMs: o.latencyMs,
    notificationDelayMs: o.notificationDelayMs,
    notificationDelayRangeMs: o.notificationDelayRangeMs,
    notificationRetryWindowMs: o.notificationRetryWindowMs,
    deltaTokenMaxAgeMs: o.deltaTokenMaxAgeMs,
    deltaRepeats: o.deltaRepeats,
    deltaOrder: o.deltaOrder,
    deltaChangesWithoutFields: o.deltaChangesWithoutFields,
    batchAmbiguous503Rate: o.batchAmbiguous503Rate,
  };
}

/** Repeats as a share: true = the default share, false = none. */
export function repeatShare(value: boolean | number): number {
  if (value === true) return DEFAULT_DELTA_REPEAT_SHARE;
  if (value === false) return 0;
  return value;
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
    resourceUnitsPerDay: o.throttling?.resourceUnitsPerDay,
    dayWindowMs:
      o.throttling?.dayWindowSeconds === undefined ? undefined : o.throttling.dayWindowSeconds * 1000,
    notificationDelayMs: o.notificationDelayMs,
    notificationDelayRangeMs: o.notificationDelayRangeMs ?? [...DEFAULT_NOTIFICATION_DELAY_RANGE_MS],
    notificationRetryWindowMs: o.notificationRetryWindowMs ?? FOUR_HOURS_MS,
    deltaTokenMaxAgeMs:
      o.deltaTokenMaxAgeMs === 'never' ? undefined : (o.deltaTokenMaxAgeMs ?? DEFAULT_DELTA_TOKEN_MAX_AGE_MS),
    deltaRepeats: repeatShare(o.deltaRepeats ?? true),
    deltaOrder: o.deltaOrder ?? 'unspecified',
    deltaChangesWithoutFields: o.deltaChangesWithoutFields ?? false,
    batchAmbiguous503Rate: o.batchAmbiguous503Rate ?? DEFAULT_BATCH_AMBIGUOUS_503_RATE,
    seed: o.seed ?? DEFAULT_SEED,
    latencyMs: o.latencyMs ?? 0,
    users,
  };
}
