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
  if (Number.isInteger(year) && year >= 0 && year <= 9999) {
    // Four-digit years by day arithmetic: a Date per value showed in push profiles (issue 23.3). Same result.
    if (!Number.isInteger(day) || day < 1 || day > daysInMonth(year, month))
      fail(`${year}-${pad(month, 2)}-${pad(day, 2)} is not a calendar date`);
    return daysFromCivil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
  }
  // setUTCFullYear, unlike Date.UTC, does not map years 0–99 onto 1900–1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    fail(`${year}-${pad(month, 2)}-${pad(day, 2)} is not a calendar date`);
  }
  date.setUTCHours(hour, minute, second, 0);
  return Math.floor(date.getTime() / 1000);
}

/** Days from 1970-01-01 to a proleptic Gregorian date (Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Days in a month (1–12) of a proleptic Gregorian year. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** The digit at `index` (0–9), or -1. */
function digitAt(text: string, index: number): number {
  const code = text.charCodeAt(index) - 48;
  return code >= 0 && code <= 9 ? code : -1;
}

/** The two-digit number at `index`, or -1. */
export function twoDigitsAt(text: string, index: number): number {
  const tens = digitAt(text, index);
  const ones = digitAt(text, index + 1);
  return tens < 0 || ones < 0 ? -1 : tens * 10 + ones;
}

/** The four-digit number at `index`, or -1. */
export function fourDigitsAt(text: string, index: number): number {
  const high = twoDigitsAt(text, index);
  const low = twoDigitsAt(text, index + 2);
  return high < 0 || low < 0 ? -1 : high * 100 + low;
}

/** True when `text` starts with `YYYY-MM-DD` (four-digit year), whatever follows. */
function startsWithDate(text: string): boolean {
  return (
    text.length >= 10 &&
    fourDigitsAt(text, 0) >= 0 &&
    text.charCodeAt(4) === 45 /* - */ &&
    twoDigitsAt(text, 5) >= 0 &&
    text.charCodeAt(7) === 45 &&
    twoDigitsAt(text, 8) >= 0
  );
}

/**
 * The common shapes of parseInstant's input read without a regular expression (issue 23.3): `YYYY-MM-DD`, then
 * optionally `[T ]HH:MM:SS[.digits]` and `Z`, `z`, `±HH`, `±HH:MM` or `±HHMM`. Undefined for anything else, which
 * the pattern reads; what this reads, the pattern reads alike (temporalParse.test.ts holds them to one result).
 */
function commonInstant(text: string, fail: Fail): Instant | undefined {
  if (!startsWithDate(text)) return undefined;
  const year = fourDigitsAt(text, 0);
  const month = twoDigitsAt(text, 5);
  const day = twoDigitsAt(text, 8);
  const n = text.length;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let fraction = '';
  let i = 10;
  if (i < n) {
    const separator = text.charCodeAt(i);
    if (separator !== 84 /* T */ && separator !== 32 /* space */) return undefined;
    hour = twoDigitsAt(text, 11);
    minute = twoDigitsAt(text, 14);
    second = twoDigitsAt(text, 17);
    if (hour < 0 || text.charCodeAt(13) !== 58 /* : */ || minute < 0) return undefined;
    if (text.charCodeAt(16) !== 58 || second < 0) return undefined;
    i = 19;
    if (i < n && text.charCodeAt(i) === 46 /* . */) {
      const start = i + 1;
      let end = start;
      let lastNonZero = start;
      while (end < n && digitAt(text, end) >= 0) {
        if (text.charCodeAt(end) !== 48) lastNonZero = end + 1;
        end++;
      }
      if (end === start) return undefined;
      fraction = lastNonZero > start ? text.slice(start, lastNonZero) : '';
      i = end;
    }
  }
  let offset = 0;
  if (i < n) {
    const sign = text.charCodeAt(i);
    if ((sign === 90 /* Z */ || sign === 122) /* z */ && i + 1 === n) offset = 0;
    else if (sign === 43 /* + */ || sign === 45 /* - */) {
      const hours = twoDigitsAt(text, i + 1);
      if (hours < 0) return undefined;
      let minutes = 0;
      if (i + 3 === n) minutes = 0;
      else if (i + 6 === n && text.charCodeAt(i + 3) === 58) minutes = twoDigitsAt(text, i + 4);
      else if (i + 5 === n) minutes = twoDigitsAt(text, i + 3);
      else return undefined;
      if (minutes < 0) return undefined;
      offset = (sign === 45 ? -1 : 1) * (hours * 3600 + minutes * 60);
    } else return undefined;
  }
  const local = utcEpochSeconds(year, month, day, hour, minute, second, fail);
  return { epochSeconds: local - offset, fraction };
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
  const common = commonInstant(text, fail);
  if (common !== undefined) return common;
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
  if (text.length === 10 && startsWithDate(text)) {
    // A bare four-digit-year date, read without the pattern (issue 23.3): its text is itself.
    const epochSeconds = utcEpochSeconds(
      fourDigitsAt(text, 0),
      twoDigitsAt(text, 5),
      twoDigitsAt(text, 8),
      0,
      0,
      0,
      fail,
    );
    return { text, epochSeconds };
  }
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
