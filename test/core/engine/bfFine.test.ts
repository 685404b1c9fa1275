import { applyDefinitions } from '../../../src/core/engine/apply';
import { runBackfill } from '../../../src/core/engine/backfill';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

describe('I14 docs/cli.md (backfill): A→B→A, A→B→C, and pairs saved before the stamps', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  async function table(name: string) {
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
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'c1'), (2, 'b', 'c2')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(2);
    await runPull(h.ctx, name, { trigger: 'test' });
    return def;
  }
  const codes = async (name: string) => (await h.items(name)).map((i) => i.fields.Code).sort();
  const apply = (d: SyncDefinitionInput) => applyDefinitions(h.db.pool, [parseDefinition(d)]);

  it('A→B→A with a row pushed under B: only that row is rewritten', async () => {
    const name = 'rvf1';
    const def = await table(name);
    await apply(def("UPPER | PREFIX('P-')"));
    await h.db.pool.query(`UPDATE ${name} SET code = 'c2b' WHERE id = 2`);
    await runPush(h.ctx, name, { trigger: 'test' });
    expect(await codes(name)).toEqual(['C1', 'P-C2B']);
    await apply(def('UPPER'));
    const b = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' });
    expect(b).toMatchObject({ status: 'SUCCEEDED', updated: 1, conflicts: 0 });
    expect(await codes(name)).toEqual(['C1', 'C2B']);
  });

  it('A→B→C: the backfill gives every row C', async () => {
    const name = 'rvf2';
    const def = await table(name);
    await apply(def("UPPER | PREFIX('P-')"));
    await h.db.pool.query(`UPDATE ${name} SET name = 'b2' WHERE id = 2`);
    await runPush(h.ctx, name, { trigger: 'test' });
    await apply(def("UPPER | PREFIX('Q-')"));
    const b = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' });
    expect(b).toMatchObject({ status: 'SUCCEEDED', updated: 2, conflicts: 0 });
    expect(await codes(name)).toEqual(['Q-C1', 'Q-C2']);
  });

  it('pairs without stamps (saved before the stamps, pipeline changed then): the backfill', async () => {
    const name = 'rvf3';
    const def = await table(name);
    await apply(def("UPPER | PREFIX('P-')"));
    // As an apply before the upgrade left them: pairs without push/pull stamps.
    await h.db.pool.query(
      `UPDATE arcore.sync_ledger SET synced_source_values = jsonb_set(synced_source_values, '{Code}',
         (synced_source_values->'Code') - 'push' - 'pull')`,
    );
    const b = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' });
    expect({ updated: b.updated, codes: await codes(name) }).toEqual({ updated: 2, codes: ['P-C1', 'P-C2'] });
  });
  it('pairs without stamps on a field with pullTransform alone: a pull backfill re-derives only after a change', async () => {
    const name = 'rvf4';
    await h.db.pool.query(
      `CREATE TABLE ${name} (id int PRIMARY KEY, name text, code double precision, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    const def = (pullTransform: string): SyncDefinitionInput => ({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code', pullTransform },
      ],
    });
    await h.define(def('SCALE(0.01)'));
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 5)`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    await runPull(h.ctx, name, { trigger: 'test' });
    expect((await h.items(name))[0].fields.Code).toBe(500);
    const unstamp = () =>
      h.db.pool.query(
        `UPDATE arcore.sync_ledger SET synced_source_values = jsonb_set(synced_source_values, '{Code}',
           (synced_source_values->'Code') - 'push' - 'pull')`,
      );
    const pg = async () => (await h.db.pool.query(`SELECT code FROM ${name}`)).rows[0].code as number;
    await unstamp();
    const same = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'pull', trigger: 'test' });
    expect({ updated: same.updated, pg: await pg() }).toEqual({ updated: 0, pg: 5 });

    await apply(def('SCALE(0.001)'));
    await unstamp();
    const b = await runBackfill(h.ctx, name, {
      fields: ['Code'],
      direction: 'pull',
      restart: true,
      trigger: 'test',
    });
    expect({ updated: b.updated, pg: await pg(), sp: (await h.items(name))[0].fields.Code }).toEqual({
      updated: 1,
      pg: 0.5,
      sp: 500,
    });
  });
});
