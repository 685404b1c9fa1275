/**
 * I1, I14 (docs/design.md, "Definitions evolve safely"; found by review r24): a key column retyped in Postgres
 * (integer → text) renders its values into other identity hashes than the ledger's. Every run, backfill and resolve,
 * relink, verify and apply's route-move count refuse it before writing or counting anything by key, naming the
 * column, both types and the next step; with the former type back, the edit syncs to its item.
 */
import { exitCodeOf } from '../../../src/cli/failures';
import { parseDefinition } from '../../../src/core/definition/parse';
import { runBackfill } from '../../../src/core/engine/backfill';
import { KeyTypeChangedError } from '../../../src/core/engine/keyKinds';
import { runPull } from '../../../src/core/engine/pull';
import { relinkDefinition } from '../../../src/core/engine/relink';
import { resolveConflict } from '../../../src/core/engine/resolve';
import { previewRouteMoves } from '../../../src/core/engine/routeMoves';
import { verifyDefinition } from '../../../src/core/engine/verify';
import { runPush } from '../../../src/core/engine/push';
import { errorKindOf, hintFor } from '../../../src/core/errors/classify';
import { getDefinition } from '../../../src/core/store/definitions';
import { projectsDefinition, startHarness, type Harness } from '../../support/engineHarness';
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
  it('is refused by every run, backfill, resolve, relink, verify and route-move count, naming the column, both types and the next step; nothing is written', async () => {
    await pushedTwoProjects(h, 'projects', { definition: { conflictPolicy: 'MANUAL' } });
    // Row 2 edited on both sides: a conflict MANUAL parks, for resolve to meet.
    await runPull(h.ctx, 'projects', { trigger: 'test' });
    await h.db.pool.query("UPDATE projects SET name = 'two pg' WHERE id = 2");
    const two = (await items()).find((i) => i.title === 'two')!;
    const edited = await h.asUser('PATCH', `/sites/${h.siteId}/lists/projects/items/${two.id}/fields`, {
      Title: 'two sp',
    });
    expect(edited.status).toBe(200);
    expect(await runPull(h.ctx, 'projects', { trigger: 'test' })).toMatchObject({ conflicts: 1 });
    const [{ id: conflictId }] = (
      await h.db.pool.query<{ id: string }>("SELECT id FROM arcore.sync_conflicts WHERE status = 'OPEN'")
    ).rows;
    const before = await items();
    // Codes become alphanumeric: the key column is retyped; its values stay '1' and '2'.
    await h.db.pool.query('ALTER TABLE projects ALTER COLUMN id TYPE text USING id::text');
    await h.db.pool.query("UPDATE projects SET name = 'one edited' WHERE id = '1'");
    for (const run of [
      () => runPush(h.ctx, 'projects', { trigger: 'test' }),
      () => runPull(h.ctx, 'projects', { trigger: 'test' }),
      () => runBackfill(h.ctx, 'projects', { fields: ['name'], strategy: 'full_resync', trigger: 'test' }),
    ]) {
      const summary = await run();
      expect(summary).toMatchObject({
        status: 'FAILED',
        errorKind: 'invalid_definition',
        created: 0,
        updated: 0,
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
    // resolve would read no row by the conflict's key (it would take the row for deleted): refused as a run is, with
    // the run's kind and next step (CLI exit 2, ops API 400), not as an unexpected failure.
    const refused = await resolveConflict(h.ctx, conflictId, { take: 'postgres' }, 'test').catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toMatch(
      /key column "id" of "public"\."projects" was integer .* is text now/,
    );
    expect(errorKindOf(refused)).toBe('invalid_definition');
    expect(exitCodeOf(errorKindOf(refused))).toBe(2);
    expect(hintFor(refused)).toMatch(/ALTER COLUMN "id" TYPE integer/);
    // relink would pair no item (their hidden keys name the old rendering) and verify would find none paired.
    await expect(relinkDefinition(h.ctx, 'projects')).rejects.toBeInstanceOf(KeyTypeChangedError);
    await expect(verifyDefinition(h.ctx, 'projects')).rejects.toBeInstanceOf(KeyTypeChangedError);
    // apply's count of the moves new routes make would find no synced row, and report that none moves.
    const stored = await getDefinition(h.db.pool, 'projects');
    const base = projectsDefinition({ name: 'projects' });
    const rerouted = parseDefinition({
      ...base,
      conflictPolicy: 'MANUAL',
      target: {
        site: base.target.site,
        routes: [{ when: "name == 'one'", list: 'One' }, { list: 'projects' }],
      },
    });
    await expect(
      previewRouteMoves(h.db.pool, h.db.pool, stored, rerouted, new Map([[stored.listId!, 'projects']])),
    ).rejects.toBeInstanceOf(KeyTypeChangedError);
    expect(await items()).toEqual(before);
    expect(
      (await h.db.pool.query('SELECT status FROM arcore.sync_conflicts WHERE id = $1', [conflictId])).rows,
    ).toEqual([{ status: 'OPEN' }]);

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
