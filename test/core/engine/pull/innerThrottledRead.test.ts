import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * A pull whose change page must read items again by id (\$batch of single-item GETs) meets SharePoint throttling
 * one of those inner GETs (429 + Retry-After; each inner request is throttled on its own). I10: the engine honours
 * Retry-After and retries throttled batch items itself; I16: throttling is never a failure of the run. The run
 * FAILED before (found by review; the target's side: test/core/target/sharepoint/readByIdsThrottled.test.ts).
 */
describe('I10/I16 an inner 429 on a read-again GET inside a $batch', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable', deltaRepeats: false, deltaChangesWithoutFields: true });
  });
  afterAll(() => h.close());

  it('the pull waits the Retry-After and applies the edit instead of failing the run', async () => {
    await h.db.pool.query(`CREATE TABLE bare (id integer PRIMARY KEY, name text, note text,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO bare (id, name, note) VALUES (1, 'A', 'kept'), (2, 'B', 'kept too')`);
    await h.define({
      name: 'bare',
      source: { table: 'bare', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'bare' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'note', target: 'Note' },
      ],
      conflictPolicy: 'SOURCE_WINS',
      deletes: { push: 'PROPAGATE', pull: 'PROPAGATE' },
    });
    expect(await runPush(h.ctx, 'bare', { trigger: 'test' })).toMatchObject({ created: 2 });
    await runPull(h.ctx, 'bare', { trigger: 'test' });

    const item = (await h.items('bare')).find((i) => i.fields.Title === 'A');
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/bare/items/${item?.id}/fields`, {
      Title: 'A from SharePoint',
    });
    expect(res.status).toBe(200);
    h.emulator.control.injectFault({
      method: 'GET',
      pathPattern: '/items/\\d+$',
      count: 1,
      status: 429,
      retryAfterSeconds: 1,
    });
    const pulled = await runPull(h.ctx, 'bare', { trigger: 'test' }).catch((e: unknown) => ({
      thrown: String(e),
    }));
    expect(pulled).toMatchObject({ status: 'SUCCEEDED', updated: 1 });
    const { rows } = await h.db.pool.query('SELECT name FROM bare WHERE id = 1');
    expect(rows[0].name).toBe('A from SharePoint');
  });
});
