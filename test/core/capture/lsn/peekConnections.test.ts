import { openPeek, type SlotPeek } from '../../../../src/core/capture/lsn/peek';
import type { LsnNames } from '../../../../src/core/capture/lsn/names';
import { createPool } from '../../../../src/core/db/pool';
import { freshDatabase, type TestDatabase } from '../../../support/db';

/**
 * Where a big peek's cursor lives (docs/deploy.md, connections): on the run's lock connection when it has one on
 * the source's database (test/core/capture/lsn/bigTransaction.test.ts counts the run's connections), otherwise on
 * a connection of its own outside the pool, at most one per pool at a time, so a process stays within
 * PG_POOL_MAX + 1 connections to a source.
 */
let db: TestDatabase;
let names: LsnNames;
const CHUNK = 5;
const CHANGES = 60; // one transaction, more than the four chunks a plain read takes: read through the cursor

beforeAll(async () => {
  db = await freshDatabase();
  const suffix = new URL(db.url).pathname.slice(1);
  names = { slot: `arcore_peektest_${suffix}`, publication: 'arcore_peektest', origin: 'unused' };
  await db.pool.query('CREATE TABLE peeked (id integer PRIMARY KEY, name text)');
  await db.pool.query('CREATE PUBLICATION arcore_peektest FOR TABLE peeked');
  await db.pool.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [names.slot]);
  await db.pool.query(`INSERT INTO peeked SELECT g, 'n' || g FROM generate_series(1, ${CHANGES}) g`);
});
afterAll(async () => {
  await db.pool.query('SELECT pg_drop_replication_slot($1)', [names.slot]).catch(() => undefined);
  await db.drop();
});

async function readAll(peek: SlotPeek): Promise<number> {
  let n = 0;
  try {
    for (;;) {
      const chunk = await peek.next();
      if (chunk.length === 0) return n;
      expect(chunk.length).toBeLessThanOrEqual(CHUNK);
      n += chunk.length;
    }
  } finally {
    await peek.close();
  }
}

describe('a big peek without a lock connection', () => {
  it('opens at most one connection of its own per pool: a second peek waits for the first to close, then reads the same', async () => {
    const app = `arcore_peektest_${process.pid}`;
    const url = new URL(db.url);
    url.searchParams.set('application_name', app);
    const pool = createPool({ connectionString: url.toString(), auth: 'password', max: 2 });
    const connections = async () =>
      Number(
        (
          await db.pool.query<{ n: string }>(
            'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1',
            [app],
          )
        ).rows[0].n,
      );
    try {
      const first = await openPeek(pool, names, 'public', 'peeked', CHUNK, CHUNK);
      let secondOpened = false;
      const second = openPeek(pool, names, 'public', 'peeked', CHUNK, CHUNK).then((p) => {
        secondOpened = true;
        return p;
      });
      // The first reads its whole transaction (many round trips) while the second waits for its turn.
      const firstRead = await readAll(first);
      expect(secondOpened).toBe(false);
      const second2 = await second;
      // The pool's connections (at most 2) and one cursor connection, never two.
      expect(await connections()).toBeLessThanOrEqual(3);
      const secondRead = await readAll(second2);
      // BEGIN, RELATION, 60 INSERTs, COMMIT: the same whole transaction both times.
      expect(firstRead).toBeGreaterThan(4 * CHUNK);
      expect(secondRead).toBe(firstRead);
    } finally {
      await pool.end();
    }
  });
});
