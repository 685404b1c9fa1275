import { runPush } from '../../../src/core/engine/push';
import { dropCaptureObjects } from '../../support/capture';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * I13 (docs/design.md): "A row with NULL in a key column is parked (one `null-key` record per definition, resolved
 * once no such row is left)". The LSN load and a TIMESTAMP push do so. A row inserted with a NULL key after the load
 * reaches the LSN push as a change whose key ChangeFolder cannot render (keyOf returns null), and is dropped without
 * a word: nothing parked, nothing reported, the run SUCCEEDED.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await dropCaptureObjects(h.db.pool);
  await h.close();
});

const push = (name: string) => runPush(h.ctx, name, { trigger: 'test' });

async function parkedNullKeys(): Promise<number> {
  const { rows } = await h.db.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM arcore.sync_failures WHERE status = 'PARKED' AND item_key = 'null-key'`,
  );
  return Number(rows[0].n);
}

it('a row inserted with a NULL key after the load is reported as the load reports it', async () => {
  await h.db.pool.query(`CREATE TABLE nullable (id serial PRIMARY KEY, code text UNIQUE, name text)`);
  await h.db.pool.query('ALTER TABLE nullable REPLICA IDENTITY FULL');
  await h.db.pool.query(`INSERT INTO nullable (code, name) VALUES ('A', 'alpha')`);
  await h.define({
    name: 'nullable',
    source: { table: 'nullable', key: ['code'], cursor: { type: 'LSN' } },
    target: { site: SITE, list: 'nullable' },
    fields: [{ source: 'name', target: 'Title' }],
  });
  expect(await push('nullable')).toMatchObject({ status: 'SUCCEEDED', created: 1 });

  await h.db.pool.query(`INSERT INTO nullable (code, name) VALUES (NULL, 'no key yet')`);
  const run = await push('nullable');
  expect(await parkedNullKeys()).toBe(1);
  expect(run.failed).toBe(1);
});
