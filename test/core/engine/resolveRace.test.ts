import type { Pool } from 'pg';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { ConflictAlreadyResolvedError, resolveConflict } from '../../../src/core/engine/resolve';
import type { EngineContext } from '../../../src/core/engine/types';
import { startHarness, type Harness } from '../../support/engineHarness';
import { defineProjects } from '../../support/projects';

/**
 * Two operators resolve the same conflict (a console card and a bulk action, or two consoles). The conflict's OPEN
 * status was read before the definition's lock was taken and never again under it, so a resolve whose read came
 * before the other's commit resolved the conflict a second time, overwriting the first decision and its audit
 * (docs/security.md: the audit names who decided), and both were told "resolved" (found by review).
 */
describe('resolve reads the conflict again under the definition lock', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('a resolve that read the conflict OPEN before another resolve committed must not resolve it again', async () => {
    const name = 'race1';
    await defineProjects(h, name, { definition: { conflictPolicy: 'MANUAL' } });
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'T0', 10)`);
    await runPush(h.ctx, name, { trigger: 'test' });
    await runPull(h.ctx, name, { trigger: 'test' });
    const itemId = (await h.items(name))[0].id;
    await h.db.pool.query(`UPDATE ${name} SET name = 'pg' WHERE id = 1`);
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`, {
      Title: 'sp',
    });
    expect(edit.status).toBe(200);
    expect((await runPull(h.ctx, name, { trigger: 'test' })).conflicts).toBe(1);
    const { rows } = await h.db.pool.query<{ id: string }>(
      `SELECT id FROM arcore.sync_conflicts WHERE status = 'OPEN'`,
    );
    const conflictId = rows[0].id;

    // Operator A's request reads the conflict now (OPEN), then reaches the lock late: its first read of the
    // conflict is held (a wrapper over the real pool) until operator B's resolve has finished; in production, the
    // few milliseconds between the read and the lock.
    let releaseA!: () => void;
    const gate = new Promise<void>((r) => (releaseA = r));
    let readOnce = false;
    const meta = h.ctx.meta;
    const slowMeta = new Proxy(meta, {
      get(target, prop, receiver) {
        if (prop === 'query') {
          return async (...args: unknown[]) => {
            const result = await (target.query as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            if (
              !readOnce &&
              typeof args[0] === 'string' &&
              /FROM arcore\.sync_conflicts WHERE id = \$1/.test(args[0])
            ) {
              readOnce = true;
              await gate;
            }
            return result;
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as Pool;
    const ctxA: EngineContext = { ...h.ctx, meta: slowMeta };
    const a = resolveConflict(ctxA, conflictId, { take: 'postgres' }, 'alice');
    while (!readOnce) await new Promise((r) => setTimeout(r, 10));

    // Operator B resolves, taking SharePoint: done, audit says bob.
    const b = await resolveConflict(h.ctx, conflictId, { take: 'sharepoint' }, 'bob');
    expect(b.status).toBe('RESOLVED');
    releaseA();
    const outcomeA = await a.then(
      (v) => v,
      (e: unknown) => e,
    );
    const after = await h.db.pool.query(
      'SELECT status, resolved_by FROM arcore.sync_conflicts WHERE id = $1',
      [conflictId],
    );
    const row = (await h.db.pool.query(`SELECT name FROM ${name} WHERE id = 1`)).rows[0];
    // Expected: A is refused as already resolved; B's decision (SharePoint's "sp") and audit (bob) stand.
    expect(outcomeA).toBeInstanceOf(ConflictAlreadyResolvedError);
    expect(after.rows[0].resolved_by).toBe('bob');
    expect(row.name).toBe('sp');
  });
});
