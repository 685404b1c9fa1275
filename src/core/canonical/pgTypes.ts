import { types, type CustomTypesConfig } from 'pg';

/*
 * Why raw text: node-pg's default parsers turn
 *   - date (1082) into a JS Date at *local* midnight, so the calendar day depends on the process time zone;
 *   - timestamp without time zone (1114) into a Date in the *process* time zone, shifting the instant;
 *   - timestamptz (1184) into a Date with millisecond precision, dropping microseconds;
 *   - numeric (1700) into a string already, but numeric[] (1231) into parseFloat'ed numbers;
 *   - int8 (20) into a string, and int8[] (1016) likewise, but only by accident of its regex.
 * The canonical layer (toCanonical) must see exactly what Postgres stored, and decide itself how the value is
 * rounded for SharePoint (I2). So these types, and their array types, come back as the text Postgres sent.
 *
 * json (114) and jsonb (3802) come back as text too, a deliberate addition: with the default JSON.parse a
 * top-level JSON string such as "123" reaches us as the JS string 123, indistinguishable from the JSON
 * text 123 (a number). As raw text every json value has one reading.
 *
 * Every other type keeps node-pg's default parser (int2/int4 → number, float4/float8 → number,
 * bool → boolean, text[] → string[], uuid → string…).
 */

const RAW_TEXT_SCALARS: ReadonlySet<number> = new Set([
  20, // int8
  114, // json
  1082, // date
  1114, // timestamp
  1184, // timestamptz
  1700, // numeric
  3802, // jsonb
]);

const RAW_TEXT_ARRAYS: ReadonlySet<number> = new Set([
  199, // json[]
  1016, // int8[]
  1115, // timestamp[]
  1182, // date[]
  1185, // timestamptz[]
  1231, // numeric[]
  3807, // jsonb[]
]);

type TypeOid = Parameters<typeof types.getTypeParser>[0];

const TEXT_ARRAY_OID: TypeOid = 1009 as TypeOid;

function keepText(value: string): string {
  return value;
}

/** text[]'s parser splits an array literal into its elements without converting them: exactly what we want. */
const parseArrayOfText: (value: string) => (string | null)[] = types.getTypeParser(TEXT_ARRAY_OID, 'text');

type GetTypeParser = CustomTypesConfig['getTypeParser'];

const getTypeParser = ((oid: number, format?: 'text' | 'binary') => {
  if (format === undefined || format === 'text') {
    if (RAW_TEXT_SCALARS.has(oid)) return keepText;
    if (RAW_TEXT_ARRAYS.has(oid)) return parseArrayOfText;
  }
  return format === undefined ? types.getTypeParser(oid) : types.getTypeParser(oid, format);
}) as GetTypeParser;

/**
 * Pass as the `types` option of a pg Pool or Client. Dates, timestamps, numerics, int8 and json (and their
 * arrays) arrive as the text Postgres sent, so no value is shifted by the process time zone or rounded by
 * JavaScript before toCanonical sees it.
 */
export const pgTypeParsers: CustomTypesConfig = { getTypeParser };
