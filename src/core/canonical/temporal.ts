/*
 * Parsing and rendering of dates and timestamps without JavaScript's local-time behaviour: every computation
 * here is in UTC, so the process time zone never matters. Shared by toCanonical (I2), identityOf (I1) and the
 * conflict resolver's last-writer comparison (I7).
 */

/** SharePoint's dateTime range: 1900-01-01T00:00:00Z … 8900-12-31T23:59:59Z. */
export const SHAREPOINT_MIN_YEAR = 1900;
export const SHAREPOINT_MAX_YEAR = 8900;

const SECONDS_PER_DAY = 86_400;
/** 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the years `toISOString` writes with four digits. */
const MIN_FORMATTED = -62_167_219_200;
const MAX_FORMATTED = 253_402_300_799;

/** An instant: whole seconds since the epoch plus the sub-second digits as written (no trailing zeros). */
export interface Instant {
  epochSeconds: number;
  fraction: string;
}

export type Fail = (reason: string) => never;

/**
 * Postgres text output ('2024-03-01 10:00:00.123456+01', '… BC', 'infinity') and ISO-8601 ('…T…Z').
 * Groups: year, month, day, hour, minute, second, fraction, offset.
 */
const TIMESTAMP_PATTERN =
  /^(\d{4,})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?$/;
const DATE_PATTERN = /^(\d{4,})-(\d{2})-(\d{2})$/;
/** A date followed by a time of day, as a timestamp column mapped to a date-only SharePoint column reads. */
const DATE_PREFIX_PATTERN = /^(\d{4,})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}.*)?$/;

/** Seconds since the epoch of a UTC civil date-time, or fail when the fields do not name a real moment. */
function utcEpochSeconds(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  fail: Fail,
): number {
  if (month < 1 || month > 12) fail(`month ${month} does not exist`);
  if (hour > 23 || minute > 59 || second > 59) fail('time of day out of range');
  // setUTCFullYear, unlike Date.UTC, does not map years 0–99 onto 1900–1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    fail(`${year}-${pad(month, 2)}-${pad(day, 2)} is not a calendar date`);
  }
  date.setUTCHours(hour, minute, second, 0);
  return Math.floor(date.getTime() / 1000);
}

