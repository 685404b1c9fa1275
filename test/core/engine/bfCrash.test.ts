import { applyDefinitions } from '../../../src/core/engine/apply';
import { runBackfill } from '../../../src/core/engine/backfill';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { verifyDefinition } from '../../../src/core/engine/verify';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * I6: a transform backfill stopped after its writes but before its metadata commit (a crash, a lost connection:
 * simulated deterministically by making the commit of the backfill's position fail) must reach the end state of an
 * uninterrupted backfill. The rebuild writes a side while the other side is unchanged, so the half-done pair looks
 * like an edit to the next pull or to the resumed backfill.
 */
describe('I6 docs/cli.md (backfill): a transform backfill stopped before its ledger commit ends as an uninterrupted one', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.db.pool.query(`CREATE FUNCTION public.review_fail() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'simulated crash before the backfill commit'; END $$`);
  });
  afterAll(async () => h.close());

  const failCommits = () =>
    h.db.pool.query(`CREATE TRIGGER review_fail BEFORE UPDATE ON arcore.sync_backfills FOR EACH ROW
      WHEN (OLD.position IS DISTINCT FROM NEW.position) EXECUTE FUNCTION public.review_fail()`);
  const healCommits = () => h.db.pool.query(`DROP TRIGGER review_fail ON arcore.sync_backfills`);

  async function setup(
    name: string,
    field: (v: string) => SyncDefinitionInput['fields'][number],
    code: string,
  ) {
    await h.db.pool.query(
      `CREATE TABLE ${name} (id int PRIMARY KEY, name text, code text, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    const def = (v: string): SyncDefinitionInput => ({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [{ source: 'name', target: 'Title' }, field(v)],
    });
    return { def, code };
  }
  const pgCode = async (name: string) =>
    (await h.db.pool.query(`SELECT code FROM ${name} WHERE id = 1`)).rows[0].code as string;
  const spCode = async (name: string) => (await h.items(name))[0].fields.Code;

  it('push backfill: a pull after the interruption leaves the Postgres value alone (as without it)', async () => {
    const name = 'rvc1';
    const { def } = await setup(name, (t) => ({ source: 'code', target: 'Code', transform: t }), '');
    await h.define(def('UPPER'));
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'c1')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    await runPull(h.ctx, name, { trigger: 'test' });
    await applyDefinitions(h.db.pool, [parseDefinition(def("UPPER | PREFIX('P-')"))]);

    await failCommits();
    let failed: unknown = null;
    try {
      const b = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' });
      failed = b.status;
    } catch (err) {
      failed = (err as Error).message;
    }
    await healCommits();
    expect(failed).not.toBe('SUCCEEDED');
    expect(await spCode(name)).toBe('P-C1'); // the write went out; the ledger did not learn it
    // The sides agree under the current pipeline: verify finds no difference.
    expect((await verifyDefinition(h.ctx, name)).differences).toBe(0);

    // The next scheduled pull, before anyone resumes the backfill.
    const pull = await runPull(h.ctx, name, { trigger: 'test' });
    // Uninterrupted, Postgres keeps 'c1' (the backfill only rewrites SharePoint).
    expect({ pg: await pgCode(name), pulledUpdates: pull.updated }).toEqual({ pg: 'c1', pulledUpdates: 0 });
  });

  it('pull backfill: resuming after the interruption records no conflict and leaves SharePoint alone', async () => {
    const name = 'rvc2';
    const { def } = await setup(name, (t) => ({ source: 'code', target: 'Code', pullTransform: t }), '');
    await h.define(def('TRIM'));
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'C1')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    await runPull(h.ctx, name, { trigger: 'test' });
    await applyDefinitions(h.db.pool, [parseDefinition(def('TRIM | LOWER'))]);

    await failCommits();
    let failed: unknown = null;
    try {
      const b = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'pull', trigger: 'test' });
      failed = b.status;
    } catch (err) {
      failed = (err as Error).message;
    }
    await healCommits();
    expect(failed).not.toBe('SUCCEEDED');
    expect(await pgCode(name)).toBe('c1'); // the Postgres write committed; the ledger did not learn it
    expect((await verifyDefinition(h.ctx, name)).differences).toBe(0);

    const resumed = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'pull', trigger: 'test' });
    // Uninterrupted (transformBackfill.test.ts): Postgres 'c1', SharePoint 'C1', no conflict.
    expect({
      status: resumed.status,
      conflicts: resumed.conflicts,
      sp: await spCode(name),
      pg: await pgCode(name),
    }).toEqual({
      status: 'SUCCEEDED',
      conflicts: 0,
      sp: 'C1',
      pg: 'c1',
    });
  });
  it('pull backfill: a push of the row after the interruption does not send the value back to SharePoint', async () => {
    const name = 'rvc3';
    const { def } = await setup(name, (t) => ({ source: 'code', target: 'Code', pullTransform: t }), '');
    await h.define(def('TRIM'));
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'C1')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    await runPull(h.ctx, name, { trigger: 'test' });
    await applyDefinitions(h.db.pool, [parseDefinition(def('TRIM | LOWER'))]);

    await failCommits();
    await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'pull', trigger: 'test' }).catch(
      (err: Error) => err,
    );
    await healCommits();
    expect(await pgCode(name)).toBe('c1');

    // Another column of the row changes: the push reads the row and meets Code as the backfill left it.
    await h.db.pool.query(`UPDATE ${name} SET name = 'a2' WHERE id = 1`);
    const push = await runPush(h.ctx, name, { trigger: 'test' });
    const pull = await runPull(h.ctx, name, { trigger: 'test' });
    const [item] = await h.items(name);
    expect({
      pushed: push.updated,
      conflicts: push.conflicts + pull.conflicts,
      pulled: pull.updated,
      sp: item.fields.Code,
      title: item.fields.Title,
      pg: await pgCode(name),
    }).toEqual({ pushed: 1, conflicts: 0, pulled: 0, sp: 'C1', title: 'a2', pg: 'c1' });
  });
  it('push backfill: resumed after the interruption, it ends with no conflict and nothing left to sync', async () => {
    const name = 'rvc4';
    const { def } = await setup(name, (t) => ({ source: 'code', target: 'Code', transform: t }), '');
    await h.define(def('UPPER'));
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'c1')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    await runPull(h.ctx, name, { trigger: 'test' });
    await applyDefinitions(h.db.pool, [parseDefinition(def("UPPER | PREFIX('P-')"))]);

    await failCommits();
    await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' }).catch(
      (err: Error) => err,
    );
    await healCommits();
    expect(await spCode(name)).toBe('P-C1');

    const resumed = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' });
    const after = [
      await runPull(h.ctx, name, { trigger: 'test' }),
      await runPush(h.ctx, name, { trigger: 'test' }),
    ].map((s) => s.created + s.updated + s.deleted + s.conflicts);
    expect({
      status: resumed.status,
      conflicts: resumed.conflicts,
      after,
      sp: await spCode(name),
      pg: await pgCode(name),
    }).toEqual({ status: 'SUCCEEDED', conflicts: 0, after: [0, 0], sp: 'P-C1', pg: 'c1' });
  });
});
