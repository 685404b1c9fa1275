import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { settingsSchema } from '../../src/config/settings';
import { z } from 'zod';
import { bicepFilesUnder, params, readBicep, resources, variableExpression } from './bicepSource';

/*
 * What makes a first `azd up` work, checked without Azure (Bicep cannot be compiled here): parameter
 * ranges that Azure accepts, every app setting the running code reads, every role it needs, the azd
 * version the templates need, and hooks that wait (boundedly) for what may not be ready yet.
 */

const ROOT = resolve(__dirname, '../..');
const INFRA = join(ROOT, 'infra');
const MAIN = join(INFRA, 'main.bicep');
const FUNCTION_APP = join(INFRA, 'app/functionapp.bicep');
const POSTGRES = join(INFRA, 'app/postgres.bicep');
const RBAC = join(INFRA, 'app/rbac.bicep');
const SCRIPTS = join(ROOT, 'scripts');
const read = (file: string) => readFileSync(file, 'utf8');

interface Range {
  min?: number;
  max?: number;
  allowed?: Array<string | number>;
}

/** A param's @minValue/@maxValue/@allowed decorators. */
function rangeOf(file: string, name: string): Range {
  const param = params(readBicep(file)).find((p) => p.name === name);
  if (!param) throw new Error(`param ${name} not found in ${relative(ROOT, file)}`);
  const number = (decorator: string) => {
    const d = param.decorators.find((x) => x.startsWith(`@${decorator}(`));
    return d === undefined ? undefined : Number(/\((-?\d+)\)/.exec(d)?.[1]);
  };
  const allowed = param.decorators.find((x) => x.startsWith('@allowed('));
  return {
    min: number('minValue'),
    max: number('maxValue'),
    allowed: allowed
      ? [...allowed.matchAll(/'([^']*)'|(-?\d+)/g)].map((m) => (m[1] !== undefined ? m[1] : Number(m[2])))
      : undefined,
  };
}

/**
 * Documented limits, each with its source. A template range must lie inside the documented one, so that
 * a value Bicep accepts is never refused by ARM half-way through a deployment.
 */
const DOCUMENTED: Array<{ file: string; param: string; limits: Range; source: string }> = [
  {
    file: MAIN,
    param: 'functionMaximumInstanceCount',
    limits: { min: 1, max: 1000 },
    source:
      'https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan (maximum instance count 1-1000)',
  },
  {
    file: MAIN,
    param: 'functionInstanceMemoryMB',
    limits: { allowed: [512, 2048, 4096] },
    source: 'https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#instance-memory',
  },
  {
    file: MAIN,
    param: 'postgresReplicationSlots',
    // max_replication_slots 2-262143 (4+ with HA); max_wal_senders (= slots + 2) 5-100.
    limits: { min: 4, max: 98 },
    source: 'https://learn.microsoft.com/azure/postgresql/flexible-server/param-replication-sending-servers',
  },
  {
    file: MAIN,
    param: 'postgresStorageSizeGB',
    limits: { min: 32, max: 32767 },
    source: 'https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-storage',
  },
  {
    file: MAIN,
    param: 'postgresVersion',
    limits: { allowed: ['14', '15', '16', '17', '18'] },
    source: 'https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-supported-versions',
  },
  {
    file: MAIN,
    param: 'graphRuPerMinute',
    limits: { min: 1, max: 6250 },
    source:
      'https://learn.microsoft.com/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online (1,250-6,250 resource units per app per minute)',
  },
  {
    file: POSTGRES,
    param: 'replicationSlots',
    limits: { min: 4, max: 98 },
    source: 'https://learn.microsoft.com/azure/postgresql/flexible-server/param-replication-sending-servers',
  },
];

