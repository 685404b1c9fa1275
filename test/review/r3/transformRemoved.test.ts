import { applyDefinitions } from '../../../src/core/engine/apply';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * I14: "A definition change never writes by itself". Removing a field's transform is a pipeline change like any
 * other: the synced pairs should keep telling the engine that Postgres did not change. After the removal, the
 * row's raw value ('abc') differs from the synced SharePoint value ('ABC'), so the engine takes Postgres as edited.
 */
describe('review r3: a transform removed from a field (I14, I7)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('a SharePoint edit after the removal is pulled into Postgres, not a conflict Postgres wins', async () => {
    const name = 'r3tr1';
    await h.db.pool.query(
      `CREATE TABLE ${name} (id int PRIMARY KEY, name text, code text, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    const def = (code: Record<string, string>): SyncDefinitionInput => ({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code', ...code },
      ],
    });
    await h.define(def({ transform: 'UPPER' }));
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'abc')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    await runPull(h.ctx, name, { trigger: 'test' });
    expect((await h.items(name))[0].fields.Code).toBe('ABC');

    // The operator drops the transform: nothing should be rewritten by that alone.
    await applyDefinitions(h.db.pool, [parseDefinition(def({}))]);

    // A user edits Code in SharePoint; Postgres was not touched since the last sync.
    const [item] = await h.items(name);
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
      Code: 'xyz',
    });
    expect(res.status).toBe(200);

    const pull = await runPull(h.ctx, name, { trigger: 'test' });
    const pg = (await h.db.pool.query(`SELECT code FROM ${name} WHERE id = 1`)).rows[0].code as string;
    const sp = (await h.items(name))[0].fields.Code;
    expect({ conflicts: pull.conflicts, pg, sp }).toEqual({ conflicts: 0, pg: 'xyz', sp: 'xyz' });
  });
});
