/**
 * I7 LAST_WRITER_WINS with a `timestamp without time zone` cursor column kept by the project's own trigger
 * (docs/design.md, I7 and "Decisions worth knowing": naive cursor values are UTC). The trigger assigned
 * clock_timestamp() to the naive column, which Postgres stores as the WRITER's session-local wall time, while the
 * engine reads naive values as UTC: in a session east of UTC an older Postgres edit looked hours later than it was
 * and beat a later SharePoint edit (west of UTC the opposite). The trigger now writes
 * `clock_timestamp() AT TIME ZONE 'UTC'` to a naive column.
 */
import { runPush } from '../../../../src/core/engine/push';
import { installCursorTrigger } from '../../../../src/core/source/postgres/PostgresSource';
import { projectsDefinition, startHarness, type Harness } from '../../../support/engineHarness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each([
  ['Europe/Berlin', 'tasks_berlin', 'TasksBerlin'],
  ['Asia/Tokyo', 'tasks_tokyo', 'TasksTokyo'],
  ['UTC', 'tasks_utc', 'TasksUtc'],
])('I7 LAST_WRITER_WINS with a naive cursor column (writer session %s)', (zone, table, list) => {
  it('a SharePoint edit made after the Postgres edit wins', async () => {
    await h.db.pool.query(`CREATE TABLE ${table} (
      id integer PRIMARY KEY, name text, updated_at timestamp NOT NULL DEFAULT now())`);
    await h.db.pool.query(`CREATE INDEX ON ${table} (updated_at, id)`);
    await installCursorTrigger(h.db.pool, 'public', table, 'updated_at');
    await h.define(
      projectsDefinition(
        {
          name: table,
          source: { table, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
          fields: [{ source: 'name', target: 'Title' }],
          conflictPolicy: 'LAST_WRITER_WINS',
        },
        list,
      ),
    );
    await h.db.pool.query(`INSERT INTO ${table} (id, name) VALUES (1, 'base')`);
    expect((await runPush(h.ctx, table, { trigger: 'test' })).created).toBe(1);

    // The application writes from a session in its local zone.
    const c = await h.db.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(`SET LOCAL TimeZone = '${zone}'`);
      await c.query(`UPDATE ${table} SET name = 'postgres edit' WHERE id = 1`);
      await c.query('COMMIT');
    } finally {
      c.release();
    }
    await sleep(1500);
    // Then, later, a user edits the item in SharePoint.
    const [item] = await h.items(list);
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${list}/items/${item.id}/fields`, {
      Title: 'later sharepoint edit',
    });
    expect(res.status).toBe(200);

    await runPush(h.ctx, table, { trigger: 'test' });
    const { rows } = await h.db.pool.query(`SELECT name FROM ${table}`);
    const [after] = await h.items(list);
    expect({ sharepoint: after.fields.Title, postgres: rows[0].name }).toEqual({
      sharepoint: 'later sharepoint edit',
      postgres: 'later sharepoint edit',
    });
  }, 60_000);
});
