import fc from 'fast-check';
import { fromGraphFields } from '../../../src/core/canonical';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { buildFieldPlan, rowToCanonical } from '../../../src/core/engine/plan';
import { getDefinition } from '../../../src/core/store/definitions';
import { readSourceColumns } from '../../../src/core/definition/validateLive';
import { pgTypeParsers } from '../../../src/core/canonical';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { defineOnHandMadeColumn, SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * I2: for values of every supported Postgres type, canonical(db value) equals canonical(value read back from
 * SharePoint after the push wrote it), and a second push writes nothing (no endless re-writes of values
 * SharePoint cannot hold exactly).
 */
describe('I2 canonical form round-trips through the emulator', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.db.pool.query(`CREATE TABLE typed (
      id serial PRIMARY KEY, t text, v varchar(40), i int4, b int8, n numeric(20,6), r real, d double precision,
      flag boolean, day date, ts timestamp, tstz timestamptz, u uuid, j json, jb jsonb, tags text[],
      updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    const cols = ['t', 'v', 'i', 'b', 'n', 'r', 'd', 'flag', 'day', 'ts', 'tstz', 'u', 'j', 'jb', 'tags'];
    await h.db.pool.query("INSERT INTO typed (tags) VALUES ('{alpha,beta}')");
    await h.define({
      name: 'typed',
      source: {
        table: 'typed',
        key: ['id'],
        cursor: { type: 'TIMESTAMP', column: 'updated_at' },
        overlapSeconds: 0,
      },
      target: { site: SITE, list: 'Typed' },
      fields: cols.map((c) => ({ source: c, target: `c_${c}` })),
    });
  });
  afterAll(async () => h.close());

  const date = fc.date({
    min: new Date('1901-01-01T00:00:00Z'),
    max: new Date('8899-12-31T00:00:00Z'),
    noInvalidDate: true,
  });
  const text = fc.option(fc.string({ maxLength: 30 }), { nil: null });
  const row = fc.record({
    t: text,
    v: text,
    i: fc.option(fc.integer(), { nil: null }),
    b: fc.option(fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }).map(String), { nil: null }),
    n: fc.option(
      fc.double({ min: -1e12, max: 1e12, noNaN: true }).map((x) => x.toFixed(6)),
      { nil: null },
    ),
    r: fc.option(
      fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e30), max: Math.fround(1e30) }),
      { nil: null },
    ),
    d: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: null }),
    flag: fc.option(fc.boolean(), { nil: null }),
    day: fc.option(
      date.map((x) => x.toISOString().slice(0, 10)),
      { nil: null },
    ),
    ts: fc.option(
      date.map((x) => x.toISOString().replace('Z', '')),
      { nil: null },
    ),
    tstz: fc.option(
      date.map((x) => x.toISOString()),
      { nil: null },
    ),
    u: fc.option(fc.uuid(), { nil: null }),
    j: fc.option(
      fc.jsonValue({ maxDepth: 2 }).map((x) => JSON.stringify(x)),
      { nil: null },
    ),
    jb: fc.option(
      fc.dictionary(fc.string({ maxLength: 5 }), fc.integer()).map((x) => JSON.stringify(x)),
      { nil: null },
    ),
    tags: fc.option(fc.array(fc.constantFrom('alpha', 'beta', 'gamma delta', 'ünï'), { maxLength: 3 }), {
      nil: null,
    }),
  });

  it('for every supported type', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 15 }), async (rows) => {
        await h.db.pool.query('DELETE FROM typed');
        for (const r of rows) {
          await h.db.pool.query(
            `INSERT INTO typed (t, v, i, b, n, r, d, flag, day, ts, tstz, u, j, jb, tags)
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)`,
            [r.t, r.v, r.i, r.b, r.n, r.r, r.d, r.flag, r.day, r.ts, r.tstz, r.u, r.j, r.jb, r.tags],
          );
        }
        const summary = await runPush(h.ctx, 'typed', { trigger: 'test' });
        expect(summary.failed).toBe(0);
        const def = (await getDefinition(h.db.pool, 'typed')).definition;
        const target = h.ctx.target();
        const listId = (await target.resolveList(h.siteId, 'Typed')).id;
        const plan = buildFieldPlan(
          def,
          (await readSourceColumns(h.db.pool, 'public', 'typed'))!,
          await target.getColumns(h.siteId, listId),
        );
        const { rows: dbRows } = await h.db.pool.query({
          text: 'SELECT * FROM typed ORDER BY id',
          types: pgTypeParsers,
        });
        const { rows: ledger } = await h.db.pool.query(
          "SELECT source_identity->>'id' AS id, sp_item_id FROM arcore.sync_ledger WHERE state = 'SYNCED'",
        );
        const itemOf = new Map(ledger.map((l) => [String(l.id), l.sp_item_id as string]));
        const items = new Map((await h.items('Typed')).map((i) => [i.id, i]));
        for (const r of dbRows) {
          const item = items.get(itemOf.get(String(r.id)) as string);
          expect(item).toBeDefined();
          expect(fromGraphFields(item!.fields, plan.columns)).toEqual(rowToCanonical(plan, r));
        }
        const again = await runPush(h.ctx, 'typed', { trigger: 'test' });
        expect(again.updated + again.created).toBe(0);
      }),
      { numRuns: 25, seed: 2026 },
    );
  }, 300000);

  it('a number column showing two decimals keeps every digit: a push, pull, push writes nothing back', async () => {
    // decimalPlaces is how SharePoint shows the number, not how it stores it (Graph's numberColumn).
    await defineOnHandMadeColumn(h, {
      table: 'prices',
      list: 'Prices',
      column: 'price',
      sqlType: 'numeric(12,4)',
      spColumn: { name: 'Price', number: { decimalPlaces: 'two' } },
    });
    await h.db.pool.query("INSERT INTO prices (id, name, price) VALUES (1, 'one', 1.2345)");
    expect(await runPush(h.ctx, 'prices', { trigger: 'test' })).toMatchObject({ created: 1, failed: 0 });
    const pulled = await runPull(h.ctx, 'prices', { trigger: 'test' });
    const again = await runPush(h.ctx, 'prices', { trigger: 'test' });
    expect((await h.db.pool.query('SELECT price::text AS price FROM prices')).rows).toEqual([
      { price: '1.2345' },
    ]);
    expect([pulled.updated, again.updated]).toEqual([0, 0]);
    expect((await h.items('Prices'))[0].fields.Price).toBe(1.2345);
  });

  it('json numbers a double cannot hold are pushed and pulled exactly, and a second round writes nothing', async () => {
    await h.db.pool.query(`CREATE TABLE docs (id int PRIMARY KEY, name text, doc jsonb,
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', 'docs', 'updated_at');
    await h.define({
      name: 'docs',
      source: { table: 'docs', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'Docs' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'doc', target: 'Doc' },
      ],
    });
    await h.db.pool.query(
      `INSERT INTO docs (id, name, doc) VALUES (1, 'one', '{"order": 12345678901234567891, "rate": 0.12345678901234567891, "n": 1}')`,
    );
    expect(await runPush(h.ctx, 'docs', { trigger: 'test' })).toMatchObject({ created: 1, failed: 0 });
    const [item] = await h.items('Docs');
    expect(item.fields.Doc).toBe('{"n":1,"order":12345678901234567891,"rate":0.12345678901234567891}');
    // A SharePoint user edits another member of the document: the pull keeps the numbers' digits.
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Docs/items/${item.id}/fields`, {
      Doc: '{"n":2,"order":12345678901234567891,"rate":0.12345678901234567891}',
    });
    expect(res.status).toBe(200);
    expect(await runPull(h.ctx, 'docs', { trigger: 'test' })).toMatchObject({ updated: 1, failed: 0 });
    const { rows } = await h.db.pool.query(
      `SELECT doc->>'order' AS "order", doc->>'rate' AS rate, doc->>'n' AS n FROM docs WHERE id = 1`,
    );
    expect(rows[0]).toEqual({ order: '12345678901234567891', rate: '0.12345678901234567891', n: '2' });
    const again = await runPush(h.ctx, 'docs', { trigger: 'test' });
    const quiet = await runPull(h.ctx, 'docs', { trigger: 'test' });
    expect([again.updated, quiet.updated]).toEqual([0, 0]);
  });

  it('I4: SharePoint edits Postgres stores otherwise (cut, rounded, renormalised) settle within one pull and push', async () => {
    await h.db.pool.query(`CREATE TABLE vals (id int PRIMARY KEY, name varchar(5), r real, n numeric(12,2),
      j jsonb, ts timestamp, d date, tz timestamptz, tags varchar(4)[], updated_at timestamptz NOT NULL DEFAULT now())`);
    const cols = ['name', 'r', 'n', 'j', 'ts', 'd', 'tz', 'tags'];
    await h.define({
      name: 'vals',
      source: { table: 'vals', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'Vals' },
      fields: cols.map((c) => ({ source: c, target: c === 'name' ? 'Title' : `c_${c}` })),
    });
    await h.db.pool.query(`INSERT INTO vals (id, name, r, n, j, ts, d, tz, tags) VALUES
      (1, 'a', 0.1, 1.5, '{"a":1.0}', '2024-01-01 12:00:00.5', '2024-01-01', '2024-01-01 12:00:00.75+02', '{x,y}')`);
    expect(await runPush(h.ctx, 'vals', { trigger: 'test' })).toMatchObject({ created: 1, failed: 0 });
    const [item] = await h.items('Vals');
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Vals/items/${item.id}/fields`, {
      Title: 'abc   ', // varchar(5) cuts the trailing spaces beyond 5
      c_r: 0.123456789, // real keeps about 7 digits
      c_n: 1.005, // numeric(12,2) rounds to 1.01
      c_j: '{"b": 1.50, "a": 1e2}', // the same json as {"a":100,"b":1.5}: no write-back
      c_ts: '2024-02-02T10:00:00Z',
      c_tz: '2024-02-02T10:00:00Z',
      c_d: '2024-02-02',
      c_tags: ['ab  ', 'y'],
      'c_tags@odata.type': 'Collection(Edm.String)',
    });
    expect(res.status).toBe(200);
    const rounds: number[][] = [];
    for (let i = 0; i < 3; i++) {
      const pull = await runPull(h.ctx, 'vals', { trigger: 'test' });
      const push = await runPush(h.ctx, 'vals', { trigger: 'test' });
      rounds.push([pull.updated + push.updated, pull.failed + push.failed]);
    }
    expect(rounds.slice(1)).toEqual([
      [0, 0],
      [0, 0],
    ]);
    const { rows } = await h.db.pool.query('SELECT name, r, n::text AS n, j::text AS j FROM vals');
    expect(rows).toEqual([{ name: 'abc  ', r: 0.12345679, n: '1.01', j: '{"a": 100, "b": 1.5}' }]);
    expect((await h.items('Vals'))[0].fields).toMatchObject({ Title: 'abc  ', c_r: 0.12345679, c_n: 1.01 });
  });
});
