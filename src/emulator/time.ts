/**
 * Date handling as SharePoint does it: instants are kept to whole seconds in UTC and printed
 * `YYYY-MM-DDTHH:MM:SSZ`; date-only values are midnight of the site's time zone.
 */
import { EmulatorSetupError } from './errors';

let lastSecond = NaN;
let lastText = '';
/** `YYYY-MM-DDT` by day number since the epoch, for days of years 0000–9999 ('' for others). */
const dayTexts = new Map<number, string>();
/** Days kept in dayTexts: a list's date columns span a few thousand days; past this, the cache starts again. */
const DAY_TEXTS_KEPT = 20_000;
const TWO_DIGITS = Array.from({ length: 60 }, (_, n) => String(n).padStart(2, '0'));
const SECONDS_PER_DAY = 86_400;

function dayText(day: number): string {
  let text = dayTexts.get(day);
  if (text === undefined) {
    const iso = new Date(day * SECONDS_PER_DAY * 1000).toISOString();
    // Years outside 0000–9999 print with a sign and six digits: those keep the full formatting.
    text = iso.length === 24 ? iso.slice(0, 11) : '';
    if (dayTexts.size >= DAY_TEXTS_KEPT) dayTexts.clear();
    dayTexts.set(day, text);
  }
  return text;
}

export function toGraphDateTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  // Most timestamps rendered together share a second: formatting is a measurable cost under load.
  if (second === lastSecond) return lastText;
  lastSecond = second;
  // Item dates rarely share a second but come back to the same days: each day is formatted once, the time by
  // table (an item's date column is formatted several times between its write and its answer).
  const day = Math.floor(second / SECONDS_PER_DAY);
  const date = dayText(day);
  if (date === '') {
    const iso = new Date(second * 1000).toISOString();
    lastText = `${iso.slice(0, -5)}Z`;
    return lastText;
  }
  const inDay = second - day * SECONDS_PER_DAY;
  const minutes = Math.floor(inDay / 60);
  lastText = `${date}${TWO_DIGITS[Math.floor(minutes / 60)]}:${TWO_DIGITS[minutes % 60]}:${TWO_DIGITS[inDay % 60]}Z`;
  return lastText;
}

export function truncateToSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

const FIXED_OFFSET = /^(?:UTC)?([+-])(\d{2}):?(\d{2})$/;

/** Throws unless `timeZone` is `UTC`, a fixed offset like `+01:00`, or an IANA name Node knows. */
export function assertTimeZone(timeZone: string): void {
  if (timeZone === 'UTC' || FIXED_OFFSET.test(timeZone)) return;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new EmulatorSetupError(
      `Unknown time zone '${timeZone}': use UTC, an offset like +01:00 or an IANA name`,
      {
        timeZone,
      },
    );
  }
}

/** Offset of `timeZone` from UTC at the instant `ms`, in minutes (east positive). */
export function offsetMinutesAt(timeZone: string, ms: number): number {
  if (timeZone === 'UTC') return 0;
  const fixed = FIXED_OFFSET.exec(timeZone);
  if (fixed) {
    const minutes = Number(fixed[2]) * 60 + Number(fixed[3]);
    return fixed[1] === '-' ? -minutes : minutes;
  }
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(ms));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return Math.round((asUtc - truncateToSecond(ms)) / 60000);
}

export interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

/** The calendar date in `timeZone` at instant `ms`. */
export function localDateAt(timeZone: string, ms: number): CalendarDate {
  const local = new Date(ms + offsetMinutesAt(timeZone, ms) * 60000);
  return { year: local.getUTCFullYear(), month: local.getUTCMonth() + 1, day: local.getUTCDate() };
}

/** The UTC instant of midnight of `date` in `timeZone` (DST aware: the offset is taken at that midnight). */
export function midnightInZone(timeZone: string, date: CalendarDate): number {
  const naive = Date.UTC(date.year, date.month - 1, date.day);
  let guess = naive - offsetMinutesAt(timeZone, naive) * 60000;
  // A second pass settles days on which the offset changes.
  guess = naive - offsetMinutesAt(timeZone, guess) * 60000;
  return guess;
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;

export type ParsedDateInput = { kind: 'date'; date: CalendarDate } | { kind: 'instant'; ms: number };

/** Parses what a client may send for a dateTime column; undefined when it is not an ISO-8601 value. */
export function parseDateInput(text: string): ParsedDateInput | undefined {
  const dateOnly = DATE_ONLY.exec(text);
  if (dateOnly) {
    const date = { year: Number(dateOnly[1]), month: Number(dateOnly[2]), day: Number(dateOnly[3]) };
    const check = new Date(Date.UTC(date.year, date.month - 1, date.day));
    if (check.getUTCMonth() !== date.month - 1 || check.getUTCDate() !== date.day) return undefined;
    return { kind: 'date', date };
  }
  if (!DATE_TIME_WITH_ZONE.test(text)) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return undefined;
  return { kind: 'instant', ms };
}
