import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { REQUIRED_SETTINGS, settingsSchema, loadSettings } from '../../src/config/settings';
import { parseConnectionString } from '../../src/core/db/connectionString';
import {
  apiVersionReferences,
  bicepFilesUnder,
  modules,
  params,
  readBicep,
  resources,
  variableExpression,
} from './bicepSource';

/*
 * The Bicep CLI cannot be installed on the build machines, so the templates are never compiled in CI.
 * These tests read them as text and check what a reviewer would otherwise have to: references resolve,
 * parameters line up, the Function App gets every setting the app reads, no secret is written down, API
 * versions are recent, and Postgres is set up for logical decoding.
 */

const ROOT = resolve(__dirname, '../..');
const INFRA = join(ROOT, 'infra');
const MAIN = join(INFRA, 'main.bicep');
const FUNCTION_APP = join(INFRA, 'app/functionapp.bicep');
const POSTGRES = join(INFRA, 'app/postgres.bicep');
const SCRIPTS = join(ROOT, 'scripts');

const files = bicepFilesUnder(INFRA);
const text = new Map(files.map((f) => [f, readBicep(f)]));
const name = (file: string) => relative(ROOT, file);
const source = (file: string): string => {
  const t = text.get(file);
  if (t === undefined) throw new Error(`${name(file)} was not read`);
  return t;
};

/** The oldest API version accepted, and the documented exceptions (types whose newest GA version is older). */
const API_VERSION_FLOOR = '2023-01-01';
const API_VERSION_FLOORS_BY_TYPE: Record<string, string> = {
  'Microsoft.DBforPostgreSQL/flexibleServers': '2024-08-01',
  // functionAppConfig (Flex Consumption) needs 2023-12-01 or later.
  'Microsoft.Web/sites': '2023-12-01',
};
const NEWEST_GA_OLDER_THAN_FLOOR: Record<string, string> = {
  'Microsoft.Insights/components': '2020-02-02',
  'Microsoft.Authorization/roleAssignments': '2022-04-01',
};

/** Settings the Function App itself reads that are not in the settings schema. */
const PLATFORM_SETTINGS = [
  'AzureWebJobsStorage__accountName',
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  // Read by node itself: the worker's V8 heap limits.
  'NODE_OPTIONS',
];
/** Read by function registrations as %NAME% (timer schedules). */
const SCHEDULE_SETTINGS = ['PUSH_SCHEDULE', 'PULL_SAFETY_SCHEDULE', 'SUBSCRIPTION_SCHEDULE'];
/** The subscriptions' URLs: anonymous functions authenticated by clientState, so no key in them. */
const WEBHOOK_SETTINGS = ['WEBHOOK_NOTIFICATION_URL', 'WEBHOOK_LIFECYCLE_URL'];
/** Must never be set on Flex Consumption (runtime comes from functionAppConfig) or with identity-based storage. */
const FORBIDDEN_SETTINGS = [
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_EXTENSION_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'AzureWebJobsStorage',
];

function schemaSettingNames(): string[] {
  const jsonSchema = z.toJSONSchema(settingsSchema, { io: 'input' }) as {
    properties?: Record<string, unknown>;
  };
  return Object.keys(jsonSchema.properties ?? {});
}

function functionAppSettings(): string[] {
  const expression = variableExpression(source(FUNCTION_APP), 'appSettings');
  return [...expression.matchAll(/^\s*([A-Za-z_]\w*)\s*:/gm)].map((m) => m[1]);
}

function defaultOf(file: string, param: string): string {
  const m = new RegExp(`^param\\s+${param}\\s+\\w+\\s*=\\s*'([^']*)'`, 'm').exec(source(file));
  if (!m) throw new Error(`param ${param} has no string default in ${name(file)}`);
  return m[1];
}

