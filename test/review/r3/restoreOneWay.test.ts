import { runBackfill } from '../../../src/core/engine/backfill';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * full_resync pulling under deletes.push IGNORE re-creates a deleted row from its item, "the row's surviving copy"
 * (docs/cli.md). A field whose push pipeline cannot be undone (REGEX, no pullTransform) is one-way PUSH_ONLY; a
 * pull inserting a row for a new item keeps its SharePoint value as it is (plan.ts pulledOnInsert, transform.ts
 * pulledValue: "kept as it is rather than lost"). restoreRows inserts only plan.toPostgres, so the restored row
 * gets NULL there while the ledger's synced value is the item's; the next push then clears the item's value.
 */
describe('review r3: full_resync pull restoring a row with a one-way transformed field', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it("the restored row keeps the item's value, and the next push does not clear it in SharePoint", async () => {
    const name = 'r3ro1';
    await h.db.pool.query(
      `CREATE TABLE ${name} (id int PRIMARY KEY, name text, code text, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    const def: SyncDefinitionInput = {
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      deletes: { push: 'IGNORE' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code', transform: 'REGEX(s/-//g)' },
      ],
    };
    await h.define(def);
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'x-1'), (2, 'b', 'y-2')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(2);
    await runPull(h.ctx, name, { trigger: 'test' });

    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ deleted: 0, failed: 0 });
    const restored = await runBackfill(h.ctx, name, {
      fields: ['Title'],
      strategy: 'full_resync',
      direction: 'pull',
      trigger: 'test',
    });
    expect(restored).toMatchObject({ status: 'SUCCEEDED', created: 1, failed: 0 });
    // Until here the item holds its value.
    expect((await h.items(name)).find((i) => i.fields.Title === 'a')?.fields.Code).toBe('x1');
    await runPush(h.ctx, name, { trigger: 'test' });
    await runPull(h.ctx, name, { trigger: 'test' });

    const pg = (await h.db.pool.query(`SELECT name, code FROM ${name} WHERE id = 1`)).rows[0] as unknown;
    const item = (await h.items(name)).find((i) => i.fields.Title === 'a');
    expect({ pg, sp: item?.fields.Code }).toEqual({ pg: { name: 'a', code: 'x1' }, sp: 'x1' });
  });
});
