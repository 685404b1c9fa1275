import { applyDefinitions } from '../../../../src/core/engine/apply';
import { runBackfill } from '../../../../src/core/engine/backfill';
import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { parseDefinition } from '../../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../../src/core/definition/schema';
import { installCursorTrigger } from '../../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/** I14 (docs/design.md): the pairs a pull saves for transformed fields, and what a later pipeline change makes of them. */
describe('I14 (docs/design.md): pairs of transformed fields saved by the pull', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  /** Table `name` (id, name, code) with the cursor trigger; the definition maps Code through `transform`. */
  async function codeTable(name: string, pullTransform?: string) {
    await h.db.pool.query(
      `CREATE TABLE ${name} (id int PRIMARY KEY, name text, code text, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    return (transform: string): SyncDefinitionInput => ({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code', transform, ...(pullTransform ? { pullTransform } : {}) },
      ],
    });
  }

  /**
   * I14: "A definition change never writes by itself". A field with `transform: UPPER`. Row 1 is synced the plain
   * way (its ledger pair records Postgres 'abc' for SharePoint 'ABC'). Row 2 met the same edit on both sides ('def'
   * in Postgres, 'DEF' in SharePoint): the pull saves the agreed value with the entry's old pair, which no longer
   * matches, and no run records a new one. When the pipeline changes, apply seeds a pair for row 2 from UPPER
   * "undone" ('DEF', which is not what Postgres holds: UPPER is not injective), so row 2 reads as edited in Postgres
   * under the new pipeline, and a SharePoint edit of the field is a conflict SOURCE_WINS settles against the user.
   */
  it('a SharePoint edit after the change is pulled for every row alike, with no conflict', async () => {
    const name = 'r3up1';
    const def = await codeTable(name);
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

  /**
   * docs/cli.md (backfill): "A push backfill re-derives, from Postgres, the SharePoint values an older push pipeline
   * wrote". A field with both pipelines. Row 2's Code meets a conflict in a pull that SOURCE_WINS settles by
   * writing Postgres's value back to SharePoint through the push pipeline (pull/writeBacks.ts). The write-back
   * saves the entry with its old pair, and the next pull that pairs the field again stamps it as made by pull
   * (sourcePairs' producer), so after a `transform` change the push backfill leaves that item under the old pipeline.
   */
  it('a value the push pipeline wrote back during a pull is re-derived by a push backfill after the transform changes', async () => {
    const name = 'r3wb1';
    const def = await codeTable(name, 'LOWER');
    await h.define(def('UPPER'));
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'abc'), (2, 'b', 'abc')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(2);
    await runPull(h.ctx, name, { trigger: 'test' });
    const itemOf = async (title: string) => (await h.items(name)).find((i) => i.fields.Title === title)!;
    const b = await itemOf('b');
    const edit = async (fields: Record<string, unknown>) =>
      expect(
        (await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${b.id}/fields`, fields)).status,
      ).toBe(200);

    // Both sides edit row 2's Code; the pull meets it first: SOURCE_WINS writes 'DEF' back to SharePoint.
    await h.db.pool.query(`UPDATE ${name} SET code = 'def' WHERE id = 2`);
    await edit({ Code: 'XYZ' });
    expect(await runPull(h.ctx, name, { trigger: 'test' })).toMatchObject({ conflicts: 1 });
    expect((await itemOf('b')).fields.Code).toBe('DEF');
    await runPush(h.ctx, name, { trigger: 'test' });
    // Later a SharePoint user renames the item; the pull brings Title over.
    await edit({ Title: 'b2' });
    await runPull(h.ctx, name, { trigger: 'test' });
    await runPush(h.ctx, name, { trigger: 'test' });

    await applyDefinitions(h.db.pool, [parseDefinition(def("UPPER | PREFIX('P-')"))]);
    const bf = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' });
    expect(bf.status).toBe('SUCCEEDED');
    const sp = (await h.items(name)).map((i) => [i.fields.Title, i.fields.Code]).sort();
    expect(sp).toEqual([
      ['a', 'P-ABC'],
      ['b2', 'P-DEF'],
    ]);
  });
});
