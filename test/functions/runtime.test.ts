import { graphWebhook } from '../../src/functions/graphWebhook';
import { getRuntime } from '../../src/functions/runtime';
import type { TestDatabase } from '../support/db';
import { invocation, postJson } from './support/invocation';
import { metaDatabase, notification } from './support/metaFixtures';

/** migrate.ts's advisory lock: held here, it keeps a fresh instance's migrations waiting. */
const MIGRATION_LOCK_KEY = 0x4152_4d49;
const URL = 'http://127.0.0.1:7071/api/graph/notifications';

/**
 * Graph retries a notification answered with an error within 10 s, but counts slower answers against the
 * endpoint and may drop them (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks). A cold
 * instance whose migrations are still running must therefore answer 503 in time, not wait SCHEMA_WAIT_MS.
 * Suspected by review r12.
 */
describe('notification handlers on a cold instance', () => {
  let db: TestDatabase;
  const saved = { ...process.env };

  beforeAll(async () => {
    db = await metaDatabase();
    Object.assign(process.env, { DATABASE_URL: db.url, GRAPH_AUTH: 'token', GRAPH_TOKEN: 'test-token' });
  });

  afterAll(async () => {
    process.env = saved;
    await db?.drop();
  });

  it('answers 503 while the schema is not ready, then 202 once it is', async () => {
    const holder = await db.pool.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      const body = { value: [notification('sub-unknown', 'secret')] };
      const cold = invocation('graphWebhook');
      const answer = await graphWebhook(postJson(URL, body), cold.context);
      // Unbounded, it waited SCHEMA_WAIT_MS (60 s) and answered 500, long after Graph gave up on it.
      expect(answer.status).toBe(503);
      expect(cold.logs.map((l) => l.text)).toEqual([expect.stringContaining('runtime unavailable')]);
      await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);

      const warm = invocation('graphWebhook');
      expect((await graphWebhook(postJson(URL, body), warm.context)).status).toBe(202);
    } finally {
      holder.release();
      await (await getRuntime()).ctx.meta.end();
    }
  });
});
