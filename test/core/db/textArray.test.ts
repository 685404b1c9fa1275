import fc from 'fast-check';
import pg from 'pg';
import { textArrayParam } from '../../../src/core/db/textArray';
import { freshDatabase, type TestDatabase } from '../../support/db';

// node-pg's own rendering of a JS array parameter (pg.utils, untyped): what textArrayParam must send instead.
const { prepareValue } = (pg as unknown as { utils: { prepareValue: (value: unknown) => unknown } }).utils;

describe('textArrayParam (issue 23.3)', () => {
  it('renders the literal node-pg renders for a string array', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string(), fc.constantFrom('"', '\\', '{', '}', ',', ' ', 'NULL', ''))),
        (values) => {
          expect(textArrayParam(values)).toBe(prepareValue(values));
        },
      ),
      { numRuns: 500 },
    );
  });

  describe('on a server', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await freshDatabase();
    });
    afterAll(async () => {
      await db.drop();
    });

    it('arrives as the same text[] value, element for element', async () => {
      const values = ['a', 'b"c', 'd\\e', '', 'NULL', '{x,y}', ' spaced ', 'é'];
      const { rows } = await db.pool.query<{ v: string[] }>('SELECT $1::text[] AS v', [
        textArrayParam(values),
      ]);
      expect(rows[0].v).toEqual(values);
      const hashes = ['0f'.repeat(32), 'a1'.repeat(32)];
      const { rows: matched } = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM unnest($1::text[]) AS h WHERE h = ANY($2)`,
        [hashes, textArrayParam(hashes)],
      );
      expect(matched[0].n).toBe(2);
    });
  });
});