describe('infra: the templates are complete (Bicep is not compiled here)', () => {
  test('there are templates to check, with no registry modules; the one registry reference is the Graph extension', () => {
    expect(files.map(name)).toEqual(
      expect.arrayContaining(['infra/main.bicep', 'infra/app/functionapp.bicep']),
    );
    for (const file of files) {
      expect({ file: name(file), registry: /'(br|ts)[:/]/.test(source(file)) }).toEqual({
        file: name(file),
        registry: false,
      });
    }
    // Microsoft Graph Bicep types v1.0:1.0.0 (GA, needs Bicep 0.36.1 = azd 1.17); fetched by Bicep at compile time.
    const config = z
      .object({ extensions: z.record(z.string(), z.string()) })
      .strict()
      .parse(JSON.parse(readFileSync(join(INFRA, 'bicepconfig.json'), 'utf8')));
    expect(config.extensions).toEqual({
      microsoftGraphV1: 'br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:1.0.0',
    });
    const users = files.filter((f) => /^extension\s+microsoftGraphV1\s*$/m.test(source(f))).map(name);
    expect(users).toEqual(['infra/app/entra.bicep']);
  });

  test('main.bicep deploys at subscription scope and creates the resource group', () => {
    expect(source(MAIN)).toMatch(/^targetScope\s*=\s*'subscription'/m);
    expect(resources(source(MAIN)).map((r) => r.type)).toContain('Microsoft.Resources/resourceGroups');
  });

  test('every module path referenced exists', () => {
    for (const file of files) {
      for (const module of modules(source(file))) {
        const target = resolve(dirname(file), module.path);
        expect({ from: name(file), module: module.path, exists: existsSync(target) }).toEqual({
          from: name(file),
          module: module.path,
          exists: true,
        });
      }
    }
  });

  test('every module call passes only declared params and all required ones', () => {
    for (const file of files) {
      for (const module of modules(source(file))) {
        const target = resolve(dirname(file), module.path);
        const declared = params(readBicep(target));
        const required = declared.filter((p) => !p.hasDefault).map((p) => p.name);
        const problems = [
          ...module.params
            .filter((p) => !declared.some((d) => d.name === p))
            .map((p) => `unknown param ${p}`),
          ...required.filter((p) => !module.params.includes(p)).map((p) => `missing param ${p}`),
        ];
        expect({ call: `${name(file)} → ${module.path}`, problems }).toEqual({
          call: `${name(file)} → ${module.path}`,
          problems: [],
        });
      }
    }
  });

  test('every param declared in each file is used in that file', () => {
    for (const file of files) {
      const t = source(file);
      const unused = params(t)
        .map((p) => p.name)
        .filter((p) => (t.match(new RegExp(`\\b${p}\\b`, 'g')) ?? []).length < 2);
      expect({ file: name(file), unused }).toEqual({ file: name(file), unused: [] });
    }
  });

  test('abbreviations used by main.bicep exist in abbreviations.json', () => {
    const abbreviations = z
      .record(z.string(), z.string())
      .parse(JSON.parse(readFileSync(join(INFRA, 'abbreviations.json'), 'utf8')));
    const used = [...source(MAIN).matchAll(/\babbrs\.(\w+)/g)].map((m) => m[1]);
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((u) => !(u in abbreviations))).toEqual([]);
  });

  test('main.parameters.json sets only declared params, and every param without a default', () => {
    const file = z
      .object({ parameters: z.record(z.string(), z.object({ value: z.unknown() })) })
      .parse(JSON.parse(readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')));
    const declared = params(source(MAIN));
    const set = Object.keys(file.parameters);
    expect(set.filter((p) => !declared.some((d) => d.name === p))).toEqual([]);
    expect(declared.filter((d) => !d.hasDefault && !set.includes(d.name)).map((d) => d.name)).toEqual([]);
    expect(file.parameters.environmentName.value).toBe('${AZURE_ENV_NAME}');
    expect(file.parameters.location.value).toBe('${AZURE_LOCATION}');
  });
});

describe('infra: the Function App gets every setting the app reads', () => {
  const settings = functionAppSettings();

  test('every setting the settings schema requires is set', () => {
    expect(REQUIRED_SETTINGS.length).toBeGreaterThan(0);
    expect(REQUIRED_SETTINGS.filter((s) => !settings.includes(s))).toEqual([]);
  });

  test('the Graph, identity, database, App Insights, queue and schedule settings are set', () => {
    const expected = [
      'DATABASE_URL',
      'DATABASE_AUTH',
      'AZURE_CLIENT_ID',
      'AZURE_TENANT_ID',
      'GRAPH_AUTH',
      'GRAPH_BASE_URL',
      'GRAPH_RU_PER_MINUTE',
      'GRAPH_RU_PER_DAY',
      'GRAPH_MAX_CONCURRENCY',
      'GRAPH_CLIENT_SECRET',
      'APPLICATIONINSIGHTS_CONNECTION_STRING',
      'PUSH_QUEUE_NAME',
      'PULL_QUEUE_NAME',
      ...SCHEDULE_SETTINGS,
      'AzureWebJobsStorage__accountName',
      'AzureWebJobsStorage__credential',
      'AzureWebJobsStorage__clientId',
    ];
    expect(expected.filter((s) => !settings.includes(s))).toEqual([]);
  });

  test('every setting is one the app or the platform knows (no typos)', () => {
    const known = new Set([...schemaSettingNames(), ...PLATFORM_SETTINGS, ...SCHEDULE_SETTINGS]);
    expect(settings.filter((s) => !known.has(s))).toEqual([]);
  });

  test('the settings schema names no setting that is neither provisioned nor documented as optional', () => {
    // Settings left out on purpose: local/emulator only, or certificate mode.
    const notProvisioned = ['GRAPH_CERTIFICATE_PATH', 'GRAPH_TOKEN', 'GRAPH_CA_CERT_FILE'];
    expect(schemaSettingNames().filter((s) => !settings.includes(s) && !notProvisioned.includes(s))).toEqual(
      [],
    );
  });

  test('Flex Consumption: no worker-runtime, package or key-based storage settings', () => {
    expect(settings.filter((s) => FORBIDDEN_SETTINGS.includes(s))).toEqual([]);
    const body = source(FUNCTION_APP);
    expect(body).toMatch(/AzureWebJobsStorage__credential:\s*'managedidentity'/);
    expect(body).toMatch(/name:\s*'node'\s*\n\s*version:\s*'22'/);
    expect(body).toMatch(/tier:\s*'FlexConsumption'\s*\n\s*name:\s*'FC1'/);
    expect(body).toMatch(/type:\s*'UserAssignedIdentity'/);
  });

  test('the webhook URLs point at the anonymous Graph functions and carry no key', () => {
    const expression = variableExpression(source(FUNCTION_APP), 'appSettings');
    for (const setting of WEBHOOK_SETTINGS) expect(settings).toContain(setting);
    expect(expression).toContain("'https://${site.properties.defaultHostName}/api/graph/notifications'");
    expect(expression).toContain("'https://${site.properties.defaultHostName}/api/graph/lifecycle'");
    expect(expression).not.toMatch(/code=/);
    const script = readFileSync(join(SCRIPTS, 'set-webhook-urls.sh'), 'utf8');
    // No script creates or reads a function or host key for Graph any more; the legacy one is deleted.
    expect(script).not.toMatch(/keys set/);
    expect(script).toMatch(/keys delete .*--key-name "\$LEGACY_KEY_NAME"/);
  });

  test('App Service Authentication validates Entra callers and leaves the answer to unauthenticated ones to the code, and OPS_AUTH says so', () => {
    const auth = resources(source(FUNCTION_APP)).find((r) => /name:\s*'authsettingsV2'/.test(r.body));
    expect(auth?.type).toBe('Microsoft.Web/sites/config');
    // Let through (review r12, finding 9): Graph's endpoints check clientState, the ops API answers 401 with a
    // JSON body naming where to sign in, and the console page sends a browser to sign in. Return401 would give
    // the console's browser a bare 401 and never a sign-in.
    expect(auth?.body).toMatch(/requireAuthentication:\s*false/);
    expect(auth?.body).toMatch(/unauthenticatedClientAction:\s*'AllowAnonymous'/);
    expect(auth?.body).not.toMatch(/excludedPaths/);
    expect(auth?.body).toMatch(/clientId:\s*opsAuthClientId/);
    expect(auth?.body).toMatch(/allowedAudiences:/);
    // Easy Auth and OPS_AUTH come from the same parameter: the code reads the principal header only then.
    const resourceLine = /^resource authSettings .*= if \(opsAuth == 'entra'\)/m;
    expect(source(FUNCTION_APP)).toMatch(resourceLine);
    expect(variableExpression(source(FUNCTION_APP), 'appSettings')).toMatch(/OPS_AUTH:\s*opsAuth\b/);
    // Without an app registration the effective mode is the master key, never "no authentication".
    expect(source(MAIN)).toMatch(
      /^var opsAuthEffective = opsAuthMode == 'entra' && !empty\(opsClientId\) \? 'entra' : 'key'$/m,
    );
  });

  test("a browser can sign in to the console: the app's /.auth/login/aad/callback is a redirect URI of the ops app registration, with ID tokens", () => {
    // Made in the template (ENTRA_IN_BICEP=true) ...
    const entra = source(join(INFRA, 'app/entra.bicep'));
    const opsApp = resources(entra).find((r) => r.type === 'Microsoft.Graph/applications');
    expect(opsApp?.body).toMatch(/web:\s*\{\s*redirectUris:\s*\[\s*opsAppSignInRedirectUri\s*\]/);
    expect(opsApp?.body).toMatch(/implicitGrantSettings:\s*\{\s*enableIdTokenIssuance:\s*true/);
    expect(source(MAIN)).toMatch(
      /opsAppSignInRedirectUri:\s*'https:\/\/\$\{functionAppHostName\}\/\.auth\/login\/aad\/callback'/,
    );
    expect(source(MAIN)).toMatch(/^var functionAppHostName = '\$\{functionAppName\}\.azurewebsites\.net'$/m);
    // ... or by the postprovision hook, for registrations the scripts made or OPS_AUTH_CLIENT_ID names.
    const script = readFileSync(join(SCRIPTS, 'register-console-sign-in.sh'), 'utf8');
    expect(script).toMatch(/callback="\$\{SERVICE_API_URI%\/\}\/\.auth\/login\/aad\/callback"/);
    expect(script).toMatch(
      /az ad app update --id "\$OPS_AUTH_CLIENT_ID" --web-redirect-uris "\$\{uris\[@\]\}"/,
    );
    expect(script).toMatch(/--enable-id-token-issuance true/);
    expect(readFileSync(join(SCRIPTS, 'postprovision.sh'), 'utf8')).toContain(
      '"$here/register-console-sign-in.sh"',
    );
    // The console itself: the page redirects an unsigned browser, the page's script follows the ops API's signIn.
    const consoleFunction = readFileSync(join(ROOT, 'src/functions/console.ts'), 'utf8');
    expect(consoleFunction).toMatch(/Location: entraSignInUrl\(\)/);
    expect(readFileSync(join(ROOT, 'src/functions/opsAuth.ts'), 'utf8')).toMatch(
      /ENTRA_SIGN_IN_PATH = '\/\.auth\/login\/aad'/,
    );
  });

  test('the ops app registration defines the reader and operator roles the code checks', () => {
    const entra = source(join(INFRA, 'app/entra.bicep'));
    expect(entra).toMatch(/value:\s*'Ops\.Read'/);
    expect(entra).toMatch(/value:\s*'Ops\.Write'/);
    expect(entra).toMatch(/appRoleAssignmentRequired:\s*true/);
    const script = readFileSync(join(SCRIPTS, 'create-ops-app.sh'), 'utf8');
    expect(script).toContain('"value": "Ops.Read"');
    expect(script).toContain('"value": "Ops.Write"');
  });

  test('DATABASE_URL carries no password and is a valid Entra connection string once rendered', () => {
    const template = variableExpression(source(MAIN), 'databaseUrl');
    const rendered = template.slice(1, -1).replace(/\$\{[^}]*\}/g, 'x');
    const parsed = parseConnectionString(rendered);
    expect(parsed.password).toBeUndefined();
    expect(parsed.user).toBe('x');
    expect(parsed.sslMode).toBe('require');
    expect(() => loadSettings({ DATABASE_URL: rendered, DATABASE_AUTH: 'entra' })).not.toThrow();
    expect(source(FUNCTION_APP)).toMatch(/DATABASE_AUTH:\s*'entra'/);
  });

  test('queue names match the settings defaults and are created in storage', () => {
    const defaults = loadSettings({ DATABASE_URL: 'postgres://u@h/db' });
    const main = source(MAIN);
    expect(variableExpression(main, 'pushQueueName')).toBe(`'${defaults.PUSH_QUEUE_NAME}'`);
    expect(variableExpression(main, 'pullQueueName')).toBe(`'${defaults.PULL_QUEUE_NAME}'`);
    expect(main).toMatch(/queueNames:\s*\[pushQueueName,\s*pullQueueName\]/);
    const queues = resources(source(join(INFRA, 'app/storage.bicep'))).filter((r) =>
      r.type.endsWith('/queueServices/queues'),
    );
    expect(queues).toHaveLength(1);
    expect(queues[0].body).toMatch(/name:\s*queueName/);
  });

  test('schedule defaults are six-field NCRONTAB expressions the runtime accepts', () => {
    expect(defaultOf(MAIN, 'pushSchedule')).toBe('0 * * * * *');
    expect(defaultOf(MAIN, 'pullSafetySchedule')).toBe('0 0 * * * *');
    expect(defaultOf(MAIN, 'subscriptionSchedule')).toBe('0 */30 * * * *');
    for (const p of ['pushSchedule', 'pullSafetySchedule', 'subscriptionSchedule']) {
      const expression = defaultOf(MAIN, p);
      expect(expression.split(' ')).toHaveLength(6);
      expect(() => CronExpressionParser.parse(expression)).not.toThrow();
    }
  });

  test('azd deploys the api service to the Function App (azd-service-name tag)', () => {
    expect(source(FUNCTION_APP)).toMatch(/'azd-service-name':\s*serviceName/);
    const call = modules(source(MAIN)).find((m) => m.path === 'app/functionapp.bicep');
    expect(call?.body).toMatch(/serviceName:\s*'api'/);
  });
});

describe('infra: no secret is written down', () => {
  const everything = [
    ...files.map((f) => ({ file: name(f), body: source(f) })),
    { file: 'infra/main.parameters.json', body: readFileSync(join(INFRA, 'main.parameters.json'), 'utf8') },
    { file: 'azure.yaml', body: readFileSync(join(ROOT, 'azure.yaml'), 'utf8') },
  ];

  test.each([
    ['an account key', /AccountKey=/i],
    ['a SAS signature', /[?&]sig=/i],
    ['listKeys (shared keys are disabled)', /\blistKeys\s*\(/],
    ['a password literal', /password\w*\s*:\s*'/i],
    // A property named …secret (not …SecretUri, …SecretsUser) with a literal that is not a Key Vault reference.
    ['a secret literal', /\w*secret\s*:\s*'(?!@Microsoft\.KeyVault\()/i],
    ['an instrumentation key', /InstrumentationKey=/i],
  ])('no %s', (_what, pattern) => {
    expect(everything.filter((f) => pattern.test(f.body)).map((f) => f.file)).toEqual([]);
  });

  test('every password or secret param is @secure() and has no non-empty default', () => {
    let checked = 0;
    for (const file of files) {
      const secretParams = params(source(file)).filter(
        (q) => q.type === 'string' && /(password|secret)$/i.test(q.name),
      );
      for (const p of secretParams) {
        expect({ file: name(file), param: p.name, secure: p.decorators.includes('@secure()') }).toEqual({
          file: name(file),
          param: p.name,
          secure: true,
        });
        expect(source(file)).not.toMatch(new RegExp(`^param\\s+${p.name}\\s+\\w+\\s*=\\s*'[^']+'`, 'm'));
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(2);
  });

  test('GRAPH_CLIENT_SECRET is only ever a Key Vault reference, resolved with the app identity', () => {
    const body = source(FUNCTION_APP);
    expect(body).toMatch(
      /GRAPH_CLIENT_SECRET:\s*'@Microsoft\.KeyVault\(SecretUri=\$\{graphClientSecretUri\}\)'/,
    );
    expect(body).toMatch(/keyVaultReferenceIdentity:\s*identityId/);
    const vault = resources(source(join(INFRA, 'app/keyvault.bicep'))).find(
      (r) => r.type === 'Microsoft.KeyVault/vaults',
    );
    expect(vault?.body).toMatch(/enableRbacAuthorization:\s*true/);
  });

  test('storage refuses shared keys; Postgres refuses passwords unless asked', () => {
    expect(source(join(INFRA, 'app/storage.bicep'))).toMatch(/allowSharedKeyAccess:\s*false/);
    const server = resources(source(POSTGRES)).find(
      (r) => r.type === 'Microsoft.DBforPostgreSQL/flexibleServers',
    );
    expect(server?.body).toMatch(/activeDirectoryAuth:\s*'Enabled'/);
    expect(server?.body).toMatch(/passwordAuth:\s*passwordAuth \? 'Enabled' : 'Disabled'/);
    expect(source(MAIN)).toMatch(/^param postgresPasswordAuth bool = false$/m);
  });
});

describe('infra: API versions are not older than the floor', () => {
  const references = files.flatMap((f) =>
    apiVersionReferences(source(f)).map((r) => ({ ...r, file: name(f) })),
  );

  test('found the resource references', () => {
    expect(references.length).toBeGreaterThan(20);
  });

  test('no preview API versions', () => {
    expect(references.filter((r) => r.version.endsWith('-preview'))).toEqual([]);
  });

  test(`every type is at ${API_VERSION_FLOOR} or later, or at its newest GA version where that is older`, () => {
    const tooOld = references.filter((r) => {
      const exception = NEWEST_GA_OLDER_THAN_FLOOR[r.type];
      if (exception !== undefined) return r.version < exception;
      const floor = Object.entries(API_VERSION_FLOORS_BY_TYPE).find(([type]) => r.type.startsWith(type))?.[1];
      return r.version < (floor ?? API_VERSION_FLOOR);
    });
    expect(tooOld).toEqual([]);
  });

  test('the Flexible Server and all its children use one API version, 2024-08-01 or later', () => {
    const postgres = references.filter((r) => r.type.startsWith('Microsoft.DBforPostgreSQL/flexibleServers'));
    expect(postgres.length).toBeGreaterThanOrEqual(5);
    expect(new Set(postgres.map((r) => r.version)).size).toBe(1);
    expect(postgres[0].version >= '2024-08-01').toBe(true);
  });
});

describe('infra: Postgres is ready for logical decoding and deployed safely', () => {
  const all = resources(source(POSTGRES));
  const children = all.filter((r) => r.type.startsWith('Microsoft.DBforPostgreSQL/flexibleServers/'));

  test('wal_level is set to logical', () => {
    const walLevel = children.find((r) => /name:\s*'wal_level'/.test(r.body));
    expect(walLevel?.type).toBe('Microsoft.DBforPostgreSQL/flexibleServers/configurations');
    expect(walLevel?.body).toMatch(/value:\s*'logical'/);
  });

  test('replication slots and WAL senders are configured for the change data capture to come', () => {
    for (const setting of ['max_replication_slots', 'max_wal_senders']) {
      expect(children.some((r) => r.body.includes(`name: '${setting}'`))).toBe(true);
    }
  });

  test('max_replication_slots comes from a parameter and max_wal_senders leaves two senders beyond it', () => {
    const slots = children.find((r) => /name:\s*'max_replication_slots'/.test(r.body));
    const senders = children.find((r) => /name:\s*'max_wal_senders'/.test(r.body));
    expect(slots?.body).toMatch(/value:\s*string\(replicationSlots\)/);
    expect(senders?.body).toMatch(/value:\s*string\(replicationSlots \+ 2\)/);
    const slotsParam = params(source(POSTGRES)).find((p) => p.name === 'replicationSlots');
    expect(slotsParam).toBeDefined();
    expect(source(MAIN)).toMatch(/^param postgresReplicationSlots int = 10$/m);
  });

  test('max_slot_wal_keep_size is never set (read-only on the flexible server), and the template says why, citing the docs', () => {
    const text = readFileSync(POSTGRES, 'utf8');
    expect(children.some((r) => r.body.includes("'max_slot_wal_keep_size'"))).toBe(false);
    expect(text).toMatch(/max_slot_wal_keep_size, is read-only on the[\s\S]*allowed value -1 only/);
    expect(text).toContain(
      'https://learn.microsoft.com/azure/postgresql/server-parameters/param-replication-sending-servers',
    );
  });

  test('on PostgreSQL 18 an unread slot is invalidated after slotIdleTimeoutHours (in seconds), a week by default', () => {
    const timeout = children.find((r) => /name:\s*'idle_replication_slot_timeout'/.test(r.body));
    expect(timeout?.type).toBe('Microsoft.DBforPostgreSQL/flexibleServers/configurations');
    expect(source(POSTGRES)).toMatch(
      /^resource slotIdleTimeout '[^']+' = if \(version == '18' && slotIdleTimeoutHours > 0\)/m,
    );
    expect(timeout?.body).toMatch(/value:\s*string\(slotIdleTimeoutHours \* 3600\)/);
    expect(readFileSync(POSTGRES, 'utf8')).toContain(
      'https://learn.microsoft.com/azure/postgresql/server-parameters/param-replication-standby-servers',
    );
    expect(source(MAIN)).toMatch(/^param postgresSlotIdleTimeoutHours int = 168$/m);
    const call = modules(source(MAIN)).find((m) => m.path === 'app/postgres.bicep');
    expect(call?.body).toMatch(/slotIdleTimeoutHours:\s*postgresSlotIdleTimeoutHours/);
    // Longer than the app's own drop of a disabled definition's slot, so the app acts (and says so) first.
    const deployed = loadSettings({
      DATABASE_URL: 'postgres://u@h/db',
      SLOT_DROP_AFTER_DISABLED_HOURS: /SLOT_DROP_AFTER_DISABLED_HOURS:\s*'(\d+)'/.exec(
        source(FUNCTION_APP),
      )?.[1],
      SLOT_WAL_WARN_BYTES: /SLOT_WAL_WARN_BYTES:\s*'(\d+)'/.exec(source(FUNCTION_APP))?.[1],
    });
    expect(168).toBeGreaterThan(deployed.SLOT_DROP_AFTER_DISABLED_HOURS);
    expect(deployed.SLOT_WAL_WARN_BYTES).toBe(1024 ** 3);
  });

  test('children are chained one after another with dependsOn, loops one at a time', () => {
    expect(children.map((r) => r.type.split('/').pop())).toEqual(
      expect.arrayContaining(['configurations', 'firewallRules', 'administrators', 'databases']),
    );
    children.forEach((child, i) => {
      if (i === 0) {
        expect(child.body).not.toMatch(/dependsOn/);
        return;
      }
      const dependsOn = /dependsOn:\s*\[([^\]]*)\]/.exec(child.body)?.[1] ?? '';
      expect({
        child: child.symbol,
        dependsOnPrevious: new RegExp(`\\b${children[i - 1].symbol}\\b`).test(dependsOn),
      }).toEqual({
        child: child.symbol,
        dependsOnPrevious: true,
      });
    });
    for (const loop of children.filter(
      (r) => /^\s*for\b/.test(r.body) || r.decorators.some((d) => d.startsWith('@batchSize')),
    )) {
      expect(loop.decorators).toContain('@batchSize(1)');
    }
  });

  test('the deployer becomes the Entra administrator; the app role and firewall come from params', () => {
    const admin = children.find((r) => r.type.endsWith('/administrators'));
    expect(admin?.body).toMatch(/name:\s*entraAdminObjectId/);
    expect(source(MAIN)).toMatch(/^param principalId string = deployer\(\)\.objectId$/m);
    const allowAzure = children.find((r) => r.symbol === 'allowAzure');
    expect(allowAzure?.body).toMatch(/startIpAddress:\s*'0\.0\.0\.0'/);
  });
});

describe('azure.yaml: names the infra and hooks that exist', () => {
  const yaml = readFileSync(join(ROOT, 'azure.yaml'), 'utf8');

  test('infra path and module point at infra/main.bicep', () => {
    const path = /^\s+path:\s*(\S+)/m.exec(yaml)?.[1];
    const module = /^\s+module:\s*(\S+)/m.exec(yaml)?.[1];
    expect(existsSync(join(ROOT, `${path}/${module}.bicep`))).toBe(true);
    expect(yaml).toMatch(/provider:\s*bicep/);
  });

  test('the api service is a TypeScript Function App built from the repository root', () => {
    expect(yaml).toMatch(
      /services:\s*\n\s+api:\s*\n\s+project:\s*\.\s*\n\s+language:\s*ts\s*\n\s+host:\s*function/,
    );
    const pkg = z
      .object({ main: z.string() })
      .parse(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')));
    expect(pkg.main).toMatch(/^dist\/src\/functions\//);
  });

  test('every hook script exists, is executable bash, and parses', () => {
    const runs = [...yaml.matchAll(/run:\s*(\.\/scripts\/\S+)/g)].map((m) => m[1]);
    expect(runs).toEqual([
      './scripts/preprovision.sh',
      './scripts/postprovision.sh',
      './scripts/postdeploy.sh',
    ]);
    expect(yaml).toMatch(/postprovision:/);
    expect(yaml).toMatch(/postdeploy:/);
    for (const run of runs) {
      const script = join(ROOT, run);
      expect(() => accessSync(script, constants.X_OK)).not.toThrow();
    }
  });

  test('every script is bash that parses, and what it requires from azd is a main.bicep output or a user input', () => {
    const outputs = [...source(MAIN).matchAll(/^output\s+(\w+)/gm)].map((m) => m[1]);
    const userInputs = ['SHAREPOINT_SITES', 'GRAPH_CLIENT_SECRET', 'AZURE_ENV_NAME'];
    const scripts = readdirSync(SCRIPTS)
      .filter((f) => f.endsWith('.sh'))
      .map((f) => join(SCRIPTS, f))
      .concat(join(SCRIPTS, 'lib/common.sh'));
    for (const script of scripts) {
      const body = readFileSync(script, 'utf8');
      expect(body.startsWith('#!/usr/bin/env bash')).toBe(true);
      expect(() => execFileSync('bash', ['-n', script])).not.toThrow();
      const required = [...body.matchAll(/^\s*require_env\s+([A-Z_ ]+)$/gm)].flatMap((m) =>
        m[1].trim().split(/\s+/),
      );
      expect({
        script: relative(ROOT, script),
        unknown: required.filter((v) => !outputs.includes(v) && !userInputs.includes(v)),
      }).toEqual({
        script: relative(ROOT, script),
        unknown: [],
      });
    }
  });
});