function offsetSeconds(offset: string | undefined): number {
  if (offset === undefined || offset === 'Z' || offset === 'z') return 0;
  const sign = offset.startsWith('-') ? -1 : 1;
  const digits = offset.slice(1).replace(/:/g, '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length >= 4 ? Number(digits.slice(2, 4)) : 0;
  const seconds = digits.length >= 6 ? Number(digits.slice(4, 6)) : 0;
  return sign * (hours * 3600 + minutes * 60 + seconds);
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/**
 * Parses a timestamp. Without an offset the value is read as UTC: a `timestamp without time zone` column is
 * taken to hold UTC wall-clock time (the convention we document for users), never the process time zone.
 */
export function parseInstant(text: string, fail: Fail): Instant {
  if (/ BC$/i.test(text)) fail('dates before the common era cannot be stored');
  if (/^[+-]?infinity$/i.test(text)) fail('infinite timestamps cannot be stored');
  const match = TIMESTAMP_PATTERN.exec(text);
  if (match === null) fail('not a timestamp (expected YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH[:MM]])');
  const [, year, month, day, hour, minute, second, fraction, offset] = match;
  const local = utcEpochSeconds(
    Number(year),
    Number(month),
    Number(day),
    Number(hour ?? 0),
    Number(minute ?? 0),
    Number(second ?? 0),
    fail,
  );
  return { epochSeconds: local - offsetSeconds(offset), fraction: (fraction ?? '').replace(/0+$/, '') };
}

/** An instant from a JS Date (millisecond precision). */
export function instantOfDate(date: Date, fail: Fail): Instant {
  const millis = date.getTime();
  if (Number.isNaN(millis)) fail('invalid Date');
  const epochSeconds = Math.floor(millis / 1000);
  const milliseconds = millis - epochSeconds * 1000;
  return { epochSeconds, fraction: pad(milliseconds, 3).replace(/0+$/, '') };
}

function utcYear(epochSeconds: number): number {
  return new Date(epochSeconds * 1000).getUTCFullYear();
}

/** Fails unless the instant is inside SharePoint's dateTime range. */
export function assertSharePointRange(epochSeconds: number, fail: Fail): void {
  const year = utcYear(epochSeconds);
  if (!Number.isFinite(year) || year < SHAREPOINT_MIN_YEAR || year > SHAREPOINT_MAX_YEAR) {
    fail(`year ${Number.isFinite(year) ? year : '?'} is outside SharePoint's range 1900–8900`);
  }
}

/** `YYYY-MM-DDTHH:MM:SSZ`: whole seconds, sub-seconds truncated (what SharePoint stores). */
export function formatUtcSeconds(epochSeconds: number): string {
  // Whole seconds of years 0000–9999, from the day count (Hinnant's civil_from_days): every canonical
  // timestamp passes here, and building a Date plus toISOString per value showed in push profiles.
  if (Number.isSafeInteger(epochSeconds) && epochSeconds >= MIN_FORMATTED && epochSeconds <= MAX_FORMATTED) {
    const days = Math.floor(epochSeconds / SECONDS_PER_DAY);
    const secondOfDay = epochSeconds - days * SECONDS_PER_DAY;
    const shifted = days + 719_468;
    const era = Math.floor(shifted / 146_097);
    const dayOfEra = shifted - era * 146_097;
    const yearOfEra = Math.floor(
      (dayOfEra -
        Math.floor(dayOfEra / 1460) +
        Math.floor(dayOfEra / 36_524) -
        Math.floor(dayOfEra / 146_096)) /
        365,
    );
    const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
    const monthIndex = Math.floor((5 * dayOfYear + 2) / 153);
    const day = dayOfYear - Math.floor((153 * monthIndex + 2) / 5) + 1;
    const month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9;
    const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
    const hour = Math.floor(secondOfDay / 3600);
    const minute = Math.floor((secondOfDay % 3600) / 60);
    const second = secondOfDay % 60;
    return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}Z`;
  }
  return `${new Date(epochSeconds * 1000).toISOString().slice(0, 19)}Z`;
}

/** `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with every digit kept, for identities (I1), where truncation would merge keys. */
export function formatInstantExact(instant: Instant): string {
  const seconds = formatUtcSeconds(instant.epochSeconds);
  return instant.fraction === '' ? seconds : `${seconds.slice(0, 19)}.${instant.fraction}Z`;
}

/** A validated calendar date: its `YYYY-MM-DD` text and the epoch seconds of its UTC midnight. */
export interface CalendarDate {
  text: string;
  epochSeconds: number;
}

/** The calendar date of a date-only string (optionally followed by a time of day, which is ignored). */
export function parseCalendarDate(text: string, fail: Fail, allowTimeSuffix: boolean): CalendarDate {
  if (/ BC$/i.test(text)) fail('dates before the common era cannot be stored');
  if (/^[+-]?infinity$/i.test(text)) fail('infinite dates cannot be stored');
  const match = (allowTimeSuffix ? DATE_PREFIX_PATTERN : DATE_PATTERN).exec(text);
  if (match === null) fail('not a date (expected YYYY-MM-DD)');
  const [, year, month, day] = match;
  const epochSeconds = utcEpochSeconds(Number(year), Number(month), Number(day), 0, 0, 0, fail);
  return { text: `${pad(Number(year), 4)}-${month}-${day}`, epochSeconds };
}

/** True when text is a bare `YYYY-MM-DD` (no time part). */
export function isBareDate(text: string): boolean {
  return DATE_PATTERN.test(text);
}

/** Orders two instants; fractions compare digit by digit. */
export function compareInstants(a: Instant, b: Instant): number {
  if (a.epochSeconds !== b.epochSeconds) return a.epochSeconds < b.epochSeconds ? -1 : 1;
  const width = Math.max(a.fraction.length, b.fraction.length);
  const fa = a.fraction.padEnd(width, '0');
  const fb = b.fraction.padEnd(width, '0');
  return fa === fb ? 0 : fa < fb ? -1 : 1;
}
