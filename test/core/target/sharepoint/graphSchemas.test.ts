import fc from 'fast-check';
import {
  batchResponseSchema,
  fieldsSchema,
  listItemSchema,
  parseBatchResponse,
  parseFields,
  parseListItem,
} from '../../../../src/core/target/sharepoint/graphSchemas';

/** Same success, same data with the same key order, same error message as the schema. */
function expectSameResult(
  fast: { success: boolean; data?: unknown; error?: { message: string } },
  schema: { success: boolean; data?: unknown; error?: { message: string } },
): void {
  expect(fast.success).toBe(schema.success);
  if (schema.success) {
    expect(fast.data).toStrictEqual(schema.data);
    expect(JSON.stringify(fast.data)).toBe(JSON.stringify(schema.data));
  } else {
    expect(fast.error?.message).toBe(schema.error?.message);
  }
}

// Values as JSON.parse produces them (own `__proto__` keys included), plus undefined where a key may be absent.
const key = fc.oneof(fc.constantFrom('__proto__', 'constructor', '1', '@odata.etag', 'Title'), fc.string());
const json = fc.jsonValue();
const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });
const record = (value: fc.Arbitrary<unknown>) =>
  fc.dictionary(key, value).map((entries) => JSON.parse(JSON.stringify(entries)) as Record<string, unknown>);
const loose = <T extends Record<string, unknown>>(shape: fc.Arbitrary<T>) =>
  fc.tuple(shape, record(json)).map(([known, extra]) => {
    const merged: Record<string, unknown> = { ...extra };
    for (const [k, v] of Object.entries(known)) if (v !== undefined || k.startsWith('undef')) merged[k] = v;
    return merged;
  });

const listItem = fc.oneof(
  loose(
    fc.record(
      {
        id: fc.oneof(fc.string(), json),
        eTag: maybe(fc.oneof(fc.string(), json)),
        lastModifiedDateTime: maybe(fc.oneof(fc.string(), json)),
        lastModifiedBy: maybe(json),
        fields: maybe(fc.oneof(record(json), json)),
      },
      { requiredKeys: [] },
    ),
  ),
  json,
  fc.record({ id: fc.string({ minLength: 1 }), eTag: fc.constant(undefined) }),
);

const innerResponse = loose(
  fc.record(
    {
      id: fc.oneof(fc.string(), fc.integer()),
      status: fc.oneof(fc.integer({ min: 100, max: 599 }), fc.double(), fc.constant(2 ** 60), fc.string()),
      headers: maybe(fc.oneof(record(fc.string()), record(json), json)),
      body: maybe(json),
    },
    { requiredKeys: [] },
  ),
);
const validInner = loose(
  fc.record(
    {
      id: fc.string(),
      status: fc.integer({ min: 100, max: 599 }),
      headers: maybe(record(fc.string())),
      body: maybe(json),
    },
    { requiredKeys: ['id', 'status'] },
  ),
);
const batchResponse = fc.oneof(
  fc.record({ responses: fc.array(validInner, { minLength: 1, maxLength: 5 }) }),
  fc.record({ responses: fc.array(innerResponse, { maxLength: 5 }) }),
  fc.record({ responses: fc.array(fc.oneof(innerResponse, json), { maxLength: 3 }) }),
  json,
);

describe('hot-path Graph answer checks equal their schemas', () => {
  it('parseListItem ≡ listItemSchema.safeParse', () => {
    fc.assert(
      fc.property(listItem, (raw) => expectSameResult(parseListItem(raw), listItemSchema.safeParse(raw))),
      { numRuns: 300 },
    );
  });

  it('parseFields ≡ fieldsSchema.safeParse', () => {
    fc.assert(
      fc.property(fc.oneof(record(json), json), (raw) =>
        expectSameResult(parseFields(raw), fieldsSchema.safeParse(raw)),
      ),
      { numRuns: 200 },
    );
  });

  it('parseBatchResponse ≡ batchResponseSchema.safeParse', () => {
    fc.assert(
      fc.property(batchResponse, (raw) =>
        expectSameResult(parseBatchResponse(raw), batchResponseSchema.safeParse(raw)),
      ),
      { numRuns: 300 },
    );
  });

  it('a created item from a $batch answer keeps its fields, minus nothing', () => {
    const body = JSON.parse(
      '{"id":"7","eTag":"\\"e,1\\"","fields":{"@odata.etag":"\\"e,1\\"","Title":"a","__proto__":{"x":1}},"extra":1}',
    ) as unknown;
    const parsed = parseListItem(body);
    expect(parsed.success && parsed.data).toStrictEqual({
      id: '7',
      eTag: '"e,1"',
      fields: { '@odata.etag': '"e,1"', Title: 'a' },
    });
  });
});
