import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { startHarness, type Harness } from '../../../support/engineHarness';
import { closeCapturing, lsnDefinition } from '../../../support/capture';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => closeCapturing(h));

describe('I14, I17 (docs/design.md, Change data capture): a column added and mapped while older changes wait in the slot', () => {
  it('pushes the older change instead of failing as if the new column had been dropped', async () => {
    await h.db.pool.query(`CREATE TABLE grow (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
    await h.db.pool.query(`INSERT INTO grow VALUES (1, 'a', 1)`);
    await h.define(lsnDefinition('grow'));
    expect(await runPush(h.ctx, 'grow', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      created: 1,
    });

    // An ordinary edit, still in the slot (the next push has not run yet)
    await h.db.pool.query(`UPDATE grow SET name = 'b' WHERE id = 1`);
    // The DBA adds a column and the definition starts mapping it
    await h.db.pool.query(`ALTER TABLE grow ADD COLUMN notes text`);
    await h.db.pool.query(`UPDATE grow SET notes = 'n' WHERE id = 1`);
    const base = lsnDefinition('grow');
    await h.define({ ...base, fields: [...base.fields, { source: 'notes', target: 'Notes' }] });

    const first = await runPush(h.ctx, 'grow', { trigger: 'test' });
    const second = await runPush(h.ctx, 'grow', { trigger: 'test' });
    // Nothing was dropped: both changes must reach SharePoint, and no run may blame a dropped column.
    expect([first.status, first.error ?? null, second.status, second.error ?? null]).toEqual([
      'SUCCEEDED',
      null,
      'SUCCEEDED',
      null,
    ]);
    expect((await h.items('grow'))[0].fields).toMatchObject({ Title: 'b' });
    // The push leaves a newly mapped field to the pull, which aligns it (I14): Postgres's value fills the empty item.
    expect(await runPull(h.ctx, 'grow', { trigger: 'test' })).toMatchObject({ status: 'SUCCEEDED' });
    expect((await h.items('grow'))[0].fields).toMatchObject({ Title: 'b', Notes: 'n' });
  });
});
