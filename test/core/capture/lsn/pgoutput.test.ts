import { foldTransactions } from '../../../../src/core/capture/lsn/changes';
import {
  decodePgoutput,
  formatLsn,
  parseLsn,
  type PgoutputMessage,
} from '../../../../src/core/capture/lsn/pgoutput';
import { freshDatabase, type TestDatabase } from '../../../support/db';

/** Real server output: a table changed in every way pgoutput reports, decoded message by message. */
let db: TestDatabase;
let slot: string;

beforeAll(async () => {
  db = await freshDatabase();
  slot = `${new URL(db.url).pathname.slice(1)}_decoder`;
  await db.pool.query(`CREATE TYPE mood AS ENUM ('calm', 'busy')`);
  await db.pool.query(`CREATE TABLE t (id int PRIMARY KEY, name text, m mood, big text)`);
  await db.pool.query(`CREATE PUBLICATION p_decoder FOR TABLE t`);
  await db.pool.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  await db.pool.query(
    `INSERT INTO t SELECT 1, 'a', 'calm', string_agg(md5(i::text), '') FROM generate_series(1, 1000) i`,
  );
  await db.pool.query(`INSERT INTO t VALUES (2, 'b', NULL, NULL)`);
  await db.pool.query(`UPDATE t SET name = 'a2' WHERE id = 1`); // big is TOASTed and unchanged
  await db.pool.query(`UPDATE t SET id = 3 WHERE id = 2`); // key change: old key sent
  await db.pool.query(`DELETE FROM t WHERE id = 1`);
  await db.pool.query(`SELECT pg_replication_origin_create($1)`, [slot]);
  const c = await db.pool.connect();
  try {
    await c.query('SELECT pg_replication_origin_session_setup($1)', [slot]);
    await c.query(`INSERT INTO t VALUES (9, 'ours', NULL, NULL)`);
    await c.query('SELECT pg_replication_origin_session_reset()');
  } finally {
    c.release();
  }
  await db.pool.query(`TRUNCATE t`);
  await db.pool.query(`ALTER TABLE t DROP COLUMN name`);
  await db.pool.query(`INSERT INTO t VALUES (5, 'busy', NULL)`);
});

afterAll(async () => {
  await db.pool.query('SELECT pg_drop_replication_slot($1)', [slot]).catch(() => undefined);
  await db.pool.query('SELECT pg_replication_origin_drop($1)', [slot]).catch(() => undefined);
  await db.drop();
});

async function peek(): Promise<{ lsn: string; data: Buffer }[]> {
  const { rows } = await db.pool.query<{ lsn: string; data: Buffer }>(
    `SELECT lsn::text AS lsn, data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL,
       'proto_version', '1', 'publication_names', 'p_decoder')`,
    [slot],
  );
  return rows;
}

describe('pgoutput decoder against real server output', () => {
  it('decodes every message kind the server sends', async () => {
    const messages: PgoutputMessage[] = (await peek()).map((r) => decodePgoutput(r.data));
    const tags = messages.map((m) => m.tag);
    expect(new Set(tags)).toEqual(
      new Set(['begin', 'relation', 'type', 'insert', 'update', 'delete', 'origin', 'truncate', 'commit']),
    );

    const relation = messages.find((m) => m.tag === 'relation');
    expect(relation).toMatchObject({ schema: 'public', name: 't', replicaIdentity: 'd' });
    if (relation?.tag !== 'relation') throw new Error('no relation');
    expect(relation.columns.map((c) => [c.name, c.isKey])).toEqual([
      ['id', true],
      ['name', false],
      ['m', false],
      ['big', false],
    ]);
    expect(relation.columns[0].typeOid).toBe(23);

    const type = messages.find((m) => m.tag === 'type');
    expect(type).toMatchObject({ schema: 'public', name: 'mood' });

    const inserts = messages.filter((m) => m.tag === 'insert');
    expect(inserts[0]).toMatchObject({
      newTuple: [
        { kind: 'text', text: '1' },
        { kind: 'text', text: 'a' },
        { kind: 'text', text: 'calm' },
        { kind: 'text', text: expect.stringMatching(/^[0-9a-f]{32000}$/) as unknown as string },
      ],
    });
    expect(inserts[1]).toMatchObject({
      newTuple: [{ text: '2' }, { text: 'b' }, { kind: 'null' }, { kind: 'null' }],
    });

    const updates = messages.filter((m) => m.tag === 'update');
    expect(updates[0]).toMatchObject({
      oldKind: null,
      newTuple: [{ text: '1' }, { text: 'a2' }, { text: 'calm' }, { kind: 'unchanged' }],
    });
    expect(updates[1]).toMatchObject({
      oldKind: 'K',
      oldTuple: [{ text: '2' }, { kind: 'null' }, { kind: 'null' }, { kind: 'null' }],
    });

    expect(messages.find((m) => m.tag === 'delete')).toMatchObject({
      oldKind: 'K',
      oldTuple: [{ text: '1' }, { kind: 'null' }, { kind: 'null' }, { kind: 'null' }],
    });
    expect(messages.find((m) => m.tag === 'origin')).toMatchObject({ name: slot });
    expect(messages.find((m) => m.tag === 'truncate')).toMatchObject({
      cascade: false,
      restartIdentity: false,
    });

    const begin = messages.find((m) => m.tag === 'begin');
    const commit = messages.find((m) => m.tag === 'commit');
    if (begin?.tag !== 'begin' || commit?.tag !== 'commit') throw new Error('no transaction frame');
    expect(commit.commitLsn).toBe(begin.finalLsn);
    expect(parseLsn(commit.endLsn)).toBeGreaterThan(parseLsn(commit.commitLsn));
    expect(commit.commitTime).toBe(begin.commitTime);
  });

  it('folds them into transactions: keys touched, own-origin writes, the TRUNCATE, a key column the table lacked', async () => {
    const changes = await peek();
    const opts = { definition: 'd', schema: 'public', table: 't' };
    // Relation messages of either shape are fine while they carry the key; one without a key column stops the fold.
    expect(() => foldTransactions(changes, { ...opts, key: ['id', 'name'] })).toThrow(
      /made when public\.t had no key column "name" \(source\.key\).*reset-cursor d --scope source/,
    );
    const txns = foldTransactions(changes, { ...opts, key: ['id'] });
    expect(txns.map((t) => ({ keys: t.keys, origin: t.origin, truncated: t.truncated }))).toEqual([
      { keys: [['1']], origin: null, truncated: false },
      { keys: [['2']], origin: null, truncated: false },
      { keys: [['1']], origin: null, truncated: false },
      { keys: [['3'], ['2']], origin: null, truncated: false },
      { keys: [['1']], origin: null, truncated: false },
      { keys: [['9']], origin: slot, truncated: false },
      { keys: [], origin: null, truncated: true },
      { keys: [['5']], origin: null, truncated: false },
    ]);
    const last = txns[txns.length - 1];
    expect(formatLsn(parseLsn(last.endLsn))).toBe(last.endLsn);
  });
});