describe('infra: parameter ranges lie within the documented limits', () => {
  test.each(DOCUMENTED.map((d) => [`${relative(ROOT, d.file)} ${d.param}`, d] as const))('%s', (_name, d) => {
    const range = rangeOf(d.file, d.param);
    if (d.limits.allowed) {
      expect(range.allowed).toBeDefined();
      expect(range.allowed!.filter((v) => !d.limits.allowed!.includes(v))).toEqual([]);
      return;
    }
    // Both bounds must be stated, and inside the documented ones.
    expect({ param: d.param, min: range.min, max: range.max }).toEqual({
      param: d.param,
      min: expect.any(Number),
      max: expect.any(Number),
    });
    expect(range.min!).toBeGreaterThanOrEqual(d.limits.min!);
    expect(range.max!).toBeLessThanOrEqual(d.limits.max!);
  });

  test('max_wal_senders is max_replication_slots + 2, inside 5-100 for every accepted slot count', () => {
    const all = resources(readBicep(POSTGRES));
    const value = (setting: string) =>
      /value:\s*([^\n]+)/
        .exec(all.find((r) => r.body.includes(`name: '${setting}'`))?.body ?? '')?.[1]
        .trim();
    expect(value('max_replication_slots')).toBe('string(replicationSlots)');
    expect(value('max_wal_senders')).toBe('string(replicationSlots + 2)');
    const { min, max } = rangeOf(POSTGRES, 'replicationSlots');
    expect(min! + 2).toBeGreaterThanOrEqual(5);
    expect(max! + 2).toBeLessThanOrEqual(100);
  });

  test('the main.bicep and module ranges of the same value agree', () => {
    expect(rangeOf(MAIN, 'postgresReplicationSlots')).toEqual(rangeOf(POSTGRES, 'replicationSlots'));
    expect(rangeOf(MAIN, 'postgresStorageSizeGB')).toEqual(rangeOf(POSTGRES, 'storageSizeGB'));
    expect(rangeOf(MAIN, 'functionMaximumInstanceCount')).toEqual(
      rangeOf(FUNCTION_APP, 'maximumInstanceCount'),
    );
  });
});

/** Source files the deployed app runs (not the CLI, demo, emulator, local host or benchmarks). */
function runtimeSources(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
    );
  return ['src/functions', 'src/core', 'src/config'].flatMap((d) => walk(join(ROOT, d)));
}

describe("docs/deploy.md: the defaults it states are the templates' defaults", () => {
  test('each parameter listed "in the parameters file only" has the default main.bicep gives it', () => {
    const deploy = read(join(ROOT, 'docs/deploy.md'));
    const start = deploy.indexOf('In the parameters file only:');
    const paragraph = deploy.slice(start, deploy.indexOf('\n\n', start));
    const stated = [...paragraph.matchAll(/`(\w+)` \((?:`([^`]*)`|(\d+))/g)].map((m) => ({
      param: m[1],
      value: m[2] ?? m[3],
    }));
    expect(stated.length).toBeGreaterThanOrEqual(10);
    const main = readBicep(MAIN);
    const actual = stated.map(({ param }) => {
      const m = new RegExp(`^param\\s+${param}\\s+\\w+\\s*=\\s*(?:'([^']*)'|(\\S+))\\s*$`, 'm').exec(main);
      return { param, value: m ? (m[1] ?? m[2]) : 'no default in main.bicep' };
    });
    expect(actual).toEqual(stated);
  });
});

