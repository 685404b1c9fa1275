import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * I8 (docs/design.md): a row deleted in Postgres whose item the pull meets unchanged (a re-enumeration, an edit of
 * a field the definition does not sync) is the push's to delete, as its deletes policy says: the pull keeps the
 * pair for it. It used to drop the pair without deleting the item, which then stayed in SharePoint unpaired.
 */
describe('a row deleted in Postgres, its item met unchanged by a pull before the push', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  const setUp = async (name: string, push: 'PROPAGATE' | 'IGNORE') => {
    await h.db.pool.query(`CREATE TABLE ${name} (code text PRIMARY KEY, name text,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO ${name} (code, name) VALUES ('A', 'first'), ('B', 'second')`);
    await h.define({
      name,
      source: { table: name, key: ['code'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [{ source: 'name', target: 'Title' }],
      deletes: { push, pull: 'PROPAGATE' },
    });
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 2 });
    await runPull(h.ctx, name, { trigger: 'test' });
    await h.db.pool.query(`DELETE FROM ${name} WHERE code = 'A'`);
    // The pull reads the whole list again (410), meeting item A unchanged.
    h.emulator.control.expireDeltaTokens();
    await runPull(h.ctx, name, { trigger: 'test' });
  };

  const ledger = async (name: string) =>
    (
      await h.db.pool.query<{ identity: unknown; state: string }>(
        `SELECT l.source_identity AS identity, l.state FROM arcore.sync_ledger l
          JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = $1 ORDER BY 1`,
        [name],
      )
    ).rows;

  it('deletes propagate: the next push deletes the item', async () => {
    await setUp('gone_propagate', 'PROPAGATE');
    expect(await ledger('gone_propagate')).toHaveLength(2);
    expect(await runPush(h.ctx, 'gone_propagate', { trigger: 'test' })).toMatchObject({ deleted: 1 });
    expect((await h.items('gone_propagate')).map((i) => i.fields.Title)).toEqual(['second']);
    expect(await ledger('gone_propagate')).toEqual([{ identity: { code: 'B' }, state: 'SYNCED' }]);
  });

  it('deletes ignored: the item stays, kept as ORPHANED by the push, not forgotten by the pull', async () => {
    await setUp('gone_ignore', 'IGNORE');
    await runPush(h.ctx, 'gone_ignore', { trigger: 'test' });
    expect((await h.items('gone_ignore')).map((i) => i.fields.Title).sort()).toEqual(['first', 'second']);
    expect(await ledger('gone_ignore')).toEqual([
      { identity: { code: 'A' }, state: 'ORPHANED' },
      { identity: { code: 'B' }, state: 'SYNCED' },
    ]);
  });
});
