/**
 * A mapped column deleted in SharePoint (docs/design.md, I9 and I10: the field plan is resolved from the list's
 * columns). The pull's delta read then fails with `400 invalidRequest: Column 'Budget' does not exist`, and that
 * failure was classed `data`, whose next step reads "fix the value … the run goes on with the other rows", though
 * the whole run failed and the fix is the list or the definition. A 400 on a read is not a bad value; a missing
 * column is `invalid_definition`, with a hint naming the next step. No NULL is written over the column's values.
 */
import { parseDefinition } from '../../../../src/core/definition/parse';
import { applyDefinitions } from '../../../../src/core/engine/apply';
import { provisionList } from '../../../../src/core/engine/provision';
import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { GraphRequestError } from '../../../../src/core/target/sharepoint/errors';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../../support/engineHarness';

describe('I10 a mapped column deleted in SharePoint', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
  });
  afterEach(async () => h.close());

  function dropColumn(list: string, name: string) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const state = (h.emulator.control as any).deps.ctx.state;
    const l = state.findSite(h.siteId).findList(list);
    const i = l.columns.findIndex((c: { name: string }) => c.name === name);
    l.columns.splice(i, 1);
    l.columnsByName.delete(name);
    l.schemaVersion++;
  }

  it('no NULL is written, and the failure is an invalid definition naming the column and the next step', async () => {
    await applyDefinitions(h.db.pool, [
      parseDefinition(
        projectsDefinition({
          fields: [
            { source: 'name', target: 'Title' },
            { source: 'budget', target: 'Budget' },
          ],
        }),
      ),
    ]);
    await provisionList(h.ctx, 'projects');
    await h.db.pool.query("INSERT INTO projects (id, name, budget) VALUES (1, 'a', 10), (2, 'b', 20)");
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    await runPull(h.ctx, 'projects', { trigger: 'test' });
    dropColumn('Projects', 'Budget');
    const items = await h.items('Projects');
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${items[0].id}/fields`, {
      Title: 'a edited',
    });
    expect(res.status).toBe(200);
    const q = await runPull(h.ctx, 'projects', { trigger: 'test' });
    const { rows } = await h.db.pool.query('SELECT id, name, budget FROM projects ORDER BY id');
    expect(rows.map((r) => r.budget)).toEqual(['10.00', '20.00']);
    expect(q).toMatchObject({ status: 'FAILED', errorKind: 'invalid_definition' });
    expect(q.error).toContain("Column 'Budget' does not exist");
    expect(q.errorHint).toMatch(
      /no column "Budget", which the definition maps.*restore the column.*or remove the field from the definition and save it with apply/,
    );
  });
});

describe('GraphRequestError: which 400 is a bad value', () => {
  const error = (method: string, message: string) =>
    new GraphRequestError({ method, url: 'https://graph/x', status: 400, code: 'invalidRequest', message });

  it('a write refused for its value is data; a read refused is not; a missing column is the definition', () => {
    expect(error('PATCH', 'Invalid number value').errorKind).toBe('data');
    expect(error('POST', 'Invalid number value').hint).toBeUndefined();
    expect(error('GET', 'Invalid filter clause').errorKind).toBe('internal');
    const missing = error('GET', "Column 'Budget' does not exist. It may have been deleted by another user.");
    expect(missing.errorKind).toBe('invalid_definition');
    expect(missing.missingColumn).toBe('Budget');
    expect(missing.hint).toContain('arcore-sync provision NAME');
    expect(error('PATCH', "Column 'Budget' does not exist.").errorKind).toBe('invalid_definition');
  });
});
