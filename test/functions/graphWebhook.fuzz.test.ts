import { HttpRequest } from '@azure/functions';
import fc from 'fast-check';
import type { EngineContext } from '../../src/core/engine/types';
import { disabledTelemetry } from '../../src/core/telemetry';
import { graphWebhook } from '../../src/functions/graphWebhook';
import { pullQueueOutput } from '../../src/functions/queues';
import { installRuntime } from '../../src/functions/runtime';
import type { TestDatabase } from '../support/db';
import { invocation, queued } from './support/invocation';
import {
  defineStored,
  metaDatabase,
  metaOnlyContext,
  notification,
  storeSubscription,
} from './support/metaFixtures';

const URL = 'http://127.0.0.1:7071/api/graph/notifications';
const SECRET = 'the-right-secret';

let db: TestDatabase;
let ctx: EngineContext;
let closeCtx: () => Promise<void>;
let uninstall: () => void;

beforeAll(async () => {
  db = await metaDatabase();
  const id = await defineStored(db.pool, 'orders');
  await storeSubscription(db.pool, { subscriptionId: 'sub-orders', definitionId: id, clientState: SECRET });
  ({ ctx, close: closeCtx } = await metaOnlyContext(db));
  uninstall = installRuntime({ ctx, telemetry: disabledTelemetry, webhookUrls: {} });
});

afterAll(async () => {
  uninstall();
  await closeCtx();
  await db.drop();
});

/** Whether a body carries at least one entry that authenticates: the known subscription and its secret. */
function carriesValidNotification(bytes: Uint8Array): boolean {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    if (
      typeof parsed !== 'object' ||
      parsed === null ||
      !Array.isArray((parsed as { value?: unknown }).value)
    ) {
      return false;
    }
    return (parsed as { value: unknown[] }).value.some(
      (n) =>
        typeof n === 'object' &&
        n !== null &&
        (n as Record<string, unknown>).subscriptionId === 'sub-orders' &&
        (n as Record<string, unknown>).clientState === SECRET,
    );
  } catch {
    return false;
  }
}

const valid = () => notification('sub-orders', SECRET);
const fieldNames = [
  'subscriptionId',
  'clientState',
  'changeType',
  'resource',
  'tenantId',
  'resourceData',
  'value',
];

/** A valid notification with one field replaced by anything, removed, or its secret slightly changed. */
const mutatedNotification: fc.Arbitrary<unknown> = fc.oneof(
  fc
    .tuple(fc.constantFrom(...fieldNames), fc.anything())
    .map(([field, value]) => ({ ...valid(), [field]: value })),
  fc.constantFrom(...fieldNames).map((field) => {
    const copy: Record<string, unknown> = { ...valid() };
    delete copy[field];
    return copy;
  }),
  fc.string({ maxLength: 140 }).map((clientState) => ({ ...valid(), clientState })),
  fc.nat({ max: SECRET.length - 1 }).map((at) => ({
    ...valid(),
    clientState: `${SECRET.slice(0, at)}${String.fromCharCode(SECRET.charCodeAt(at) ^ 1)}${SECRET.slice(at + 1)}`,
  })),
  fc.string({ maxLength: 40 }).map((subscriptionId) => ({ ...valid(), subscriptionId })),
  fc.constant(valid()),
);

const text = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

const bodies: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.string({ maxLength: 200 }).map(text),
  fc.json({ maxDepth: 4 }).map(text),
  fc.uint8Array({ maxLength: 300 }),
  fc.array(mutatedNotification, { maxLength: 8 }).map((value) => text(JSON.stringify({ value }))),
  fc
    .tuple(fc.array(mutatedNotification, { maxLength: 4 }), fc.dictionary(fc.string(), fc.jsonValue()))
    .map(([value, extra]) => text(JSON.stringify({ ...extra, value }))),
  fc.array(mutatedNotification, { maxLength: 4 }).map((value) => text(JSON.stringify(value))),
  fc.nat({ max: 20000 }).map((depth) => text('['.repeat(depth) + ']'.repeat(depth))),
  fc
    .tuple(fc.array(mutatedNotification, { minLength: 1, maxLength: 4 }), fc.nat({ max: 60 }))
    .map(([value, cut]) => {
      const full = JSON.stringify({ value });
      return text(full.slice(0, Math.max(0, full.length - cut)));
    }),
);

describe('I12 webhook fuzz: random and mutated bodies', () => {
  it('never answers 5xx and never enqueues without a valid clientState (5,000 bodies)', async () => {
    let enqueued = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(bodies, fc.constantFrom('POST', 'PUT', 'GET'), async (bytes, method) => {
        const { context } = invocation('graphWebhook');
        const withBody = method !== 'GET' && bytes.length > 0;
        const request = new HttpRequest({ method, url: URL, body: withBody ? { bytes } : undefined });
        const response = await graphWebhook(request, context);
        const status = response.status ?? 200;
        expect(status).toBeLessThan(500);
        const messages = queued(context, pullQueueOutput);
        if (messages.length > 0) {
          expect(carriesValidNotification(bytes)).toBe(true);
          expect(messages).toHaveLength(1);
          enqueued += 1;
          await db.pool.query('DELETE FROM arcore.pending_pulls');
        }
        if (status >= 400) rejected += 1;
      }),
      { numRuns: 5000 },
    );
    // The generators reach both outcomes: some bodies authenticate, many are refused.
    expect(enqueued).toBeGreaterThan(50);
    expect(rejected).toBeGreaterThan(500);
  }, 120_000);
});
