/**
 * I7 LAST_WRITER_WINS on the pull, with a `timestamp without time zone` cursor column kept by the project's own
 * trigger (docs/design.md, I7 and "Decisions worth knowing": naive cursor values are UTC). The trigger stored
 * clock_timestamp() as the writer's session-local wall time; the engine reads naive values as UTC, so west of UTC
 * a later Postgres edit looked hours older than an earlier SharePoint edit and lost to it.
 */
import { Client } from 'pg';
import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { installCursorTrigger } from '../../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

describe('I7 LAST_WRITER_WINS on the pull with a timestamp (without time zone) cursor column', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  it('the later Postgres edit, made in a session west of UTC, wins over the earlier SharePoint edit', async () => {
    await h.db.pool
      .query(`CREATE TABLE lww (id int PRIMARY KEY, name text, updated_at timestamp NOT NULL DEFAULT now());
      INSERT INTO lww (id, name) VALUES (1, 'base')`);
    await installCursorTrigger(h.db.pool, 'public', 'lww', 'updated_at');
    await h.define({
      name: 'lww',
      source: { table: 'lww', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'lww' },
      fields: [{ source: 'name', target: 'Title' }],
      conflictPolicy: 'LAST_WRITER_WINS',
    });
    expect(await runPush(h.ctx, 'lww', { trigger: 'test' })).toMatchObject({ created: 1 });
    await runPull(h.ctx, 'lww', { trigger: 'test' });
    const [item] = await h.items('lww');

    // First SharePoint, then (later) Postgres, from an application session in New York time.
    expect(
      (
        await h.asUser('PATCH', `/sites/${h.siteId}/lists/lww/items/${item.id}/fields`, {
          Title: 'sp earlier',
        })
      ).status,
    ).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));
    const app = new Client({ connectionString: h.db.url });
    await app.connect();
    await app.query("SET TimeZone = 'America/New_York'");
    await app.query("UPDATE lww SET name = 'pg later' WHERE id = 1");
    await app.end();

    const pull = await runPull(h.ctx, 'lww', { trigger: 'test' });
    const { rows } = await h.db.pool.query<{ name: string }>('SELECT name FROM lww');
    const conflicts = await h.db.pool.query<{ outcome: string; reason: string }>(
      'SELECT outcome, reason FROM arcore.sync_conflicts',
    );
    expect({ status: pull.status, row: rows[0].name, conflicts: conflicts.rows }).toEqual({
      status: 'SUCCEEDED',
      row: 'pg later',
      conflicts: [{ outcome: 'TAKE_POSTGRES', reason: expect.any(String) }],
    });
  });
});
