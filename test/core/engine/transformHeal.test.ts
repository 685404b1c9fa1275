import { applyDefinitions } from '../../../src/core/engine/apply';
import { runBackfill } from '../../../src/core/engine/backfill';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * After a pipeline change, a field's sides may agree under the current pipelines while its pair says otherwise (a
 * backfill stopped before its ledger commit: simulated by failing the commit of its position). That is in sync, for
 * the pull and for the push's 412 path alike (agreedEntry, transform.ts). But when both sides changed the field since
 * the last sync, it is a conflict (I7), whichever path meets it.
 */
describe('I3/I6/I7 sides a pipeline change left apart: in sync when they agree, a conflict when both changed (docs/design.md, I3)', () => {
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
  it('a Postgres edit and a SharePoint edit of the same field after a pullTransform change is a conflict', async () => {
    const name = 'rvy1';
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
        { source: 'code', target: 'Code', pullTransform: t },
      ],
    });
    await h.define(def('TRIM'));
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'C1')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    await runPull(h.ctx, name, { trigger: 'test' });
    await applyDefinitions(h.db.pool, [parseDefinition(def('TRIM | LOWER'))]);

    await h.db.pool.query(`UPDATE ${name} SET code = 'c1' WHERE id = 1`);
    const [item] = await h.items(name);
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
      Code: 'D9',
    });
    expect(res.status).toBe(200);

    const pull = await runPull(h.ctx, name, { trigger: 'test' });
    const pg = (await h.db.pool.query(`SELECT code FROM ${name} WHERE id = 1`)).rows[0].code as string;
    // Both sides changed Code: a conflict, which SOURCE_WINS settles for Postgres's 'c1'.
    expect({ conflicts: pull.conflicts, pg }).toEqual({ conflicts: 1, pg: 'c1' });
  });
  it('a Postgres and a SharePoint edit of one field after a pullTransform change, met by a push 412, is a conflict SOURCE_WINS settles for Postgres', async () => {
    const name = 'rvp1';
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
        { source: 'code', target: 'Code', pullTransform: t },
      ],
    });
    await h.define(def('TRIM'));
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'C1')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    await runPull(h.ctx, name, { trigger: 'test' });
    await applyDefinitions(h.db.pool, [parseDefinition(def('TRIM | LOWER'))]);

    // A user edits Code (and Title) in Postgres, another edits Code in SharePoint.
    await h.db.pool.query(`UPDATE ${name} SET code = 'c1', name = 'a2' WHERE id = 1`);
    const [item] = await h.items(name);
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
      Code: 'D9',
    });
    expect(res.status).toBe(200);

    // The push writes Title with the old eTag, meets a 412 and settles it.
    const push = await runPush(h.ctx, name, { trigger: 'test' });
    const pg = (await h.db.pool.query(`SELECT code FROM ${name} WHERE id = 1`)).rows[0].code as string;
    expect({ conflicts: push.conflicts, pg }).toEqual({ conflicts: 1, pg: 'c1' });
  });
});
