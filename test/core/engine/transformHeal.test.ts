import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { startHarness, type Harness } from '../../support/engineHarness';
import { spEdit } from '../../support/routed';
import {
  applyPipeline,
  installBackfillCrash,
  interruptedBackfill,
  pgCode,
  spCode,
  syncedCodeTable,
} from '../../support/transformHarness';

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
    await installBackfillCrash(h);
  });
  afterAll(async () => h.close());

  /**
   * Synced under pullTransform TRIM ('C1' both sides), the pipeline changed to TRIM | LOWER; then Postgres's row is
   * edited (`pgSet`, Code among it) and SharePoint's Code too.
   */
  async function bothEditedAfterPullTransformChange(name: string, pgSet: string) {
    const def = await syncedCodeTable(h, name, (pullTransform) => ({ pullTransform }), 'TRIM', ['C1']);
    await applyPipeline(h, def('TRIM | LOWER'));
    await h.db.pool.query(`UPDATE ${name} SET ${pgSet} WHERE id = 1`);
    const [item] = await h.items(name);
    await spEdit(h, name, item.id, { Code: 'D9' });
  }

  it('an edit of another Postgres column after the interruption leaves Code as an uninterrupted backfill', async () => {
    const name = 'rvx1';
    const def = await syncedCodeTable(h, name, (transform) => ({ transform }), 'UPPER', ['c1']);
    await applyPipeline(h, def("UPPER | PREFIX('P-')"));

    await interruptedBackfill(h, name, 'push');
    expect(await spCode(h, name)).toBe('P-C1');

    // A user edits another column in Postgres; the next push writes Title and meets the backfill's eTag (412).
    await h.db.pool.query(`UPDATE ${name} SET name = 'a2' WHERE id = 1`);
    const push = await runPush(h.ctx, name, { trigger: 'test' });
    const [item] = await h.items(name);
    expect({
      conflicts: push.conflicts,
      title: item.fields.Title,
      sp: item.fields.Code,
      pg: await pgCode(h, name),
    }).toEqual({ conflicts: 0, title: 'a2', sp: 'P-C1', pg: 'c1' });
  });
  it('a Postgres edit and a SharePoint edit of the same field after a pullTransform change is a conflict', async () => {
    const name = 'rvy1';
    await bothEditedAfterPullTransformChange(name, "code = 'c1'");

    const pull = await runPull(h.ctx, name, { trigger: 'test' });
    // Both sides changed Code: a conflict, which SOURCE_WINS settles for Postgres's 'c1'.
    expect({ conflicts: pull.conflicts, pg: await pgCode(h, name) }).toEqual({ conflicts: 1, pg: 'c1' });
  });
  it('a Postgres and a SharePoint edit of one field after a pullTransform change, met by a push 412, is a conflict SOURCE_WINS settles for Postgres', async () => {
    const name = 'rvp1';
    // A user edits Code (and Title) in Postgres, another edits Code in SharePoint.
    await bothEditedAfterPullTransformChange(name, "code = 'c1', name = 'a2'");

    // The push writes Title with the old eTag, meets a 412 and settles it.
    const push = await runPush(h.ctx, name, { trigger: 'test' });
    expect({ conflicts: push.conflicts, pg: await pgCode(h, name) }).toEqual({ conflicts: 1, pg: 'c1' });
  });

  /**
   * "MAP(a=>Alpha) | UPPER" was classed reversible though UPPER changes what MAP adds: a SharePoint user choosing
   * "ALPHA" (what row a shows) on row b had "ALPHA" written into Postgres, and "PREFIX('prj-') | UPPER" parked every
   * SharePoint edit of the item (found by review). Such a chain is lossy now: the field is push-only, as validate
   * says, and the rest of the item is pulled.
   */
  it.each([
    ['MAP(a=>Alpha) | UPPER', ['a', 'b'], 'ALPHA', 'b'],
    ["PREFIX('prj-') | UPPER", ['abc', 'def'], 'PRJ-ABC', 'def'],
  ])(
    "%s: a SharePoint edit of Code is not taken into Postgres; the item's Title is",
    async (pipeline, codes, edit, kept) => {
      const name = pipeline.startsWith('MAP') ? 'rvmap' : 'rvprefix';
      await syncedCodeTable(h, name, (transform) => ({ transform }), pipeline, codes);
      const item = (await h.items(name)).find((i) => i.fields.Code !== edit);
      await spEdit(h, name, item!.id, { Code: edit, Title: 'renamed' });
      const pull = await runPull(h.ctx, name, { trigger: 'test' });
      const { rows } = await h.db.pool.query(`SELECT name, code FROM ${name} WHERE id = 2`);
      expect({ failed: pull.failed, row: rows[0] }).toEqual({
        failed: 0,
        row: { name: 'renamed', code: kept },
      });
    },
  );
});
