import { applyDefinitions } from '../../../src/core/engine/apply';
import { runBackfill } from '../../../src/core/engine/backfill';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * I6/I3: a push backfill stopped before its ledger commit leaves SharePoint holding the current pipeline's value
 * under an eTag the ledger does not know. The pull path and verify take the sides as agreeing (agreedEntry), but
 * the push's 412 path (push/conflicts.ts settleConflicts) decides with the raw ledger entry: an edit of ANOTHER
 * column in Postgres makes the push meet the 412 and then pull the backfill's SharePoint value back into Postgres
 * through the pipeline undone, rewriting the user's Postgres value ('c1' -> 'C1'). Uninterrupted, Postgres keeps 'c1'.
 */
describe('I6/I3 a push meeting a 412 after a stopped push backfill leaves the Postgres value (docs/cli.md, backfill)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.db.pool.query(`CREATE FUNCTION public.review_fail() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'simulated crash before the backfill commit'; END $$`);
  });
  afterAll(async () => h.close());

  it('an edit of another Postgres column after the interruption leaves Code as an uninterrupted backfill', async () => {
    const name = 'rvx1';
    await h.db.pool.query(
      `CREATE TABLE ${name} (id int PRIMARY KEY, name text, code text, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    const def = (t: string): SyncDefinitionInput => ({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code', transform: t },
      ],
    });
    await h.define(def('UPPER'));
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'c1')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    await runPull(h.ctx, name, { trigger: 'test' });
    await applyDefinitions(h.db.pool, [parseDefinition(def("UPPER | PREFIX('P-')"))]);

    await h.db.pool.query(`CREATE TRIGGER review_fail BEFORE UPDATE ON arcore.sync_backfills FOR EACH ROW
      WHEN (OLD.position IS DISTINCT FROM NEW.position) EXECUTE FUNCTION public.review_fail()`);
    await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' }).catch(
      (err: Error) => err,
    );
    await h.db.pool.query(`DROP TRIGGER review_fail ON arcore.sync_backfills`);
    expect((await h.items(name))[0].fields.Code).toBe('P-C1');

    // A user edits another column in Postgres; the next push writes Title and meets the backfill's eTag (412).
    await h.db.pool.query(`UPDATE ${name} SET name = 'a2' WHERE id = 1`);
    const push = await runPush(h.ctx, name, { trigger: 'test' });
    const [item] = await h.items(name);
    const pg = (await h.db.pool.query(`SELECT code FROM ${name} WHERE id = 1`)).rows[0].code as string;
    expect({
      conflicts: push.conflicts,
      title: item.fields.Title,
      sp: item.fields.Code,
      pg,
    }).toEqual({ conflicts: 0, title: 'a2', sp: 'P-C1', pg: 'c1' });
  });
});
