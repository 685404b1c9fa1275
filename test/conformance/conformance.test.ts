/**
 * `arcore-sync conformance` as a user runs it, against the strict emulator (its defaults): every check
 * passes (throttling is skipped when no 429 is met), the scratch lists are gone afterwards, and an app
 * without the permissions the engine needs fails the probe with exit 1.
 */
import { join } from 'node:path';
import { runConformance, ScratchListConflictError } from '../../src/conformance';
import { startEmulator, type RunningEmulator } from '../../src/emulator';
import { jsonOf, runCli, tempDir, writeJson, type CliEnv } from '../cli/cliHarness';
import { startReceiver, type Receiver } from '../emulator/support';

const SITE = 'contoso.sharepoint.com:/sites/demo';

interface Report {
  target: string;
  checks: { name: string; source: string; status: string; detail: string }[];
  passed: number;
  failed: number;
  skipped: number;
}

describe('arcore-sync conformance', () => {
  let emulator: RunningEmulator;
  let receiver: Receiver;
  let env: CliEnv;

  beforeAll(async () => {
    emulator = await startEmulator();
    receiver = await startReceiver();
    const dir = tempDir('conformance-');
    const caFile = writeJson(dir, 'ca.pem', emulator.caCert);
    env = { GRAPH_BASE_URL: emulator.baseUrl, GRAPH_TOKEN: emulator.appToken, GRAPH_CA_CERT_FILE: caFile };
    expect(join(dir, 'ca.pem')).toBe(caFile);
  });
  afterAll(async () => {
    await receiver.close();
    await emulator.stop();
  });

  it('passes every check against the emulator, names each source, and deletes its scratch lists', async () => {
    const result = await runCli(
      [
        'conformance',
        '--site',
        SITE,
        '--json',
        '--notification-url',
        receiver.url,
        '--lifecycle-url',
        `${receiver.url}?lifecycle=1`,
      ],
      env,
    );
    const report = jsonOf(result) as unknown as Report;
    const failed = report.checks.filter((c) => c.status === 'failed');
    expect(failed).toEqual([]);
    expect(result.code).toBe(0);
    expect(report.target).toContain(emulator.baseUrl);
    expect(report.checks.length).toBeGreaterThanOrEqual(20);
    expect(report.passed + report.failed + report.skipped).toBe(report.checks.length);
    expect(report.checks.every((c) => /^https?:\/\//.test(c.source))).toBe(true);
    expect(report.checks.filter((c) => c.status === 'skipped').map((c) => c.name)).toEqual([
      'throttling.retryAfter',
    ]);
    for (const name of [
      'permission.manageLists',
      'etag.ifMatchFieldsETag',
      'etag.stalePreconditionFailed',
      'roundTrip.multiChoice',
      'roundTrip.multiPerson',
      'delta.resync410',
      'delta.changePagesCarryFields',
      'delta.changePagesCarryModified',
      'fields.hiddenKeyInFilter',
      'etag.ifMatchUpdateAnswer',
      'etag.staleDeletePreconditionFailed',
      'engineRoundTrip.boolean',
      'engineRoundTrip.multiChoice',
      'engineRoundTrip.multiPerson',
      'engineRoundTrip.lookup',
      'engineRoundTrip.person',
      'columns.engineClassification',
      'columns.appendOnlyReadsEmpty',
      'fields.unknownSelectRefused',
      'fields.lookupThreshold',
      'batch.innerStatuses',
      'subscription.createAndRenew',
      'subscription.engineForm',
      'subscription.listedByApp',
      'subscription.reauthorize',
      'engineCreate.emptyValues',
      'items.paging',
      'lists.resolveByTitle',
      'lists.deletedAnswers404',
    ])
      expect(report.checks.find((c) => c.name === name)?.status).toBe('passed');
    const siteId = emulator.control.getSiteId(SITE);
    const lists = await fetch(`${emulator.baseUrl}/sites/${siteId}/lists`, {
      headers: { authorization: `Bearer ${emulator.appToken}` },
      dispatcher: new (await import('undici')).Agent({ connect: { ca: emulator.caCert } }),
    } as RequestInit);
    const names = ((await lists.json()) as { value: { displayName: string }[] }).value.map(
      (l) => l.displayName,
    );
    expect(names.filter((n) => n.startsWith('arcore-conformance-'))).toEqual([]);
    // Thirteen lookups: twelve in the query, the last one read item by item; Graph's threshold answers a query of all 400.
    expect(report.checks.find((c) => c.name === 'fields.lookupThreshold')?.detail).toMatch(
      /read of 13 lookups .* reads ConfLookupMore\d+LookupId item by item; a query joining all 13 answers 400/,
    );
    // The engine's subscription carried the lifecycle URL, which Graph validates too; none is left behind.
    expect(report.checks.find((c) => c.name === 'subscription.engineForm')?.detail).toMatch(
      /42000 minutes.*lifecycleNotificationUrl/,
    );
    const subscriptions = await fetch(`${emulator.baseUrl}/subscriptions`, {
      headers: { authorization: `Bearer ${emulator.appToken}` },
      dispatcher: new (await import('undici')).Agent({ connect: { ca: emulator.caCert } }),
    } as RequestInit);
    expect(((await subscriptions.json()) as { value: unknown[] }).value).toEqual([]);
    // Graph's restart Location for a token it cannot read keeps no known options (the emulator's selects no
    // fields): the check passes on the engine's own restart, which reads the fields, and records what Location reads.
    const resync = report.checks.find((c) => c.name === 'delta.resync410');
    expect(resync?.detail).toMatch(
      /the engine's restart reads \d+ item\(s\) with their fields, the hidden ConfKey/,
    );
    expect(resync?.detail).toMatch(
      /Location \(reads 0 of [1-9]\d* item\(s\) on its first page with fields\) is not followed/,
    );
    expect(report.checks.find((c) => c.name === 'columns.appendOnlyReadsEmpty')?.detail).toBe(
      'ConfAppend reads appendChangesToExistingText true and its written value reads empty (null): a field on such ' +
        'a column is taken only PUSH_ONLY',
    );
    expect(report.checks.find((c) => c.name === 'lists.deletedAnswers404')?.detail).toBe(
      "after the list's DELETE: the list by id 404, its item by id 404, its delta feed 404",
    );
  }, 120_000);

  it("fails subscription.engineForm when the lifecycle URL does not answer Graph's handshake", async () => {
    const report = await runConformance({
      graph: {
        baseUrl: emulator.baseUrl,
        auth: { kind: 'token', token: emulator.appToken },
        caCert: emulator.caCert,
      },
      site: SITE,
      notificationUrl: receiver.url,
      lifecycleNotificationUrl: 'http://127.0.0.1:9/lifecycle',
    });
    const engineForm = report.checks.find((c) => c.name === 'subscription.engineForm');
    expect(engineForm?.status).toBe('failed');
    expect(engineForm?.detail).toMatch(/lifecycleNotificationUrl http:\/\/127\.0\.0\.1:9\/lifecycle/);
    expect(engineForm?.detail).toMatch(/400/);
    expect(report.checks.find((c) => c.name === 'subscription.createAndRenew')?.status).toBe('passed');
    for (const name of ['subscription.listedByApp', 'subscription.reauthorize'])
      expect(report.checks.find((c) => c.name === name)?.status).toBe('skipped');
  }, 120_000);

  it('an app with Sites.ReadWrite.All only fails the list and column checks and exits 1', async () => {
    const token = emulator.control.issueAppToken({ roles: ['Sites.ReadWrite.All'] });
    const result = await runCli(['conformance', '--site', SITE, '--json'], { ...env, GRAPH_TOKEN: token });
    expect(result.code).toBe(1);
    const report = jsonOf(result) as unknown as Report;
    const manage = report.checks.find((c) => c.name === 'permission.manageLists');
    expect(manage?.status).toBe('failed');
    expect(manage?.detail).toMatch(/403.*Sites\.Manage\.All|Sites\.Manage\.All.*403/);
    expect(report.checks.find((c) => c.name === 'roundTrip.text')?.status).toBe('skipped');
  }, 120_000);

  it('refuses to run against a list it did not create, and leaves that list alone', async () => {
    const siteId = emulator.control.getSiteId(SITE);
    const dispatcher = new (await import('undici')).Agent({ connect: { ca: emulator.caCert } });
    const headers = { authorization: `Bearer ${emulator.appToken}`, 'content-type': 'application/json' };
    const created = await fetch(`${emulator.baseUrl}/sites/${siteId}/lists`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ displayName: 'arcore-conformance-taken', list: { template: 'genericList' } }),
      dispatcher,
    } as RequestInit);
    const listId = ((await created.json()) as { id: string }).id;
    await fetch(`${emulator.baseUrl}/sites/${siteId}/lists/${listId}/items`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ fields: { Title: 'precious' } }),
      dispatcher,
    } as RequestInit);
    await expect(
      runConformance({
        graph: {
          baseUrl: emulator.baseUrl,
          auth: { kind: 'token', token: emulator.appToken },
          caCert: emulator.caCert,
        },
        site: SITE,
        scratchSuffix: 'taken',
      }),
    ).rejects.toThrow(ScratchListConflictError);
    expect(emulator.control.listItems(siteId, listId).map((i) => i.fields.Title)).toEqual(['precious']);
    await dispatcher.close();
  });

  it('refuses a malformed --site with exit 2 before any request', async () => {
    const bad = await runCli(['conformance', '--site', 'not a site'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--site must be "host:\/server-relative-path"/);
  }, 60_000);

  it('refuses a --site-time-zone it does not know with exit 2, naming where the zone is found', async () => {
    const bad = await runCli(['conformance', '--site', SITE, '--site-time-zone', 'NZST'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /--site-time-zone must be an IANA time zone name \(the site's Regional settings/,
    );
  }, 60_000);
});
