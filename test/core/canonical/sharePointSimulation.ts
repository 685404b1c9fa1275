/*
 * A test double for what SharePoint does to a `fields` write, written from shared/reference/graph.md and
 * independent of src/core/canonical: it validates the write as Graph would (unknown fields 400, collections
 * need their @odata.type annotation), stores values as SharePoint does (numbers as IEEE doubles, dateTime
 * in whole seconds, date-only as midnight in the site's time zone), and reads them back the way Graph
 * returns them (empty values omitted, lookup ids as strings, multi-lookups expanded).
 */
import type { FieldKind } from '../../../src/core/canonical';

export type SimulatedColumnType =
  | 'text'
  | 'note'
  | 'number'
  | 'boolean'
  | 'dateTime'
  | 'dateOnly'
  | 'choice'
  | 'multiChoice'
  | 'lookup'
  | 'multiLookup';

export interface SimulatedColumn {
  name: string;
  type: SimulatedColumnType;
}

export interface SimulatedSite {
  /** The site's regional time zone, an IANA name (Pacific/Auckland: UTC+12, UTC+13 in summer). */
  timeZone: string;
  /** How a multi-value lookup is read: expanded `X: [{LookupId, LookupValue}]` or `XLookupId: [ids]`. */
  multiLookupReadAs: 'expanded' | 'ids';
}

/** The SharePoint column a field of each kind lives in. */
export function simulatedColumnFor(name: string, kind: FieldKind): SimulatedColumn {
  const types: Record<FieldKind, SimulatedColumnType> = {
    text: 'text',
    uuid: 'text',
    note: 'note',
    json: 'note',
    number: 'number',
    integer: 'number',
    boolean: 'boolean',
    dateTime: 'dateTime',
    dateOnly: 'dateOnly',
    choice: 'choice',
    multiChoice: 'multiChoice',
    lookupId: 'lookup',
    multiLookupId: 'multiLookup',
  };
  return { name, type: types[kind] };
}

export class SimulatedGraphError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(`${status}: ${message}`);
  }
}

/** Site zones whose offset stays within (−12 h, +12 h) all year, daylight saving north and south included. */
export const SITE_TIME_ZONES_WITHIN_12_HOURS = [
  'Pacific/Pago_Pago',
  'Pacific/Honolulu',
  'America/Los_Angeles',
  'America/St_Johns',
  'America/Santiago', // its clocks skip midnight in September
  'UTC',
  'Europe/London',
  'Europe/Berlin',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Adelaide',
  'Australia/Lord_Howe',
];

/** Site zones at UTC−12 or from UTC+12 (New Zealand, Fiji, Chatham, Tonga, Samoa, Kiribati). */
export const SITE_TIME_ZONES_BEYOND_12_HOURS = [
  'Etc/GMT+12',
  'Pacific/Auckland',
  'Pacific/Fiji',
  'Pacific/Chatham',
  'Pacific/Tongatapu',
  'Pacific/Apia',
  'Pacific/Kiritimati',
];

/** The wall clock of `zone` at `millis`, as `YYYY-MM-DDTHH:MM:SSZ` read as if it were UTC. */
function wallClockAsUtc(millis: number, zone: string): number {
  const text = new Date(millis).toLocaleString('sv-SE', { timeZone: zone });
  return Date.parse(`${text.replace(' ', 'T')}Z`);
}

/** Midnight of `day` (YYYY-MM-DD) in `zone`: the first instant whose wall clock shows that day. */
function zoneMidnight(day: string, zone: string): number {
  const naive = Date.parse(`${day}T00:00:00Z`);
  let guess = naive;
  for (let pass = 0; pass < 3; pass += 1) guess = naive - (wallClockAsUtc(guess, zone) - guess);
  // A clock that skips midnight shows the day first at 01:00: step to the first whole hour on that day.
  while (new Date(wallClockAsUtc(guess, zone)).toISOString().slice(0, 10) < day) guess += 3_600_000;
  return guess;
}

type Stored = string | number | boolean | string[] | number[];

const ISO_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z$/;

