/**
 * I1, I14 (docs/design.md, "Definitions evolve safely"; found by review r24): a key column retyped in Postgres
 * (integer → text) renders its values into other identity hashes than the ledger's. Every run refuses it before
 * writing, naming the column, both types and the next step; with the former type back, the edit syncs to its item.
 */
import { KeyTypeChangedError } from '../../../src/core/engine/keyKinds';
import { runPull } from '../../../src/core/engine/pull';
import { relinkDefinition } from '../../../src/core/engine/relink';
import { verifyDefinition } from '../../../src/core/engine/verify';
import { runPush } from '../../../src/core/engine/push';
import { startHarness, type Harness } from '../../support/engineHarness';
import { pushedTwoProjects } from '../../support/projects';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

const items = async () =>
  (await h.items('projects'))
    .map((i) => ({ id: i.id, title: i.fields.Title }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));

describe('I1/I14 a key column whose type changes', () => {
  it('is refused by every run, relink and verify, naming the column, both types and the next step; nothing is written', async () => {
    await pushedTwoProjects(h, 'projects');
    const before = await items();
    // Codes become alphanumeric: the key column is retyped; its values stay '1' and '2'.
    await h.db.pool.query('ALTER TABLE projects ALTER COLUMN id TYPE text USING id::text');
    await h.db.pool.query("UPDATE projects SET name = 'one edited' WHERE id = '1'");
    for (const run of [runPush, runPull]) {
      const summary = await run(h.ctx, 'projects', { trigger: 'test' });
      expect(summary).toMatchObject({
        status: 'FAILED',
        errorKind: 'invalid_definition',
        created: 0,
        deleted: 0,
      });
      expect(summary.error).toBe(
        'Definition "projects": key column "id" of "public"."projects" was integer when its rows were synced and ' +
          'is text now: its values no longer match the keys of the synced items, so every row would look new (its ' +
          'item deleted and created again, or a second item). Nothing was written',
      );
      expect(summary.errorHint).toMatch(
        /ALTER TABLE "public"\."projects" ALTER COLUMN "id" TYPE integer USING "id"::integer\), or sync from a view/,
      );
    }
    // relink would pair no item (their hidden keys name the old rendering) and verify would find none paired.
    await expect(relinkDefinition(h.ctx, 'projects')).rejects.toBeInstanceOf(KeyTypeChangedError);
    await expect(verifyDefinition(h.ctx, 'projects')).rejects.toBeInstanceOf(KeyTypeChangedError);
    expect(await items()).toEqual(before);

    await h.db.pool.query('ALTER TABLE projects ALTER COLUMN id TYPE integer USING id::integer');
    expect(await runPush(h.ctx, 'projects', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      created: 0,
      updated: 1,
      deleted: 0,
    });
    expect(await items()).toEqual([{ ...before[0], title: 'one edited' }, before[1]]);
  });
});
