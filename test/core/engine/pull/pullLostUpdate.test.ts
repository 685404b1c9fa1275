import type { PoolClient } from 'pg';
import { loadSettings } from '../../../../src/config/settings';
import { createEngineContext } from '../../../../src/core/engine/context';
import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { readPageRows, type PageRows } from '../../../../src/core/engine/pull/pageRows';
import { withRun } from '../../../../src/core/engine/runner';
import type { RunSummary } from '../../../../src/core/engine/types';
import { closeCapturing, lsnDefinition } from '../../../support/capture';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';
import { eventually } from '../../../support/eventually';

/**
 * The pull decides a page's items on the rows as they are when it writes them (docs/design.md, the pull's page;
 * I7, I8): it reads them locked inside the page's transaction. Reading them before (unlocked) and writing by key
 * overwrote, or deleted, a row an application edited in between, with no conflict recorded and a ledger saying
 * both sides agreed: the Postgres edit was lost for good (found by review). The timing is deterministic: an
 * application transaction holds the row's lock until the pull waits on it, then commits its edit.
 */
describe('I7/I8 (docs/design.md, the pull page): a Postgres edit committed while a pull applies its page is never lost', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(() => closeCapturing(h));

  const setUp = async (name: string, source = name): Promise<string> => {
    await h.db.pool.query(`CREATE TABLE ${name} (id integer PRIMARY KEY, name text,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO ${name} (id, name) VALUES (1, 'A')`);
    if (source !== name) await h.db.pool.query(`CREATE VIEW ${source} AS SELECT * FROM ${name}`);
    await h.define({
      name,
      source: { table: source, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [{ source: 'name', target: 'Title' }],
      conflictPolicy: 'SOURCE_WINS',
      deletes: { push: 'PROPAGATE', pull: 'PROPAGATE' },
    });
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 1 });
    await runPull(h.ctx, name, { trigger: 'test' });
    return (await h.items(name))[0].id;
  };

  /** Runs a pull while an application transaction edits row 1, committing it once the pull waits on its lock. */
  const pullRacingEdit = async (table: string, definition = table): Promise<RunSummary> => {
    const app: PoolClient = await h.db.pool.connect();
    try {
      await app.query('BEGIN');
      await app.query(`UPDATE ${table} SET name = 'PG' WHERE id = 1`);
      const pulling = runPull(h.ctx, definition, { trigger: 'test' });
      await eventually("the pull waiting on the row's lock", async () => {
        const { rows } = await h.db.pool.query(
          `SELECT 1 FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE $1`,
          [`%${table}%`],
        );
        return rows.length > 0;
      });
      await app.query('COMMIT');
      return await pulling;
    } finally {
      await app.query('ROLLBACK').catch(() => undefined);
      app.release();
    }
  };

  const conflictsOf = async (name: string): Promise<number> =>
    (
      await h.db.pool.query(
        `SELECT c.outcome FROM arcore.sync_conflicts c
           JOIN arcore.sync_definitions d ON d.id = c.definition_id WHERE d.name = $1`,
        [name],
      )
    ).rows.length;

  it('an SP edit of the same field does not silently overwrite it (SOURCE_WINS keeps Postgres)', async () => {
    const name = 'race_edit';
    const itemId = await setUp(name);
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`, {
      Title: 'SP',
    });
    expect(res.status).toBe(200);
    const summary = await pullRacingEdit(name);
    const pgName = (await h.db.pool.query(`SELECT name FROM ${name} WHERE id = 1`)).rows[0].name;
    const sp = (await h.items(name))[0].fields.Title;
    expect({ pgName, sp, counted: summary.conflicts, recorded: await conflictsOf(name) }).toEqual({
      pgName: 'PG',
      sp: 'PG',
      counted: 1,
      recorded: 1,
    });
  });

  it('an SP delete does not delete the row an application just edited (delete vs edit is a conflict)', async () => {
    const name = 'race_delete';
    const itemId = await setUp(name);
    const res = await h.asUser('DELETE', `/sites/${h.siteId}/lists/${name}/items/${itemId}`);
    expect(res.status).toBe(204);
    const summary = await pullRacingEdit(name);
    const rows = (await h.db.pool.query(`SELECT name FROM ${name}`)).rows;
    expect({ rows, counted: summary.conflicts, recorded: await conflictsOf(name) }).toEqual({
      rows: [{ name: 'PG' }],
      counted: 1,
      recorded: 1,
    });
  });

  it("a view's rows are locked through it: the edit of the table under it is kept too (I13)", async () => {
    const name = 'race_view';
    const itemId = await setUp(name, 'race_view_v');
    await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`, { Title: 'SP' });
    const summary = await pullRacingEdit(name);
    const pgName = (await h.db.pool.query(`SELECT name FROM ${name} WHERE id = 1`)).rows[0].name;
    expect({ pgName, counted: summary.conflicts, recorded: await conflictsOf(name) }).toEqual({
      pgName: 'PG',
      counted: 1,
      recorded: 1,
    });
  });

  it('a view Postgres cannot lock through does not fail the page, and a row changed since its read is not written (I12, I13)', async () => {
    const name = 'race_distinct';
    await h.db.pool.query(`CREATE TABLE ${name} (id integer PRIMARY KEY, name text,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO ${name} (id, name) VALUES (1, 'A'), (2, 'B');
      CREATE VIEW ${name}_v AS SELECT DISTINCT id, name, updated_at FROM ${name};
      CREATE FUNCTION ${name}_write() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE ${name} SET name = NEW.name, updated_at = now() WHERE id = OLD.id;
        RETURN NEW;
      END $$;
      CREATE TRIGGER ${name}_write INSTEAD OF UPDATE ON ${name}_v FOR EACH ROW EXECUTE FUNCTION ${name}_write()`);
    await h.define({
      name,
      source: { table: `${name}_v`, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [{ source: 'name', target: 'Title' }],
    });
    // The case at hand: Postgres refuses to lock through this view.
    await expect(h.db.pool.query(`SELECT 1 FROM ${name}_v FOR UPDATE`)).rejects.toMatchObject({
      code: '0A000',
    });
    await runPush(h.ctx, name, { trigger: 'test' });
    await runPull(h.ctx, name, { trigger: 'test' });
    const byTitle = new Map((await h.items(name)).map((i) => [i.fields.Title as string, i.id]));
    // Edited in this order, the items come in this order (deltaOrder 'stable').
    for (const title of ['A', 'B'])
      await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${byTitle.get(title)}/fields`, {
        Title: `SP ${title}`,
      });

    // Another session holds row 1 (without changing it): the pull, having read both rows, waits to write row 1;
    // meanwhile an application edits row 2, which the page read before that edit.
    const holder = await h.db.pool.connect();
    let summary: RunSummary;
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM ${name} WHERE id = 1 FOR UPDATE`);
      const pulling = runPull(h.ctx, name, { trigger: 'test' });
      await eventually('the pull waiting to write row 1', async () => {
        const { rows } = await h.db.pool.query(
          `SELECT 1 FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE $1`,
          [`%${name}%`],
        );
        return rows.length > 0;
      });
      await h.db.pool.query(`UPDATE ${name} SET name = 'PG', updated_at = now() WHERE id = 2`);
      await holder.query('COMMIT');
      summary = await pulling;
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    }
    const names = async (): Promise<string[]> =>
      (await h.db.pool.query(`SELECT name FROM ${name} ORDER BY id`)).rows.map((r) => r.name);
    const parked = await h.db.pool.query(
      `SELECT f.last_error FROM arcore.sync_failures f JOIN arcore.sync_definitions d ON d.id = f.definition_id
        WHERE d.name = $1 AND f.status = 'PARKED'`,
      [name],
    );
    expect({ summary, names: await names(), parked: parked.rows.map((r) => r.last_error) }).toMatchObject({
      summary: { status: 'PARTIAL', updated: 1, failed: 1 },
      names: ['SP A', 'PG'],
      parked: [expect.stringMatching(/changed since the pull read it .*the next pull decides it again/)],
    });

    // The next pull decides row 2 as it is now: both sides edited, SOURCE_WINS keeps Postgres's.
    expect(await runPull(h.ctx, name, { trigger: 'test' })).toMatchObject({
      conflicts: 1,
      parkedFailures: 0,
    });
    expect(await names()).toEqual(['SP A', 'PG']);
  });

  it('a row held past lock_timeout is left to the next pull; the page locks the others without waiting', async () => {
    const name = 'race_held';
    await setUp(name);
    await h.db.pool.query(`INSERT INTO ${name} (id, name) VALUES (2, 'B')`);
    const app = await h.db.pool.connect();
    try {
      await app.query('BEGIN');
      await app.query(`UPDATE ${name} SET name = 'PG' WHERE id = 1`);
      const seen: { read?: PageRows; free?: unknown[] } = {};
      await withRun(h.ctx, name, 'PULL', { trigger: 'test' }, async (scope) => {
        const client = await h.db.pool.connect();
        try {
          await client.query("BEGIN; SET LOCAL lock_timeout = '100ms'");
          seen.read = await readPageRows(scope, client, [[1], [2], [3]]);
          // Row 2 is locked by the page's transaction: another session cannot take it without waiting.
          const other = await h.db.pool.query(
            `SELECT id FROM ${name} WHERE id IN (1, 2) FOR UPDATE SKIP LOCKED`,
          );
          seen.free = other.rows;
        } finally {
          await client.query('ROLLBACK');
          client.release();
        }
      });
      expect({
        rows: seen.read?.rows.map((r) => r.values.name).sort(),
        held: [...(seen.read?.held.values() ?? [])].map((m) =>
          /held by another session .*lock timeout/.test(m),
        ),
        free: seen.free,
      }).toEqual({ rows: ['A', 'B'], held: [true], free: [] });
    } finally {
      await app.query('ROLLBACK');
      app.release();
    }
  });

  it('an item whose row stays held past lock_timeout is parked for the next pull; the rest of the page lands (I12)', async () => {
    const name = 'race_timeout';
    await setUp(name);
    await h.db.pool.query(`INSERT INTO ${name} (id, name) VALUES (2, 'B')`);
    await runPush(h.ctx, name, { trigger: 'test' });
    for (const item of await h.items(name))
      await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
        Title: `SP ${item.fields.Title as string}`,
      });
    // The engine connecting with a lock_timeout (a connection string's options, as a user may set them).
    const url = new URL(h.db.url);
    url.searchParams.set('options', '-c lock_timeout=200ms');
    const impatient = await createEngineContext(
      loadSettings({
        DATABASE_URL: url.toString(),
        GRAPH_BASE_URL: h.emulator.baseUrl,
        GRAPH_TOKEN: h.emulator.appToken,
        GRAPH_RU_PER_MINUTE: '10000000',
      }),
      { caCert: h.emulator.caCert },
    );
    const app = await h.db.pool.connect();
    let first: RunSummary;
    try {
      await app.query('BEGIN');
      await app.query(`UPDATE ${name} SET name = 'PG' WHERE id = 1`);
      first = await runPull(impatient.ctx, name, { trigger: 'test' });
      await app.query('COMMIT');
    } finally {
      await app.query('ROLLBACK').catch(() => undefined);
      app.release();
      await impatient.close();
    }
    const parked = await h.db.pool.query(
      `SELECT f.last_error FROM arcore.sync_failures f JOIN arcore.sync_definitions d ON d.id = f.definition_id
        WHERE d.name = $1 AND f.status = 'PARKED'`,
      [name],
    );
    expect({ first, parked: parked.rows.map((r) => r.last_error) }).toMatchObject({
      first: { status: 'PARTIAL', updated: 1, failed: 1 },
      parked: [
        expect.stringMatching(/held by another session .*lock timeout.*the next pull decides it again/),
      ],
    });

    // The next pull decides the item on the row as it is now: both sides edited, SOURCE_WINS keeps Postgres's.
    expect(await runPull(h.ctx, name, { trigger: 'test' })).toMatchObject({
      conflicts: 1,
      parkedFailures: 0,
    });
    const rows = (await h.db.pool.query(`SELECT name FROM ${name} ORDER BY id`)).rows.map((r) => r.name);
    expect(rows).toEqual(['PG', 'SP B']);
  });

  it('under an LSN cursor the same race keeps the edit on both sides and records the conflict', async () => {
    await h.db.pool.query(`CREATE TABLE race (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
    await h.db.pool.query(`INSERT INTO race VALUES (1, 'a', 1)`);
    await h.define(lsnDefinition('race')); // conflictPolicy SOURCE_WINS (default)
    expect(await runPush(h.ctx, 'race', { trigger: 'test' })).toMatchObject({ created: 1 });
    await runPull(h.ctx, 'race', { trigger: 'test' });
    const [item] = await h.items('race');
    await h.asUser('PATCH', `/sites/${h.siteId}/lists/race/items/${item.id}/fields`, { Title: 'from sp' });

    await pullRacingEdit('race');
    await runPush(h.ctx, 'race', { trigger: 'test' });

    const { rows } = await h.db.pool.query('SELECT name FROM race WHERE id = 1');
    const [after] = await h.items('race');
    expect({ pg: rows[0].name, sp: after.fields.Title, conflicts: await conflictsOf('race') }).toEqual({
      pg: 'PG',
      sp: 'PG',
      conflicts: 1,
    });
  });
});
