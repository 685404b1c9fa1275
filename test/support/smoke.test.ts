import { freshDatabase } from './db';

describe('test harness', () => {
  it('gives each file a real Postgres with logical wal', async () => {
    const db = await freshDatabase();
    const { rows } = await db.pool.query<{ wal_level: string }>('SHOW wal_level');
    expect(rows[0].wal_level).toBe('logical');
    await db.drop();
  });
});
