import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';
import { runDetails } from '../../../support/projects';

/**
 * A tenant whose change pages carry items without their fields (conformance delta.changePagesCarryFields fails):
 * the pull reads each such item again by id (docs/design.md, I12), applies what it read, counts the reads in the
 * run's details (`itemsReadAgain`) and says why once. Never an item's values read as empty.
 */
describe('I12 a change page without fields: items read again by id, counted and said', () => {
  let h: Harness;
  const logged: string[] = [];
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable', deltaRepeats: false, deltaChangesWithoutFields: true });
    const warn = h.ctx.log.warn.bind(h.ctx.log);
    h.ctx.log.warn = (message: string, data?: Record<string, unknown>) => {
      logged.push(message);
      warn(message, data);
    };
  });
  afterAll(() => h.close());

  it('applies an edit read again, keeps the other columns, and records itemsReadAgain', async () => {
    await h.db.pool.query(`CREATE TABLE bare (id integer PRIMARY KEY, name text, note text,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO bare (id, name, note) VALUES (1, 'A', 'kept'), (2, 'B', 'kept too')`);
    await h.define({
      name: 'bare',
      source: { table: 'bare', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'bare' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'note', target: 'Note' },
      ],
      conflictPolicy: 'SOURCE_WINS',
      deletes: { push: 'PROPAGATE', pull: 'PROPAGATE' },
    });
    expect(await runPush(h.ctx, 'bare', { trigger: 'test' })).toMatchObject({ created: 2 });
    // The first enumeration carries fields: nothing read again.
    const first = await runPull(h.ctx, 'bare', { trigger: 'test' });
    expect((await runDetails(h, first.runId)).itemsReadAgain).toBeUndefined();

    const item = (await h.items('bare')).find((i) => i.fields.Title === 'A');
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/bare/items/${item?.id}/fields`, {
      Title: 'A from SharePoint',
    });
    expect(res.status).toBe(200);
    const pulled = await runPull(h.ctx, 'bare', { trigger: 'test' });
    expect(pulled).toMatchObject({ status: 'SUCCEEDED', updated: 1, deleted: 0 });
    const { rows } = await h.db.pool.query('SELECT id, name, note FROM bare ORDER BY id');
    expect(rows).toEqual([
      { id: 1, name: 'A from SharePoint', note: 'kept' },
      { id: 2, name: 'B', note: 'kept too' },
    ]);
    expect((await runDetails(h, pulled.runId)).itemsReadAgain).toBe(1);
    expect(logged.filter((m) => m.includes('read again by id'))).toHaveLength(1);
    expect(logged.join('\n')).toContain('delta.changePagesCarryFields');
  });
});
