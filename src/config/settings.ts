import { z } from 'zod';
import { defaultUnitsPerDay } from '../core/budget/shape';

/**
 * Every environment setting the app reads, in one zod schema: the single place that documents them.
 * Azure Functions app settings, `local.settings.json` Values and the shell environment all arrive here.
 * Connection strings for sources other than the default are settings too (`ARCORE_CONNECTION_<NAME>`),
 * never stored in tables: definitions only name them.
 */
const optionalText = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

/** A whole number setting of at least `min`, `fallback` when unset; `expected` names the range in the error. */
const wholeNumber = (min: number, expected: string) => (fallback: number) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) {
        ctx.addIssue({ code: 'custom', message: `must be ${expected}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const positiveInt = wholeNumber(1, 'a positive integer');
const nonNegativeInt = wholeNumber(0, 'a whole number of 0 or more');

const httpsUrl = z
  .string()
  .trim()
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'https:' || u.protocol === 'http:';
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL');

/**
 * How the deployed ops API authenticates (src/functions/opsAuth.ts, docs/security.md): `entra` when App
 * Service Authentication is configured in front of the app (the template sets both together), `key`
 * (master key) otherwise.
 */
export const opsAuthSchema = z.enum(['entra', 'key']).default('key');

export const settingsSchema = z
  .object({
    /** Metadata store (and default source) Postgres connection string. */
    DATABASE_URL: z
      .string({ error: 'is required (postgres://user:password@host:5432/db)' })
      .trim()
      .min(1, 'is required (postgres://user:password@host:5432/db)')
      .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must start with postgres:// or postgresql://'),
    /** `password`: the password is in DATABASE_URL. `entra`: an Entra access token is the password (Azure). */
    DATABASE_AUTH: z.enum(['password', 'entra']).default('password'),
    /** Client id of the user-assigned managed identity used for Entra database auth and Graph. */
    AZURE_CLIENT_ID: optionalText,
    AZURE_TENANT_ID: optionalText,
    /** Microsoft Graph base URL: real Graph, or the emulator (`https://127.0.0.1:<port>/v1.0`). */
    GRAPH_BASE_URL: httpsUrl.default('https://graph.microsoft.com/v1.0'),
    /**
     * How to authenticate to Graph. `default`: DefaultAzureCredential (managed identity in Azure);
     * `clientSecret`/`certificate`: an app registration; `token`: a static bearer (emulator, development).
     * Unset: `token` when GRAPH_TOKEN is set, otherwise `default`.
     */
    GRAPH_AUTH: z.enum(['default', 'clientSecret', 'certificate', 'token']).optional(),
    GRAPH_CLIENT_SECRET: optionalText,
    GRAPH_CERTIFICATE_PATH: optionalText,
    GRAPH_TOKEN: optionalText,
    /** PEM file of an extra certificate authority to trust for Graph (the emulator's self-signed certificate). */
    GRAPH_CA_CERT_FILE: optionalText,
    /** Resource units per minute this app may spend; the client paces itself under it. */
    GRAPH_RU_PER_MINUTE: positiveInt(1250),
    /**
     * Resource units per 24 hours this app may spend (SharePoint's second limit per app and tenant). Unset: 960 ×
     * GRAPH_RU_PER_MINUTE, the documented daily limit of the tier whose minute limit that is (1,200,000 for 1,250).
     */
    GRAPH_RU_PER_DAY: positiveInt(0),
    /** Graph requests in flight at once per run. */
    GRAPH_MAX_CONCURRENCY: positiveInt(4),
    /**
     * Longest wait one 429 may impose (seconds). A larger Retry-After is capped to this, so one answer
     * cannot stall every worker of the app for an hour; the cap is logged and shown by `status`.
     */
    GRAPH_MAX_RETRY_AFTER_SECONDS: positiveInt(300),
    /**
     * Time budget of one push or pull run (seconds). A run that spends it stops after the page in
     * progress, commits it and reports `complete: false`; workers enqueue a continuation. The default
     * leaves 5 minutes under Flex Consumption's 30-minute functionTimeout.
     */
    RUN_MAX_SECONDS: positiveInt(1500),
    /**
     * How long after a push first misses the item of a create an earlier run left pending (killed, or stopped by
     * its lost lock) it waits before creating the item again: SharePoint may still be applying the create sent
     * before the stop, and creating it again then would make two items of one row. No Microsoft page bounds how
     * long SharePoint takes to apply a request it received; 300 s is three times our own request timeout.
     */
    PENDING_CREATE_SETTLE_SECONDS: nonNegativeInt(300),
    /**
     * Connections of each process's metadata pool (and of each other source connection's pool). One run
     * uses up to 3 at once (its lock, a page transaction, a budget reservation). Instances × this must
     * stay under the server's connection limit (docs/deploy.md).
     */
    PG_POOL_MAX: positiveInt(10),
    APPLICATIONINSIGHTS_CONNECTION_STRING: optionalText,
    OPS_AUTH: opsAuthSchema,
    /** Public URL of the webhook function, used as the subscriptions' notificationUrl. */
    WEBHOOK_NOTIFICATION_URL: optionalText.pipe(httpsUrl.optional()),
    /** Public URL of the lifecycle-notification function. */
    WEBHOOK_LIFECYCLE_URL: optionalText.pipe(httpsUrl.optional()),
    /**
     * LSN definitions: WAL a replication slot may hold back (bytes from its restart_lsn to the server's current
     * WAL position) before `status` marks the definition unhealthy and a warning is logged. Default 1 GiB.
     */
    SLOT_WAL_WARN_BYTES: positiveInt(1024 ** 3),
    /**
     * LSN definitions: hours a definition may stay disabled (`enabled: false`) before the push timer drops its
     * replication slot, so that a paused definition cannot fill the server's disk. Re-enabled, it re-reads its
     * table and compares instead of reading changes. Default 72.
     */
    SLOT_DROP_AFTER_DISABLED_HOURS: positiveInt(72),
    /** Storage queue names for the push and pull workers. */
    PUSH_QUEUE_NAME: z.string().trim().min(3).default('arcore-push'),
    PULL_QUEUE_NAME: z.string().trim().min(3).default('arcore-pull'),
  })
  .transform((s) => ({
    ...s,
    GRAPH_AUTH: s.GRAPH_AUTH ?? (s.GRAPH_TOKEN ? ('token' as const) : ('default' as const)),
    GRAPH_RU_PER_DAY: s.GRAPH_RU_PER_DAY || defaultUnitsPerDay(s.GRAPH_RU_PER_MINUTE),
  }));

export type Settings = z.output<typeof settingsSchema>;

/**
 * Settings that depend on each other, checked on the raw environment so that they are reported together
 * with every other problem (zod skips object refinements once a property failed).
 */
function dependentSettingProblems(env: NodeJS.ProcessEnv): string[] {
  const present = (key: string) => (env[key] ?? '').trim() !== '';
  const mode = env.GRAPH_AUTH?.trim() || (present('GRAPH_TOKEN') ? 'token' : 'default');
  const required: Record<string, string[]> = {
    token: ['GRAPH_TOKEN'],
    clientSecret: ['AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'GRAPH_CLIENT_SECRET'],
    certificate: ['AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'GRAPH_CERTIFICATE_PATH'],
  };
  return (required[mode] ?? [])
    .filter((key) => !present(key))
    .map((key) => `${key} is required when GRAPH_AUTH=${mode}`);
}

/** The setting names the Function App must have (used by the infrastructure test). */
export const REQUIRED_SETTINGS = ['DATABASE_URL'] as const;

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SettingsError';
  }
}

/** Reads and validates settings; throws one SettingsError naming every missing or bad setting. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const parsed = settingsSchema.safeParse(env);
  const problems = [
    ...(parsed.success
      ? []
      : parsed.error.issues.map((i) => `${i.path.join('.') || '(settings)'} ${i.message}`)),
    ...dependentSettingProblems(env),
  ];
  if (!parsed.success || problems.length > 0) throw new SettingsError(problems);
  return parsed.data;
}

const CONNECTION_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * The connection string of a source connection named in a definition. `default` is DATABASE_URL;
 * any other name N is read from the setting ARCORE_CONNECTION_<N upper-cased>.
 */
export function resolveConnectionString(
  name: string,
  settings: Pick<Settings, 'DATABASE_URL'>,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (name === 'default') return settings.DATABASE_URL;
  if (!CONNECTION_NAME.test(name)) {
    throw new SettingsError([`source.connection "${name}" must be letters, digits and underscores`]);
  }
  const key = `ARCORE_CONNECTION_${name.toUpperCase()}`;
  const value = env[key];
  if (!value) throw new SettingsError([`${key} is not set (needed by source.connection "${name}")`]);
  return value;
}
