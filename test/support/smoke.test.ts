import { freshDatabase } from './db';

describe('test harness', () => {
  it('gives each file a real Postgres with logical wal', async () => {
    const db = await freshDatabase();
    const { rows } = await db.pool.query<{ wal_level: string }>('SHOW wal_level');
    expect(rows[0].wal_level).toBe('logical');
    await db.drop();
  });

  it('gives each migrated copy of the template an installation id of its own (slot names carry it)', async () => {
    const [a, b] = await Promise.all([
      freshDatabase(undefined, { migrated: true }),
      freshDatabase(undefined, { migrated: true }),
    ]);
    try {
      const id = async (pool: typeof a.pool) =>
        (await pool.query<{ id: string }>('SELECT id FROM arcore.installation')).rows[0].id;
      const [idA, idB] = await Promise.all([id(a.pool), id(b.pool)]);
      expect(idA).toMatch(/^[0-9a-f]{32}$/);
      expect(idB).not.toBe(idA);
    } finally {
      await Promise.all([a.drop(), b.drop()]);
    }
  });
});
