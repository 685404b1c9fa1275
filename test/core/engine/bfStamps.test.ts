import { applyDefinitions } from '../../../src/core/engine/apply';
import { runBackfill } from '../../../src/core/engine/backfill';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * docs/cli.md (backfill): "the backfill sends a row's value through the current pipeline of its direction wherever
 * an older one made it, and leaves the values the current one made (such as one pull wrote that the push pipeline
 * would not give back)"; "For a field whose `transform` (push) or `pullTransform` (pull) changed". A pair is
 * stamped with BOTH directions' pipelines whichever direction made it, so a value no pipeline made (typed by a
 * user on the side the backfill writes) counts as made by the old pipeline and is rewritten.
 */
describe('I14 docs/cli.md (backfill): a backfill rewrites only values a pipeline of its direction made', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  async function table(name: string, type: string) {
    await h.db.pool.query(
      `CREATE TABLE ${name} (id int PRIMARY KEY, name text, code ${type}, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    return (code: Record<string, string>): SyncDefinitionInput => ({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code', ...code },
      ],
    });
  }

  it('push backfill after a push pipeline change keeps a SharePoint value a user typed and pull wrote', async () => {
    const name = 'rvs1';
    const def = await table(name, 'text');
    await h.define(def({ transform: 'UPPER', pullTransform: 'LOWER' }));
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'k')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    const [item] = await h.items(name);
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
      Code: 'Hello',
    });
    expect(res.status).toBe(200);
    expect(await runPull(h.ctx, name, { trigger: 'test' })).toMatchObject({ updated: 1 });
    expect((await h.db.pool.query(`SELECT code FROM ${name}`)).rows[0].code).toBe('hello');

    // Under UPPER a push backfill leaves 'Hello' (transforms.test.ts: values pull wrote are not rewritten).
    // A change that gives every value the push pipeline makes the same result (UPPER → UPPER | TRIM):
    await applyDefinitions(h.db.pool, [
      parseDefinition(def({ transform: 'UPPER | TRIM', pullTransform: 'LOWER' })),
    ]);
    const b = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' });
    // The user's 'Hello' was made by no push pipeline: it is left, as it was before the change.
    expect({ status: b.status, updated: b.updated, sp: (await h.items(name))[0].fields.Code }).toEqual({
      status: 'SUCCEEDED',
      updated: 0,
      sp: 'Hello',
    });
  });

  it('pull backfill after a transform (push) change leaves the Postgres values users wrote', async () => {
    const name = 'rvs2';
    const def = await table(name, 'double precision');
    await h.define(def({ transform: 'SCALE(100)' }));
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 5)`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    await runPull(h.ctx, name, { trigger: 'test' });
    expect((await h.items(name))[0].fields.Code).toBe(500);

    await applyDefinitions(h.db.pool, [parseDefinition(def({ transform: 'SCALE(1000)' }))]);
    // A pull backfill of the field (say, with other fields, after a bulk repair in SharePoint): neither side changed.
    const pull = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'pull', trigger: 'test' });
    const pg = (await h.db.pool.query(`SELECT code FROM ${name}`)).rows[0].code as number;
    // Then the documented remedy for a transform change: a push backfill.
    const push = await runBackfill(h.ctx, name, {
      fields: ['Code'],
      direction: 'push',
      restart: true,
      trigger: 'test',
    });
    expect({
      pullUpdated: pull.updated,
      pg,
      pushUpdated: push.updated,
      sp: (await h.items(name))[0].fields.Code,
    }).toEqual({
      pullUpdated: 0,
      pg: 5,
      pushUpdated: 1,
      sp: 5000,
    });
  });
  it('pull backfill after a transform change that gives every item the same value rewrites no Postgres row', async () => {
    const name = 'rvs3';
    const def = await table(name, 'text');
    await h.define(def({ transform: 'UPPER' }));
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'c1')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    await runPull(h.ctx, name, { trigger: 'test' });
    const applied = await applyDefinitions(h.db.pool, [parseDefinition(def({ transform: 'UPPER | TRIM' }))]);
    const change = applied.definitions[0].changes.find((c) => c.kind === 'transform-changed');
    expect(change?.rewrites).toMatchObject({ evaluated: 1, wouldRewrite: 0 });
    const pull = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'pull', trigger: 'test' });
    const pg = (await h.db.pool.query(`SELECT code FROM ${name}`)).rows[0].code as string;
    expect({ updated: pull.updated, pg }).toEqual({ updated: 0, pg: 'c1' });
  });
  it('push backfill after a transform change re-derives a value pull wrote through transform undone', async () => {
    const name = 'rvs4';
    const def = await table(name, 'double precision');
    await h.define(def({ transform: 'SCALE(100)' }));
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 5)`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    const [item] = await h.items(name);
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
      Code: 700,
    });
    expect(res.status).toBe(200);
    expect(await runPull(h.ctx, name, { trigger: 'test' })).toMatchObject({ updated: 1 });
    expect((await h.db.pool.query(`SELECT code FROM ${name}`)).rows[0].code).toBe(7);

    // Pull wrote 7 as SCALE(100) undone: that one pipeline relates both sides, so the push backfill re-renders it.
    await applyDefinitions(h.db.pool, [parseDefinition(def({ transform: 'SCALE(1000)' }))]);
    const push = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' });
    const pull = await runBackfill(h.ctx, name, {
      fields: ['Code'],
      direction: 'pull',
      restart: true,
      trigger: 'test',
    });
    expect({
      pushUpdated: push.updated,
      pullUpdated: pull.updated,
      sp: (await h.items(name))[0].fields.Code,
      pg: (await h.db.pool.query(`SELECT code FROM ${name}`)).rows[0].code,
    }).toEqual({ pushUpdated: 1, pullUpdated: 0, sp: 7000, pg: 7 });
  });
});
