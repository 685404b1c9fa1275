import { applyDefinitions } from '../../../src/core/engine/apply';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * I14: "A definition change never writes by itself". A field with `transform: UPPER`. Row 1 is synced the plain
 * way (its ledger pair records Postgres 'abc' for SharePoint 'ABC'). Row 2 met the same edit on both sides ('def'
 * in Postgres, 'DEF' in SharePoint): the pull saves the agreed value with the entry's old pair, which no longer
 * matches, and no run records a new one. When the pipeline changes, apply seeds a pair for row 2 from UPPER
 * "undone" ('DEF', which is not what Postgres holds: UPPER is not injective), so row 2 reads as edited in Postgres
 * under the new pipeline, and a SharePoint edit of the field is a conflict SOURCE_WINS settles against the user.
 */
describe('review r3: a pipeline change meets an entry whose pair the ledger lost', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('a SharePoint edit after the change is pulled for every row alike, with no conflict', async () => {
    const name = 'r3up1';
    await h.db.pool.query(
      `CREATE TABLE ${name} (id int PRIMARY KEY, name text, code text, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    const def = (transform: string): SyncDefinitionInput => ({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code', transform },
      ],
    });
    await h.define(def('UPPER'));
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'abc'), (2, 'b', 'abc')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(2);
    await runPull(h.ctx, name, { trigger: 'test' });
    const items = await h.items(name);
    const itemOf = (title: string) => items.find((i) => i.fields.Title === title)!;
    const edit = async (title: string, code: string) =>
      expect(
        (
          await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemOf(title).id}/fields`, {
            Code: code,
          })
        ).status,
      ).toBe(200);

    // Row 2: the same change made on both sides before a run.
    await h.db.pool.query(`UPDATE ${name} SET code = 'def' WHERE id = 2`);
    await edit('b', 'DEF');
    await runPull(h.ctx, name, { trigger: 'test' });
    await runPush(h.ctx, name, { trigger: 'test' });
    await runPull(h.ctx, name, { trigger: 'test' });

    // The operator adds a prefix to the pipeline; then users edit Code of both items in SharePoint.
    await applyDefinitions(h.db.pool, [parseDefinition(def("UPPER | PREFIX('P-')"))]);
    await edit('a', 'P-GHI');
    await edit('b', 'P-JKL');
    const pull = await runPull(h.ctx, name, { trigger: 'test' });

    const pg = (await h.db.pool.query(`SELECT id, code FROM ${name} ORDER BY id`)).rows as unknown;
    const sp = (await h.items(name)).map((i) => [i.fields.Title, i.fields.Code]).sort();
    expect({ conflicts: pull.conflicts, pg, sp }).toEqual({
      conflicts: 0,
      pg: [
        { id: 1, code: 'GHI' },
        { id: 2, code: 'JKL' },
      ],
      sp: [
        ['a', 'P-GHI'],
        ['b', 'P-JKL'],
      ],
    });
  });
});
