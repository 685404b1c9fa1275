import { applyDefinitions } from '../../../src/core/engine/apply';
import { runBackfill } from '../../../src/core/engine/backfill';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * docs/cli.md (backfill): "A push backfill re-derives, from Postgres, the SharePoint values an older push pipeline
 * wrote". A field with both pipelines. Row 2's Code meets a conflict in a pull that SOURCE_WINS settles by
 * writing Postgres's value back to SharePoint through the push pipeline (pull/writeBacks.ts). The write-back
 * saves the entry with its old pair, and the next pull that pairs the field again stamps it as made by pull
 * (sourcePairs' producer), so after a `transform` change the push backfill leaves that item under the old pipeline.
 */
describe('review r3: a value the push pipeline wrote back during a pull', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('is re-derived by a push backfill after the transform changes, like every other pushed value', async () => {
    const name = 'r3wb1';
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
        { source: 'code', target: 'Code', transform, pullTransform: 'LOWER' },
      ],
    });
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
