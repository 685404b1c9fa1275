import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { resolveConflict } from '../../../src/core/engine/resolve';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * I3/I7: resolving a conflict on one field must not rewrite another field that both sides hold in sync. resolve
 * reads the row through the pipelines without the ledger's pairs (resolve.ts: rowToCanonical(plan, row.values)),
 * so a transformed field whose value pull wrote (a pullTransform that does not undo transform) looks different.
 */
describe('I7/I3 resolve keeps fields outside the conflict (docs/design.md, I7: resolve)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('take postgres on a Title conflict leaves Code (pulled through pullTransform) as it is', async () => {
    const name = 'rvr1';
    await h.db.pool.query(
      `CREATE TABLE ${name} (id int PRIMARY KEY, name text, code text, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    await h.define({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      conflictPolicy: 'MANUAL',
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code', transform: "PREFIX('X-')", pullTransform: 'TRIM' },
      ],
    });
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'c1')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    const [item] = await h.items(name);
    const edit = async (f: Record<string, unknown>) =>
      expect(
        (await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, f)).status,
      ).toBe(200);
    await edit({ Code: '  X-k9 ' });
    expect(await runPull(h.ctx, name, { trigger: 'test' })).toMatchObject({ updated: 1, conflicts: 0 });
    expect((await runPush(h.ctx, name, { trigger: 'test' })).updated).toBe(0); // in sync through the pair

    // A conflict on Title only.
    await h.db.pool.query(`UPDATE ${name} SET name = 'pg' WHERE id = 1`);
    await edit({ Title: 'sp' });
    expect((await runPull(h.ctx, name, { trigger: 'test' })).conflicts).toBe(1);
    const { rows } = await h.db.pool.query<{ id: string }>(
      `SELECT c.id FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = $1 AND c.status = 'OPEN'`,
      [name],
    );
    await resolveConflict(h.ctx, rows[0].id, { take: 'postgres' }, 'review');
    const after = (await h.items(name))[0].fields;
    expect({ Title: after.Title, Code: after.Code }).toEqual({ Title: 'pg', Code: '  X-k9 ' });
  });
});
