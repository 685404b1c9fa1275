import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * Review r1: a pulled item Postgres refused is parked and retried by every pull (dueRetries). When its row is then
 * deleted in Postgres and the push keeps the item (deletes.push IGNORE: the pair becomes ORPHANED), the retry meets
 * the ORPHANED entry and `continue`s (applyPage.ts) without resolving or re-parking the item: the park stays PARKED
 * and due for ever. Every pull reads the item again, the idle probe always finds "parked items due" (no idle pull
 * ever again) and status reports a failure whose row no longer exists.
 */
describe('I5c a parked pull item whose pair became ORPHANED', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  it('leaves no park due for ever', async () => {
    await h.db.pool.query(`CREATE TABLE orph (id integer PRIMARY KEY, name text,
      budget numeric(12,2) CHECK (budget >= 0), updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO orph (id, name, budget) VALUES (1, 'one', 10)`);
    await h.define({
      name: 'orph',
      source: { table: 'orph', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'orph' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'budget', target: 'Budget' },
      ],
      deletes: { push: 'IGNORE', pull: 'PROPAGATE' },
    });
    await runPush(h.ctx, 'orph', { trigger: 'test' });
    await runPull(h.ctx, 'orph', { trigger: 'test' });
    const [item] = await h.items('orph');
    const fields = `/sites/${h.siteId}/lists/orph/items/${item.id}/fields`;

    // Postgres refuses the SharePoint edit (CHECK): the item is parked.
    expect((await h.asUser('PATCH', fields, { Budget: -5 })).status).toBe(200);
    expect(await runPull(h.ctx, 'orph', { trigger: 'test' })).toMatchObject({ failed: 1 });
    // The row is deleted in Postgres; the push keeps the item (IGNORE): the pair is ORPHANED.
    await h.db.pool.query('DELETE FROM orph');
    await runPush(h.ctx, 'orph', { trigger: 'test' });
    const { rows: state } = await h.db.pool.query('SELECT state FROM arcore.sync_ledger');
    expect(state).toEqual([{ state: 'ORPHANED' }]);

    await runPull(h.ctx, 'orph', { trigger: 'test' });
    const second = await runPull(h.ctx, 'orph', { trigger: 'test' });
    const { rows: due } = await h.db.pool.query(
      `SELECT last_error FROM arcore.sync_failures
        WHERE direction = 'PULL' AND status = 'PARKED' AND next_attempt_at <= now()`,
    );
    expect({ parkedFailures: second.parkedFailures, due }).toEqual({ parkedFailures: 0, due: [] });
  });
});