describe('infra: every app setting the running code reads is provisioned', () => {
  const expression = variableExpression(readBicep(FUNCTION_APP), 'appSettings');
  const provisioned = new Set([...expression.matchAll(/^\s*([A-Za-z_]\w*)\s*:/gm)].map((m) => m[1]));
  /** Read by the code but not set by the template, each for a stated reason. */
  const NOT_PROVISIONED: Record<string, string> = {
    GRAPH_CERTIFICATE_PATH: 'certificate mode is not offered by the templates',
    GRAPH_TOKEN: 'emulator and development only',
    GRAPH_CA_CERT_FILE: 'emulator only',
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'set only when appInsightsEntraAuth (checked below)',
    GRAPH_CLIENT_SECRET: 'set only in clientSecret mode, as a Key Vault reference',
  };

  test('settings schema, direct process.env reads and %SETTING% binding expressions', () => {
    const schemaNames = Object.keys(
      (z.toJSONSchema(settingsSchema, { io: 'input' }) as { properties?: Record<string, unknown> })
        .properties ?? {},
    );
    const readInCode = new Set<string>(schemaNames);
    for (const file of runtimeSources()) {
      const text = read(file);
      for (const m of text.matchAll(/process\.env\.([A-Z][A-Z0-9_]+)/g)) readInCode.add(m[1]);
      for (const m of text.matchAll(/'%([A-Z][A-Z0-9_]+)%/g)) readInCode.add(m[1]);
    }
    expect(readInCode.size).toBeGreaterThan(15);
    const missing = [...readInCode].filter((s) => !provisioned.has(s) && !(s in NOT_PROVISIONED));
    expect(missing).toEqual([]);
  });

  test('the conditional settings are written under their conditions', () => {
    expect(expression).toMatch(/graphAuthMode == 'clientSecret'\s*\?\s*\{\s*GRAPH_CLIENT_SECRET:/);
    expect(expression).toMatch(/appInsightsEntraAuth\s*\?\s*\{\s*APPLICATIONINSIGHTS_AUTHENTICATION_STRING:/);
  });
});

describe('infra: every role the app needs is assigned to its identity', () => {
  const rbac = resources(readBicep(RBAC));
  const roleIds = Object.fromEntries(
    [...variableExpression(readBicep(RBAC), 'roles').matchAll(/(\w+):\s*'([0-9a-f-]{36})'/g)].map((m) => [
      m[1],
      m[2],
    ]),
  );
  /** What the code or the host does → the built-in role it needs (ids from the Azure built-in roles list). */
  const NEEDED: Array<{ role: string; id: string; scope: string; why: string }> = [
    {
      role: 'storageBlobDataOwner',
      id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
      scope: 'storage',
      why: 'host storage, timer leases, deployment package',
    },
    {
      role: 'storageQueueDataContributor',
      id: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
      scope: 'storage',
      why: 'queue triggers and outputs, poison queues',
    },
    {
      role: 'storageTableDataContributor',
      id: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
      scope: 'storage',
      why: "the host's diagnostic events",
    },
    {
      role: 'keyVaultSecretsUser',
      id: '4633458b-17de-408a-b874-0445c86b69e6',
      scope: 'vault',
      why: 'Key Vault references in app settings',
    },
    {
      role: 'monitoringMetricsPublisher',
      id: '3913510d-42f4-4e42-8a64-420c390055eb',
      scope: 'appInsights',
      why: 'Entra-authenticated telemetry',
    },
  ];

  test.each(NEEDED.map((n) => [n.role, n] as const))('%s', (_role, n) => {
    expect(roleIds[n.role]).toBe(n.id);
    const assignment = rbac.find(
      (r) =>
        r.type === 'Microsoft.Authorization/roleAssignments' &&
        new RegExp(`roles\\.${n.role}\\b`).test(r.body) &&
        /principalId:\s*appIdentityPrincipalId/.test(r.body),
    );
    expect({ role: n.role, assigned: assignment !== undefined }).toEqual({ role: n.role, assigned: true });
    expect(assignment!.body).toMatch(new RegExp(`scope:\\s*${n.scope}\\b`));
  });

  test('the Graph application permission is granted by the Graph Bicep extension or the hook', () => {
    const entra = read(join(INFRA, 'app/entra.bicep'));
    expect(entra).toMatch(/resource \w+ 'Microsoft\.Graph\/appRoleAssignedTo@v1\.0'/);
    expect(entra).toMatch(/principalId:\s*appPrincipalId/);
    const main = readBicep(MAIN);
    expect(main).toMatch(/appPrincipalId:\s*identity\.outputs\.principalId/);
    expect(read(join(SCRIPTS, 'postprovision.sh'))).toContain('grant-graph-permissions.sh');
  });
});

describe('azd: version, hooks that wait, a redeployable Key Vault', () => {
  const yaml = read(join(ROOT, 'azure.yaml'));
  const common = read(join(SCRIPTS, 'lib/common.sh'));

  test('azd 1.17.0 or later is required in azure.yaml, checked by the hooks, and stated in the docs', () => {
    expect(yaml).toMatch(/requiredVersions:\s*\n\s+azd:\s*'>= 1\.17\.0'/);
    expect(common).toMatch(/readonly AZD_MIN_VERSION='1\.17\.0'/);
    for (const hook of ['preprovision.sh', 'postprovision.sh', 'postdeploy.sh']) {
      expect({ hook, checks: read(join(SCRIPTS, hook)).includes('require_azd_version') }).toEqual({
        hook,
        checks: true,
      });
    }
    const deploy = read(join(ROOT, 'docs/deploy.md'));
    expect(deploy).toMatch(/azd`?\)? 1\.17 or later/);
    expect(deploy).not.toMatch(/1\.10 or later/);
  });

  test('the postdeploy check waits for the freshly published host with a bound', () => {
    const script = read(join(SCRIPTS, 'set-webhook-urls.sh'));
    expect(script).toMatch(/attempts=\$\{WEBHOOK_CHECK_ATTEMPTS:-\d+\}/);
    expect(script).toMatch(/retry "\$attempts" 10 answers_validation/);
    expect(script).toMatch(/curl [^\n]*--max-time 10/);
    // retry gives up after its attempts (no unbounded loop).
    expect(common).toMatch(/if \(\(n >= attempts\)\); then\s*\n\s*return 1/);
  });

  test('a Key Vault soft-deleted by azd down is recovered before provisioning; purge protection stays off', () => {
    expect(read(join(SCRIPTS, 'preprovision.sh'))).toContain('recover-key-vault.sh');
    expect(read(join(SCRIPTS, 'recover-key-vault.sh'))).toMatch(/az keyvault recover --name "\$vault"/);
    const vault = resources(readBicep(join(INFRA, 'app/keyvault.bicep'))).find(
      (r) => r.type === 'Microsoft.KeyVault/vaults',
    );
    expect(vault?.body).toMatch(/enableSoftDelete:\s*true/);
    expect(vault?.body).not.toMatch(/enablePurgeProtection/);
    // Unique per environment: the name includes the resource token.
    expect(readBicep(MAIN)).toMatch(/name:\s*'\$\{abbrs\.keyVaultVaults\}\$\{resourceToken\}'/);
  });

  test('remoteBuild is explicit, and azd deploys exactly what npm run package builds', () => {
    expect(yaml).toMatch(/^\s+remoteBuild:\s*false\s*$/m);
    expect(yaml).toMatch(/^\s+dist:\s*\.arcore\/package\s*$/m);
    expect(yaml).toMatch(/prepackage:\s*\n\s+posix:\s*\n\s+shell:\s*sh\s*\n\s+run:\s*npm run package/);
    const pkg = z
      .object({ scripts: z.record(z.string(), z.string()) })
      .parse(JSON.parse(read(join(ROOT, 'package.json'))));
    expect(pkg.scripts.package).toBe('node scripts/package-app.js');
    expect(read(join(SCRIPTS, 'package-app.js'))).toContain("join(root, '.arcore', 'package')");
  });

  test('every .bicep file was read by the text checks', () => {
    expect(bicepFilesUnder(INFRA).map((f) => relative(ROOT, f))).toEqual(
      expect.arrayContaining(['infra/app/entra.bicep', 'infra/app/rbac.bicep']),
    );
  });
});

describe('Node versions are stated once and consistently', () => {
  const pkg = z
    .object({ engines: z.object({ node: z.string() }) })
    .loose()
    .parse(JSON.parse(read(join(ROOT, 'package.json'))));

  test('engines, the Azure runtime, CI, the bundle target and the README agree', () => {
    // applicationinsights 3.16 pulls @azure/monitor-opentelemetry, which declares Node >= 22 but runs on
    // 20.19+ (checked on the build machines); Azure runs 22.
    expect(pkg.engines.node).toBe('^20.19.0 || ^22.0.0');
    const runtime = /name:\s*'node'\s*\n\s*version:\s*'(\d+)'/.exec(readBicep(FUNCTION_APP))?.[1];
    expect(runtime).toBe('22');
    expect(read(join(ROOT, '.ci/run'))).toMatch(/\(a===20&&b>=19\)\|\|a===22/);
    expect(read(join(SCRIPTS, 'package-app.js'))).toMatch(/target: 'node20'/);
    expect(read(join(ROOT, 'README.md'))).toContain('`engines`: `^20.19.0 || ^22.0.0`');
  });
});
