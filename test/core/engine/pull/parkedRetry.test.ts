import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { resolveConflict } from '../../../../src/core/engine/resolve';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * docs/design.md I5c: a pulled item Postgres refused is parked and retried by every pull until it succeeds or is
 * settled. A retry that meets a pair with nothing left to apply (ORPHANED: its row deleted and the item kept; or an
 * open MANUAL conflict, whose resolution reads both sides as they are then) settles the park instead of leaving it
 * due for ever (every pull reading the item again, the idle probe never idle, status reporting a stale failure).
 */
describe('I5c a parked pull item whose pair has nothing left to apply', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  const dueParks = async () =>
    (
      await h.db.pool.query(
        `SELECT last_error FROM arcore.sync_failures
          WHERE direction = 'PULL' AND status = 'PARKED' AND next_attempt_at <= now()`,
      )
    ).rows;

  async function parkedItem(
    name: string,
    policy: 'SOURCE_WINS' | 'MANUAL',
    deletesPush: 'PROPAGATE' | 'IGNORE',
  ) {
    await h.db.pool.query(`CREATE TABLE ${name} (id integer PRIMARY KEY, name text,
      budget numeric(12,2) CHECK (budget >= 0), updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10)`);
    await h.define({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'budget', target: 'Budget' },
      ],
      conflictPolicy: policy,
      deletes: { push: deletesPush, pull: 'PROPAGATE' },
    });
    await runPush(h.ctx, name, { trigger: 'test' });
    await runPull(h.ctx, name, { trigger: 'test' });
    const [item] = await h.items(name);
    const fields = `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`;
    // Postgres refuses the SharePoint edit (CHECK): the item is parked.
    expect((await h.asUser('PATCH', fields, { Budget: -5 })).status).toBe(200);
    expect(await runPull(h.ctx, name, { trigger: 'test' })).toMatchObject({ failed: 1 });
    return item.id as string;
  }

  it('ORPHANED (its row deleted, the item kept by deletes.push IGNORE): the park is settled', async () => {
    await parkedItem('orph', 'SOURCE_WINS', 'IGNORE');
    await h.db.pool.query('DELETE FROM orph');
    await runPush(h.ctx, 'orph', { trigger: 'test' });
    const { rows: state } = await h.db.pool.query(
      "SELECT state FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = 'orph'",
    );
    expect(state).toEqual([{ state: 'ORPHANED' }]);

    await runPull(h.ctx, 'orph', { trigger: 'test' });
    const second = await runPull(h.ctx, 'orph', { trigger: 'test' });
    expect({ parkedFailures: second.parkedFailures, due: await dueParks() }).toEqual({
      parkedFailures: 0,
      due: [],
    });
  });

  it('an open MANUAL conflict holds the item: the park is settled, the resolution writes both sides', async () => {
    await parkedItem('held', 'MANUAL', 'PROPAGATE');
    // The same field edited in Postgres: the push meets the item's edit (412) and opens a MANUAL conflict.
    await h.db.pool.query('UPDATE held SET budget = 30, updated_at = now()');
    await runPush(h.ctx, 'held', { trigger: 'test' });
    const { rows: open } = await h.db.pool.query(
      "SELECT id FROM arcore.sync_conflicts WHERE status = 'OPEN' AND kind = 'CHANGE'",
    );
    expect(open).toHaveLength(1);

    const pulled = await runPull(h.ctx, 'held', { trigger: 'test' });
    expect({ parkedFailures: pulled.parkedFailures, due: await dueParks() }).toEqual({
      parkedFailures: 0,
      due: [],
    });
    await resolveConflict(h.ctx, open[0].id, { take: 'postgres' }, 'test');
    const [item] = await h.items('held');
    expect(item.fields.Budget).toBe(30);
    expect((await runPush(h.ctx, 'held', { trigger: 'test' })).updated).toBe(0);
    expect((await runPull(h.ctx, 'held', { trigger: 'test' })).updated).toBe(0);
  });

  /**
   * docs/design.md I8: a full enumeration stopped between pages resumes with its marker; the next run's retry of a
   * parked new item (refused on a page already read, inserted now) marks it seen by that enumeration, so the
   * enumeration's end, which the item's page does not show again, does not take it for deleted.
   */
  it('a parked new item the retry inserts while an enumeration is resumed keeps its row', async () => {
    await h.db.pool.query(`CREATE TABLE en (id serial PRIMARY KEY, name text,
      budget numeric(12,2) CONSTRAINT en_budget CHECK (budget >= 0), updated_at timestamptz NOT NULL DEFAULT now())`);
    await h.define({
      name: 'en',
      source: { table: 'en', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'en' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'budget', target: 'Budget' },
      ],
    });
    // An item made in SharePoint with a value Postgres refuses; then 200 rows pushed: the list's first enumeration
    // takes two pages (200 items a page), the item on the first.
    const base = `/sites/${h.siteId}/lists/en/items`;
    const made = await h.asUser('POST', base, { fields: { Title: 'from SharePoint', Budget: -5 } });
    expect(made.status).toBe(201);
    const itemId = String((made.body as { id: string }).id);
    await h.db.pool.query(
      "INSERT INTO en (name, budget) SELECT 'row ' || g, 1 FROM generate_series(1, 200) g",
    );
    expect(await runPush(h.ctx, 'en', { trigger: 'test' })).toMatchObject({ created: 200 });

    // The first pull runs out of time after its first page: the item refused and parked.
    const first = await runPull(h.ctx, 'en', { trigger: 'test', maxSeconds: 0.001 });
    expect(first).toMatchObject({ complete: false, failed: 1 });

    // The constraint is relaxed; the next pull retries the item (inserted) and finishes the enumeration.
    await h.db.pool.query('ALTER TABLE en DROP CONSTRAINT en_budget');
    const second = await runPull(h.ctx, 'en', { trigger: 'test' });
    expect(second).toMatchObject({ complete: true, failed: 0 });
    const { rows } = await h.db.pool.query("SELECT name, budget FROM en WHERE name = 'from SharePoint'");
    const { rows: pair } = await h.db.pool.query(
      `SELECT 1 FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
        WHERE d.name = 'en' AND l.sp_item_id = $1`,
      [itemId],
    );
    expect({
      second: { created: second.created, deleted: second.deleted },
      rows,
      paired: pair.length,
      items: (await h.items('en')).length,
    }).toEqual({
      second: { created: 1, deleted: 0 },
      rows: [{ name: 'from SharePoint', budget: '-5.00' }],
      paired: 1,
      items: 201,
    });
  });

  it('I16: retries stop once the run time is spent (after one read): the parks not read stay due for the next pull', async () => {
    await parkedItem('late', 'SOURCE_WINS', 'PROPAGATE');
    await h.db.pool.query("INSERT INTO late (id, name, budget) VALUES (2, 'two', 20)");
    await runPush(h.ctx, 'late', { trigger: 'test' });
    const two = (await h.items('late')).find((i) => i.fields.Title === 'two');
    const fields = `/sites/${h.siteId}/lists/late/items/${two?.id}/fields`;
    expect((await h.asUser('PATCH', fields, { Budget: -7 })).status).toBe(200);
    // The first item's retry is refused again, the second item is parked.
    expect(await runPull(h.ctx, 'late', { trigger: 'test' })).toMatchObject({ failed: 2 });
    await h.db.pool.query('ALTER TABLE late DROP CONSTRAINT late_budget_check');
    await h.db.pool.query(`UPDATE arcore.sync_failures SET next_attempt_at = now() WHERE direction = 'PULL'`);
    expect(await dueParks()).toHaveLength(2);
    // A budget spent before the retries start (found by review r10: every due park was read, however many).
    const stopped = await runPull(h.ctx, 'late', { trigger: 'test', maxSeconds: 0.001 });
    expect(stopped).toMatchObject({ status: 'SUCCEEDED', complete: false });
    expect(await dueParks()).toHaveLength(1);
    expect(await runPull(h.ctx, 'late', { trigger: 'test' })).toMatchObject({ complete: true, failed: 0 });
    expect(await dueParks()).toEqual([]);
    expect(
      (await h.db.pool.query('SELECT budget FROM late ORDER BY id')).rows.map((r) => Number(r.budget)),
    ).toEqual([-5, -7]);
  });
});
