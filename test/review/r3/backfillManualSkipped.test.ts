import { applyDefinitions } from '../../../src/core/engine/apply';
import { runBackfill } from '../../../src/core/engine/backfill';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { resolveConflict } from '../../../src/core/engine/resolve';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * MANUAL: a row with an open conflict (on Title) is skipped by a push backfill of Code after Code's transform
 * changed ("neither side changes until the conflict is resolved"). The backfill still completes (its position
 * passes the row), and resolving the Title conflict takes Code as the pair says it stands, so the item keeps the
 * old pipeline's value for good: no push or pull rewrites it, and the backfill reported the row only as "skipped".
 */
describe('review r3: a push backfill of a changed transform over a row parked by MANUAL', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('the row gets the new pipeline value once its conflict is resolved', async () => {
    const name = 'r3mn1';
    await h.db.pool.query(
      `CREATE TABLE ${name} (id int PRIMARY KEY, name text, code text, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    const def = (transform: string): SyncDefinitionInput => ({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      conflictPolicy: 'MANUAL',
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code', transform },
      ],
    });
    await h.define(def('UPPER'));
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'abc'), (2, 'b', 'abc')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(2);
    await runPull(h.ctx, name, { trigger: 'test' });

    // Title of row 1 edited on both sides: parked.
    await h.db.pool.query(`UPDATE ${name} SET name = 'a-pg' WHERE id = 1`);
    const item = (await h.items(name)).find((i) => i.fields.Title === 'a')!;
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
      Title: 'a-sp',
    });
    expect(res.status).toBe(200);
    expect(await runPull(h.ctx, name, { trigger: 'test' })).toMatchObject({ conflicts: 1 });
    const { rows } = await h.db.pool.query<{ id: string }>(
      `SELECT id FROM arcore.sync_conflicts WHERE status = 'OPEN'`,
    );
    expect(rows).toHaveLength(1);

    await applyDefinitions(h.db.pool, [parseDefinition(def("UPPER | PREFIX('P-')"))]);
    const bf = await runBackfill(h.ctx, name, { fields: ['Code'], direction: 'push', trigger: 'test' });
    expect(bf).toMatchObject({ status: 'SUCCEEDED', complete: true });

    await resolveConflict(h.ctx, rows[0].id, { take: 'postgres' }, 'test');
    await runPush(h.ctx, name, { trigger: 'test' });
    await runPull(h.ctx, name, { trigger: 'test' });

    const sp = (await h.items(name)).map((i) => [i.fields.Title, i.fields.Code]).sort();
    expect(sp).toEqual([
      ['a-pg', 'P-ABC'],
      ['b', 'P-ABC'],
    ]);
  });
});
