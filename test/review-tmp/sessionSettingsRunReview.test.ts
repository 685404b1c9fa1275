import { runPull } from '../../src/core/engine/pull';
import { runPush } from '../../src/core/engine/push';
import type { SyncDefinitionInput } from '../../src/core/definition/schema';
import { SITE, startHarness, type Harness } from '../support/engineHarness';

const DEF: SyncDefinitionInput = {
  name: 'styled',
  source: { table: 'styled', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' }, overlapSeconds: 0 },
  target: { site: SITE, list: 'Styled' },
  fields: ['note', 'day'].map((c) => ({ source: c, target: c })),
};

describe('review: a pull whose source trigger sets DateStyle for its transaction', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.db.pool.query(`CREATE TABLE styled (id integer PRIMARY KEY, note text, day date,
      updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await h.define(DEF);
    await h.db.pool.query(`INSERT INTO styled (id, note, day) VALUES (1, 'a', '2026-12-06')`);
    expect(await runPush(h.ctx, 'styled', { trigger: 'test' })).toMatchObject({ created: 1 });
    // A user's audit trigger that prints dates its own way for the rest of its transaction.
    await h.db.pool.query(`CREATE FUNCTION styled_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM set_config('DateStyle', 'SQL, DMY', true); RETURN NEW; END $$`);
    await h.db.pool.query(`CREATE TRIGGER styled_audit BEFORE UPDATE ON styled
      FOR EACH ROW EXECUTE FUNCTION styled_audit()`);
  });
  afterAll(async () => {
    await h.close();
  });

  it('a pull into a table whose trigger SETs DateStyle LOCAL succeeds (as at 23fc434), or at least is recorded FAILED', async () => {
    const [item] = await h.items('Styled');
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Styled/items/${item.id}/fields`, {
      note: 'edited in SharePoint',
    });
    expect(res.status).toBe(200);

    const attempt = () =>
      runPull(h.ctx, 'styled', { trigger: 'test' }).then(
        (summary) => ({ status: summary.status as string, error: summary.error as unknown }),
        (error: unknown) => ({ status: 'THROWN', error: String(error).slice(0, 80) }),
      );
    const first = await attempt();
    const second = await attempt();
    const { rows: runs } = await h.db.pool.query<{ status: string; error: string | null }>(
      `SELECT status, left(error, 60) AS error FROM arcore.sync_runs WHERE run_type = 'PULL' ORDER BY id`,
    );
    const { rows } = await h.db.pool.query<{ note: string }>('SELECT note FROM styled WHERE id = 1');
    console.log(JSON.stringify({ first, second, runs, note: rows[0].note }, null, 1));
    expect(first.status).toBe('SUCCEEDED');
    expect(rows[0].note).toBe('edited in SharePoint');
  });
});
