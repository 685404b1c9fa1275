import { execFile } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { nodeArgsFor } from '../support/childNode';
import { gunzipSync } from 'node:zlib';
import selfsigned from 'selfsigned';
import {
  collectFetchDependencies,
  disabledTelemetry,
  entraClientIdOf,
  invocationLogger,
  runEventOf,
  startTelemetry,
  type FetchDependency,
} from '../../src/core/telemetry';
import { invocation } from './support/invocation';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('telemetry', () => {
  let plain: Server;
  let plainAddress: string;

  beforeAll(async () => {
    plain = createHttpServer((req, res) => {
      res.writeHead(req.url?.startsWith('/missing') ? 404 : 200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
    plainAddress = await listen(plain);
  });
  afterAll(() => new Promise<void>((resolve) => plain.close(() => resolve())));

  it('is off (no SDK, no-op methods) without a connection string', async () => {
    expect(await startTelemetry(undefined)).toBe(disabledTelemetry);
    expect(disabledTelemetry.enabled).toBe(false);
  });

  it('reads the managed identity for Entra-only ingestion from APPLICATIONINSIGHTS_AUTHENTICATION_STRING', () => {
    expect(entraClientIdOf('Authorization=AAD;ClientId=abc-123')).toBe('abc-123');
    expect(entraClientIdOf('ClientId=abc-123;Authorization=AAD')).toBe('abc-123');
    expect(entraClientIdOf('Authorization=AAD')).toBe('');
    expect(entraClientIdOf(undefined)).toBeUndefined();
    expect(entraClientIdOf('Authorization=Other;ClientId=x')).toBeUndefined();
  });

  it('sees fetch requests (how Graph is called) as dependencies, without their query strings', async () => {
    const seen: FetchDependency[] = [];
    const stop = collectFetchDependencies((d) => seen.push(d));
    try {
      await (await fetch(`http://${plainAddress}/v1.0/sites/x?token=secret`)).text();
      await (await fetch(`http://${plainAddress}/missing`)).text();
    } finally {
      stop();
    }
    await (await fetch(`http://${plainAddress}/after-stop`)).text();
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({
      method: 'GET',
      url: `http://${plainAddress}/v1.0/sites/x`,
      host: plainAddress,
      statusCode: 200,
      success: true,
    });
    expect(seen[1]).toMatchObject({ statusCode: 404, success: false });
    expect(JSON.stringify(seen)).not.toContain('secret');
  });

  it('writes engine log lines through the invocation context at the right level', () => {
    const { context, logs } = invocation('pushWorker');
    const log = invocationLogger(context);
    log.info('pushed', { definition: 'orders' });
    log.warn('slow');
    log.error('failed');
    expect(logs).toEqual([
      { level: 'information', text: 'pushed {"definition":"orders"}' },
      { level: 'warning', text: 'slow' },
      { level: 'error', text: 'failed' },
    ]);
  });

  it('sends the ArcoreRun event, run metrics, exceptions with ids, and Graph and Postgres dependencies to Application Insights', async () => {
    const pems = await selfsigned.generate([{ name: 'commonName', value: '127.0.0.1' }], {
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    const envelopes: { name: string; data: { baseData: Record<string, unknown> } }[] = [];
    const ingestion = createHttpsServer({ key: pems.private, cert: pems.cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const text = body.toString();
        const items: unknown = text.trim().startsWith('[')
          ? JSON.parse(text)
          : text
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l));
        envelopes.push(...(items as typeof envelopes));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ itemsReceived: 1, itemsAccepted: 1, errors: [] }));
      });
    });
    const address = await listen(ingestion);
    try {
      const connection = `InstrumentationKey=11111111-1111-1111-1111-111111111111;IngestionEndpoint=https://${address}/`;
      const child = join(__dirname, 'support', 'telemetryChild.ts');
      const output = await new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          [
            ...nodeArgsFor(child),
            connection,
            `http://${plainAddress}/v1.0/graph-call`,
            String(process.env.ARCORE_TEST_ADMIN_URL),
          ],
          {
            env: {
              ...process.env,
              // The ingestion stand-in has a self-signed certificate; only this child trusts it blindly.
              NODE_TLS_REJECT_UNAUTHORIZED: '0',
              // The SDK rate-limits traces (5 per second) by default, which keeps only one of the child's
              // dependencies from its first second; keep every span here.
              OTEL_TRACES_SAMPLER: 'always_on',
            },
            timeout: 45_000,
          },
          (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
        );
      });
      expect(output).toContain('enabled=true');
      const byType = (suffix: string) =>
        envelopes.filter((e) => e.name.endsWith(suffix)).map((e) => e.data.baseData);
      const event = byType('.Event').find((e) => e.name === 'ArcoreRun');
      const expected = runEventOf({
        runId: '41',
        definition: 'orders',
        runType: 'PUSH',
        status: 'FAILED',
        startedAt: '',
        durationMs: 1234,
        throttleWaitMs: 500,
        graphRequests: 9,
        resourceUnits: 18,
        paceWaitMs: 250,
        complete: true,
        resumeAfter: null,
        parkedFailures: 1,
        openConflicts: 2,
        heldMoves: 0,
        processed: 10,
        created: 4,
        updated: 3,
        deleted: 1,
        skipped: 2,
        conflicts: 2,
        failed: 1,
        moved: 0,
        unrouted: 0,
        error: 'Graph said no',
      });
      expect(event).toMatchObject({ properties: expected.properties, measurements: expected.measurements });
      const metrics = byType('.Metric').flatMap((m) => m.metrics as { name: string; value: number }[]);
      expect(metrics).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'Arcore.ResourceUnits', value: 18 }),
          expect.objectContaining({ name: 'Arcore.ThrottleWaitMs', value: 500 }),
          expect.objectContaining({ name: 'Arcore.Conflicts', value: 2 }),
        ]),
      );
      const exceptions = byType('.Exception');
      expect(exceptions).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            properties: expect.objectContaining({ definition: 'orders', runId: '41' }),
          }),
        ]),
      );
      const dependencies = byType('.RemoteDependency');
      expect(dependencies).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            type: 'Http',
            resultCode: '200',
            data: `http://${plainAddress}/v1.0/graph-call`,
            success: true,
          }),
        ]),
      );
      expect(dependencies).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ type: 'postgresql', name: expect.stringMatching(/^pg\.query/) }),
        ]),
      );
      expect(JSON.stringify(envelopes)).not.toContain('secret-delta-token');
    } finally {
      await new Promise<void>((resolve) => ingestion.close(() => resolve()));
    }
  }, 60_000);
});
