import type { PoolClient } from 'pg';
import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * Review: the pull's page lock (pageRows.ts → PostgresSource.readByKeys `FOR UPDATE OF t`) is stronger than the
 * writes it guards. The pull only ever updates non-key columns (or deletes), so FOR NO KEY UPDATE would do; FOR
 * UPDATE also conflicts with FOR KEY SHARE, which Postgres takes on a parent row whenever any session inserts or
 * updates a child row referencing it (a foreign key). Before b7855b6 the page's UPDATE took FOR NO KEY UPDATE and
 * never waited on such a session; now the whole page (and the run, holding the definition's advisory lock) waits for
 * an unrelated application transaction to end, and with no lock_timeout set (the default) it waits forever. Also an
 * echo (an item the pull writes nothing for) now waits on its row's lock.
 */
describe('I7/I16 the pull page lock (docs/design.md, the pull page): as strong as its writes, and bounded', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => {
    await h.close();
  });

  /** Polls until a session of this database waits on a lock with a query naming `needle`, or `stop()` is called. */
  const lockWaitSeen = (needle: string): { seen: Promise<'waiting on a lock'>; stop: () => void } => {
    let stopped = false;
    const seen = (async (): Promise<'waiting on a lock'> => {
      for (;;) {
        if (stopped) return new Promise<never>(() => undefined);
        const { rows } = await h.db.pool.query(
          `SELECT 1 FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE $1`,
          [`%${needle}%`],
        );
        if (rows.length > 0) return 'waiting on a lock';
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    return { seen, stop: () => (stopped = true) };
  };

  const pullWhile = async (name: string, app: PoolClient): Promise<string> => {
    const pulling = runPull(h.ctx, name, { trigger: 'test' });
    const watch = lockWaitSeen('NO KEY UPDATE');
    try {
      return await Promise.race([pulling.then(() => 'finished'), watch.seen]);
    } finally {
      watch.stop();
      await app.query('ROLLBACK').catch(() => undefined);
      await pulling.catch(() => undefined);
    }
  };

  it('an application inserting a child row (FK → FOR KEY SHARE on the parent) does not stall the pull of an SP edit of the parent', async () => {
    const name = 'fk_parent';
    await h.db.pool.query(`CREATE TABLE ${name} (id integer PRIMARY KEY, name text,
        updated_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE ${name}_child (id integer PRIMARY KEY, parent_id integer NOT NULL REFERENCES ${name}(id));
      INSERT INTO ${name} (id, name) VALUES (1, 'A')`);
    await h.define({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [{ source: 'name', target: 'Title' }],
    });
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 1 });
    await runPull(h.ctx, name, { trigger: 'test' });
    const [item] = await h.items(name);
    await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, { Title: 'SP' });

    // The page's own write (UPDATE of a non-key column) would not wait on this session: FOR KEY SHARE only.
    const probe = await h.db.pool.connect();
    const app = await h.db.pool.connect();
    try {
      await app.query('BEGIN');
      await app.query(`INSERT INTO ${name}_child VALUES (1, 1)`);
      await probe.query("BEGIN; SET LOCAL lock_timeout = '200ms'");
      await expect(probe.query(`UPDATE ${name} SET name = name WHERE id = 1`)).resolves.toBeDefined();
      await probe.query('ROLLBACK');

      expect(await pullWhile(name, app)).toBe('finished');
    } finally {
      await app.query('ROLLBACK').catch(() => undefined);
      app.release();
      probe.release();
    }
  });

  it('a row an application holds in an open transaction stops the page for a bounded time only (I16, I12)', async () => {
    const name = 'held_long';
    await h.db.pool.query(`CREATE TABLE ${name} (id integer PRIMARY KEY, name text,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO ${name} (id, name) VALUES (1, 'A'), (2, 'B')`);
    await h.define({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [{ source: 'name', target: 'Title' }],
    });
    await runPush(h.ctx, name, { trigger: 'test' });
    await runPull(h.ctx, name, { trigger: 'test' });
    for (const item of await h.items(name))
      await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
        Title: `${String(item.fields.Title)} sp`,
      });
    const app = await h.db.pool.connect();
    try {
      // No lock_timeout is set (Postgres's default, 0: no limit): the page's own bound applies.
      expect((await h.db.pool.query('SHOW lock_timeout')).rows[0].lock_timeout).toBe('0');
      await app.query('BEGIN');
      await app.query(`UPDATE ${name} SET name = 'app' WHERE id = 1`);
      const pulled = await runPull(h.ctx, name, { trigger: 'test' });
      // Row 2 lands; row 1, held, is left to the next pull.
      expect(pulled).toMatchObject({ updated: 1, failed: 1 });
      await app.query('COMMIT');
    } finally {
      await app.query('ROLLBACK').catch(() => undefined);
      app.release();
    }
    // Both sides changed row 1: a conflict, SOURCE_WINS keeps the application's edit.
    expect(await runPull(h.ctx, name, { trigger: 'test' })).toMatchObject({ conflicts: 1 });
    const { rows } = await h.db.pool.query(`SELECT id, name FROM ${name} ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, name: 'app' },
      { id: 2, name: 'B sp' },
    ]);
  });
  /** Resolves once some session of this database has waited on a lock for longer than the page's 5 s bound + 2 s. */
  const waitsPastBound = (): { seen: Promise<string>; stop: () => void } => {
    let stopped = false;
    const seen = (async (): Promise<string> => {
      for (;;) {
        if (stopped) return new Promise<never>(() => undefined);
        const { rows } = await h.db.pool.query<{ query: string }>(
          `SELECT query FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'
              AND now() - query_start > interval '7 s'`,
        );
        if (rows.length > 0) return `waiting on a lock past the bound: ${rows[0].query.slice(0, 80)}`;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    return { seen, stop: () => (stopped = true) };
  };

  const pullWhileBounded = async (name: string, app: PoolClient): Promise<string> => {
    const pulling = runPull(h.ctx, name, { trigger: 'test' });
    const watch = waitsPastBound();
    try {
      return await Promise.race([pulling.then(() => 'finished'), watch.seen]);
    } finally {
      watch.stop();
      await app.query('ROLLBACK').catch(() => undefined);
      await pulling.catch(() => undefined);
    }
  };

  const setupWithChild = async (name: string, uniqueCode: boolean): Promise<void> => {
    await h.db.pool.query(`CREATE TABLE ${name} (id integer PRIMARY KEY, name text,
        code text ${uniqueCode ? 'UNIQUE' : ''}, updated_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE ${name}_child (id integer PRIMARY KEY, parent_id integer NOT NULL REFERENCES ${name}(id));
      INSERT INTO ${name} (id, name, code) VALUES (1, 'A', 'c1')`);
    await h.define({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code' },
      ],
    });
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 1 });
    await runPull(h.ctx, name, { trigger: 'test' });
  };

  it('an item deleted in SharePoint while an application inserts a child row of its row: the delete waits 5 s at most, then its item waits for the next pull', async () => {
    const name = 'fk_del';
    await setupWithChild(name, false);
    const [item] = await h.items(name);
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${name}/items/${item.id}`)).status).toBe(204);
    const app = await h.db.pool.connect();
    try {
      expect((await h.db.pool.query('SHOW lock_timeout')).rows[0].lock_timeout).toBe('0');
      await app.query('BEGIN');
      await app.query(`INSERT INTO ${name}_child VALUES (1, 1)`);
      // Designed: the page waits at most PAGE_ROW_LOCK_WAIT (5 s) for a held row, then parks its item.
      expect(await pullWhileBounded(name, app)).toBe('finished');
    } finally {
      await app.query('ROLLBACK').catch(() => undefined);
      app.release();
    }
  }, 30000);
});