function wholeSecondsIso(millis: number): string {
  return `${new Date(Math.floor(millis / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

function storeOne(column: SimulatedColumn, value: unknown, site: SimulatedSite): Stored | undefined {
  if (value === null) return undefined;
  const bad = (why: string): never => {
    throw new SimulatedGraphError(400, `${column.name}: ${why}: ${JSON.stringify(value)}`);
  };
  switch (column.type) {
    case 'text':
    case 'note':
    case 'choice':
      if (typeof value !== 'string') return bad('expected a string');
      return value === '' ? undefined : value;
    case 'number':
      // The body travels as JSON and SharePoint keeps a double: exactly a JSON number's round trip.
      if (typeof value !== 'number') return bad('expected a number');
      return JSON.parse(JSON.stringify(value)) as number;
    case 'boolean':
      return typeof value === 'boolean' ? value : bad('expected a boolean');
    case 'dateTime': {
      if (typeof value !== 'string' || !ISO_UTC.test(value)) return bad('expected an ISO UTC date-time');
      return wholeSecondsIso(Date.parse(value));
    }
    case 'dateOnly': {
      if (typeof value !== 'string' || !ISO_UTC.test(value)) return bad('expected an ISO UTC date-time');
      // SharePoint keeps the day the instant falls on in the site's time zone, as midnight of that zone; Graph
      // returns that instant in UTC.
      const day = new Date(wallClockAsUtc(Date.parse(value), site.timeZone)).toISOString().slice(0, 10);
      return wholeSecondsIso(zoneMidnight(day, site.timeZone));
    }
    case 'multiChoice':
      if (!Array.isArray(value) || !value.every((choice) => typeof choice === 'string')) {
        return bad('expected an array of strings');
      }
      return value.length === 0 ? undefined : [...(value as string[])];
    case 'lookup':
      if (typeof value !== 'number' || !Number.isInteger(value)) return bad('expected an integer item id');
      return value;
    case 'multiLookup':
      if (!Array.isArray(value) || !value.every((id) => typeof id === 'number' && Number.isInteger(id))) {
        return bad('expected an array of integer item ids');
      }
      return value.length === 0 ? undefined : [...(value as number[])];
  }
}

function writeKeyOf(column: SimulatedColumn): string {
  return column.type === 'lookup' || column.type === 'multiLookup' ? `${column.name}LookupId` : column.name;
}

/** Applies a `fields` write to a new item and returns what `GET …/items/{id}?$expand=fields` shows. */
export function writeAndRead(
  body: Record<string, unknown>,
  columns: SimulatedColumn[],
  site: SimulatedSite,
): Record<string, unknown> {
  const byWriteKey = new Map(columns.map((column) => [writeKeyOf(column), column]));
  const stored = new Map<SimulatedColumn, Stored>();
  for (const [key, value] of Object.entries(body)) {
    if (key.endsWith('@odata.type')) continue;
    const column = byWriteKey.get(key);
    if (column === undefined) throw new SimulatedGraphError(400, `field ${key} is not recognized`);
    const collection = column.type === 'multiChoice' || column.type === 'multiLookup';
    const annotation = body[`${key}@odata.type`];
    const expected = column.type === 'multiChoice' ? 'Collection(Edm.String)' : 'Collection(Edm.Int32)';
    if (collection && annotation !== expected) {
      throw new SimulatedGraphError(
        400,
        `${key}: a collection write needs "${key}@odata.type": "${expected}"`,
      );
    }
    const kept = storeOne(column, value, site);
    if (kept !== undefined) stored.set(column, kept);
  }
  const fields: Record<string, unknown> = { '@odata.etag': '"1a2b,1"', id: '1' };
  for (const [column, value] of stored) {
    if (column.type === 'lookup') fields[`${column.name}LookupId`] = String(value);
    else if (column.type === 'multiLookup') {
      const ids = value as number[];
      if (site.multiLookupReadAs === 'ids') fields[`${column.name}LookupId`] = ids;
      else fields[column.name] = ids.map((id) => ({ LookupId: id, LookupValue: `Item ${id}` }));
    } else fields[column.name] = value;
  }
  return fields;
}
