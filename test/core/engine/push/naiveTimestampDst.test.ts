/**
 * I5a/I5b with a `timestamp without time zone` cursor column (docs/design.md, I5; found by review C). The engine
 * pins DateStyle but not TimeZone, so a session may run in a zone with daylight saving (the server's or the
 * database's default). The overlap window's start was computed as `($cursor::timestamptz - overlap)::text` and cast
 * back to the column's type: the text carried an offset that the cast to `timestamp` drops, so around the fall-back
 * hour the window started 55 minutes AFTER the cursor, and a row stamped between the two was never pushed. The
 * window arithmetic and every comparison of cursor values are now done in the column's own type.
 */
import { runPush } from '../../../../src/core/engine/push';
import { projectsDefinition, startHarness, type Harness } from '../../../support/engineHarness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

const titles = (items: { fields: Record<string, unknown> }[]) => items.map((i) => i.fields.Title).sort();

describe('I5 (docs/design.md) a naive timestamp cursor and a session time zone with daylight saving', () => {
  it('a row after the cursor in the fall-back hour is pushed', async () => {
    const dbName = new URL(h.db.url).pathname.slice(1);
    await h.db.pool.query(`ALTER DATABASE "${dbName}" SET TimeZone = 'Europe/Berlin'`);
    await h.db.pool.query(`CREATE TABLE events (
      id integer PRIMARY KEY, name text, updated_at timestamp NOT NULL)`);
    await h.db.pool.query('CREATE INDEX ON events (updated_at, id)');
    await h.define(
      projectsDefinition(
        {
          name: 'events',
          source: { table: 'events', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
          fields: [{ source: 'name', target: 'Title' }],
        },
        'Events',
      ),
    );
    // A new instance of the app: its sessions start with the database's TimeZone.
    const other = await h.otherInstance();
    try {
      const { rows } = await other.ctx.meta.query<{ tz: string }>("SELECT current_setting('TimeZone') AS tz");
      expect(rows[0].tz).toBe('Europe/Berlin');
      // Local wall-clock times (what a trigger setting clock_timestamp() into a naive column writes) in the hour
      // that occurs twice on 2024-10-27 in Berlin. The old window start for the first: 02:58, after the second.
      await h.db.pool.query("INSERT INTO events VALUES (1, 'first', '2024-10-27 02:03:00')");
      expect((await runPush(other.ctx, 'events', { trigger: 'test' })).created).toBe(1);
      await h.db.pool.query("INSERT INTO events VALUES (2, 'second', '2024-10-27 02:30:00')");
      const second = await runPush(other.ctx, 'events', { trigger: 'test' });
      const third = await runPush(other.ctx, 'events', { trigger: 'test' });
      expect({
        statuses: [second.status, third.status],
        titles: titles(await h.items('Events')),
      }).toEqual({ statuses: ['SUCCEEDED', 'SUCCEEDED'], titles: ['first', 'second'] });
    } finally {
      await other.close();
    }
  }, 60_000);
});
