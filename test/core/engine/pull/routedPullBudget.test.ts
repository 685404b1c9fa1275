import { parseDefinition } from '../../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../../src/core/definition/schema';
import { applyDefinitions } from '../../../../src/core/engine/apply';
import { provisionList } from '../../../../src/core/engine/provision';
import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../../support/engineHarness';

/**
 * I16 (docs/design.md, "One budget, bounded runs"): a run its time budget stops keeps what it did and reports
 * `complete: false`, so the queue worker sends a continuation. A routed pull reads each list's feed in turn; when the
 * budget ran out after one list, the loop (pull/index.ts) broke out without saying so: the later lists were not
 * pulled, yet the run said SUCCEEDED with `complete: true`, no continuation was sent, and a SharePoint edit in a later
 * list waited for an unrelated trigger. And since every run started with the first list, a first list whose feed
 * took the whole budget starved the lists after it for ever: the next run starts with the lists pulled least
 * recently.
 */
describe('I16 a routed pull stopped by its time budget between lists', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await createProjectsTable(h.db, 'rp');
    await h.db.pool.query('ALTER TABLE rp ADD COLUMN status text');
  });
  afterAll(async () => h.close());

  const nameOf = async (id: number) =>
    (await h.db.pool.query<{ name: string }>('SELECT name FROM rp WHERE id = $1', [id])).rows[0].name;
  const edit = async (list: string, title: string, to: string) => {
    const item = (await h.items(list)).find((i) => i.fields.Title === title);
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${list}/items/${item?.id}/fields`, {
      Title: to,
    });
    expect(res.status).toBe(200);
  };

  it('is incomplete, and the next run pulls the lists left first', async () => {
    const base = projectsDefinition({ name: 'rp' }, 'x');
    const def: SyncDefinitionInput = {
      ...base,
      source: { ...base.source, table: 'rp' },
      target: {
        site: base.target.site,
        routes: [
          { when: "status == 'A'", list: 'RP A' },
          { when: "status == 'B'", list: 'RP B' },
          { list: 'RP C' },
        ],
      },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'status', target: 'Status' },
      ],
    };
    await applyDefinitions(h.db.pool, [parseDefinition(def)]);
    await provisionList(h.ctx, 'rp');
    await h.db.pool.query(
      `INSERT INTO rp (id, name, status) VALUES (1, 'a', 'A'), (2, 'b', 'B'), (3, 'c', 'C')`,
    );
    await runPush(h.ctx, 'rp', { trigger: 'test' });
    expect(await runPull(h.ctx, 'rp', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      complete: true,
    });
    await edit('RP A', 'a', 'a edited');
    await edit('RP B', 'b', 'b edited');
    await edit('RP C', 'c', 'c edited');

    // The budget is spent before the first list's one-page feed is applied: each run pulls one list, then stops.
    const first = await runPull(h.ctx, 'rp', { trigger: 'test', maxSeconds: 0.001 });
    expect(first).toMatchObject({ status: 'SUCCEEDED', complete: false });
    expect(await Promise.all([1, 2, 3].map(nameOf))).toEqual(['a edited', 'b', 'c']);
    // The continuation starts with a list the first run did not reach, not with list A again.
    const second = await runPull(h.ctx, 'rp', { trigger: 'continuation', maxSeconds: 0.001 });
    expect(second).toMatchObject({ status: 'SUCCEEDED', complete: false });
    expect(await Promise.all([1, 2, 3].map(nameOf))).toEqual(['a edited', 'b edited', 'c']);
    const third = await runPull(h.ctx, 'rp', { trigger: 'continuation', maxSeconds: 0.001 });
    expect(await Promise.all([1, 2, 3].map(nameOf))).toEqual(['a edited', 'b edited', 'c edited']);
    // It read list C, pulled longest ago, first; lists A and B, which the runs before read, wait for the next run.
    expect(third).toMatchObject({ status: 'SUCCEEDED', complete: false });
    // With time enough every list is pulled in one run.
    expect(await runPull(h.ctx, 'rp', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      complete: true,
    });
  });
});
