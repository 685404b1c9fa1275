import { MAX_JSON_DEPTH, toCanonical } from '../../../src/core/canonical/toCanonical';
import { CanonicalValueError } from '../../../src/core/canonical/errors';
import { runPush } from '../../../src/core/engine/push';
import { startHarness, type Harness } from '../../support/engineHarness';

const nestedArrays = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
const nestedObjects = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
};

describe('json values nested too deep (I2, I12)', () => {
  it(`canonicalises values up to ${MAX_JSON_DEPTH} levels and refuses deeper ones naming the limit`, () => {
    expect(toCanonical('json', nestedArrays(MAX_JSON_DEPTH))).toBe(nestedArrays(MAX_JSON_DEPTH));
    expect(() => toCanonical('json', nestedObjects(MAX_JSON_DEPTH + 1))).toThrow(CanonicalValueError);
    expect(() => toCanonical('json', nestedArrays(3000))).toThrow(
      `nested more than ${MAX_JSON_DEPTH} levels deep (the limit for json values)`,
    );
    // Far beyond any recursion limit: refused by the (iterative) depth check, never a stack overflow.
    expect(() => toCanonical('json', nestedArrays(200_000))).toThrow(/levels deep/);
    // Also with a number a double cannot hold, which the exact reader (jsonNumbers.ts) reads: refused alike.
    const deepExact = `${'['.repeat(3000)}12345678901234567891${']'.repeat(3000)}`;
    expect(() => toCanonical('json', deepExact)).toThrow(/levels deep/);
    const exactAtLimit = `${'['.repeat(MAX_JSON_DEPTH)}12345678901234567891${']'.repeat(MAX_JSON_DEPTH)}`;
    expect(toCanonical('json', exactAtLimit)).toBe(exactAtLimit);
  });

  describe('push of a table with a 3,000-deep jsonb value', () => {
    let h: Harness;

    beforeAll(async () => {
      h = await startHarness();
      await h.db.pool.query(
        `CREATE TABLE docs (id int PRIMARY KEY, title text, body jsonb,
           updated_at timestamptz NOT NULL DEFAULT now())`,
      );
      await h.define({
        name: 'docs',
        source: { table: 'docs', key: ['id'], cursor: { column: 'updated_at' } },
        target: { site: 'contoso.sharepoint.com:/sites/demo', list: 'Docs' },
        fields: [
          { source: 'title', target: 'Title' },
          { source: 'body', target: 'Body' },
        ],
      });
    });
    afterAll(async () => h?.close());

    it('parks that row with a message naming the row, the column and the limit; the rest of the page is applied', async () => {
      await h.db.pool.query(
        `INSERT INTO docs (id, title, body) VALUES (1, 'a', '{"a":1}'), (2, 'b', $1::jsonb), (3, 'c', '[1]')`,
        [nestedArrays(3000)],
      );

      const summary = await runPush(h.ctx, 'docs', { trigger: 'test' });

      expect(summary).toMatchObject({ status: 'PARTIAL', processed: 3, created: 2, failed: 1, error: null });
      expect((await h.items('Docs')).map((i) => i.fields.Title).sort()).toEqual(['a', 'c']);
      const { rows } = await h.db.pool.query<{ source_identity: unknown; last_error: string }>(
        "SELECT source_identity, last_error FROM arcore.sync_failures WHERE status = 'PARKED'",
      );
      expect(rows).toHaveLength(1);
      expect(rows[0].source_identity).toEqual({ id: 2 });
      expect(rows[0].last_error).toMatch(/^row \{"id":2\}: field body: invalid json value /);
      expect(rows[0].last_error).toContain(`nested more than ${MAX_JSON_DEPTH} levels deep`);
      expect(rows[0].last_error).not.toContain('call stack');
    });
  });
});
