/*
 * Date-only values in the site's time zone. SharePoint keeps a date-only value as midnight of the site's regional
 * time zone and Graph reads it back as that instant in UTC (https://learn.microsoft.com/en-us/graph/api/resources/
 * datetimecolumn; shared/reference/graph.md "Field values"), so the calendar day depends on the zone. The engine
 * writes noon of the day in the zone it is told (`target.siteTimeZone`, default UTC) and reads the instant back as
 * the nearest midnight in that zone: exact when the site's zone is the configured one, whatever its offset or
 * daylight saving, and still exact when the two differ by less than 12 hours (an hour of daylight-saving rules that
 * Windows and the IANA database date differently, or UTC configured for a site between UTC−12 and UTC+11:59).
 */
import type { Fail } from './temporal';

export const DEFAULT_SITE_TIME_ZONE = 'UTC';

const SECONDS_PER_DAY = 86_400;
const HALF_DAY = SECONDS_PER_DAY / 2;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

/** Whether `zone` is UTC or an IANA time zone name this process knows (Pacific/Auckland, Europe/Paris…). */
export function isKnownTimeZone(zone: string): boolean {
  if (zone === DEFAULT_SITE_TIME_ZONE) return true;
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/.test(zone)) return false;
  try {
    formatterOf(zone);
    return true;
  } catch {
    return false;
  }
}

/** Seconds east of UTC that `zone` is at the instant `epochSeconds`. */
export function offsetSecondsAt(zone: string, epochSeconds: number): number {
  if (zone === DEFAULT_SITE_TIME_ZONE) return 0;
  const parts: Record<string, string> = {};
  for (const p of formatterOf(zone).formatToParts(new Date(epochSeconds * 1000))) parts[p.type] = p.value;
  const year = parts.era === 'BC' || parts.era === 'B' ? 1 - Number(parts.year) : Number(parts.year);
  const wall = new Date(0);
  wall.setUTCFullYear(year, Number(parts.month) - 1, Number(parts.day));
  wall.setUTCHours(Number(parts.hour), Number(parts.minute), Number(parts.second), 0);
  return wall.getTime() / 1000 - epochSeconds;
}

/**
 * The instant (`YYYY-MM-DDTHH:MM:SSZ`) of noon of `date` (YYYY-MM-DD) in `zone`: what the engine writes for a
 * date-only value. Noon, not midnight, so that an hour of difference between SharePoint's and this process's
 * daylight-saving rules, or a midnight a clock change skips, still leaves the instant on the intended day.
 */
export function siteNoonOf(date: string, zone: string): string {
  if (zone === DEFAULT_SITE_TIME_ZONE) return `${date}T12:00:00Z`;
  const naive = Date.parse(`${date}T12:00:00Z`) / 1000;
  let instant = naive - offsetSecondsAt(zone, naive);
  // A second pass settles days on which the zone's offset changes.
  instant = naive - offsetSecondsAt(zone, instant);
  return `${new Date(instant * 1000).toISOString().slice(0, -5)}Z`;
}

/**
 * The calendar day (epoch seconds of its UTC midnight) `epochSeconds` falls on in `zone`: the day a date-and-time
 * column shows for the instant. A date mapped to such a column is read so: the engine's noon, and any time a user
 * picks on that day, are that day (the nearest midnight took noon, and every afternoon, for the next day).
 */
export function siteDayOf(epochSeconds: number, zone: string, fail: Fail): number {
  const local = epochSeconds + offsetSecondsAt(zone, epochSeconds);
  if (!Number.isFinite(local)) fail(`not an instant time zone ${zone} can place`);
  return Math.floor(local / SECONDS_PER_DAY) * SECONDS_PER_DAY;
}

/**
 * The calendar day (epoch seconds of its UTC midnight) whose midnight in `zone` is nearest to `epochSeconds`, ties
 * to the later day: SharePoint's local midnight of a site in `zone` reads back as exactly that day.
 */
export function nearestSiteDay(epochSeconds: number, zone: string, fail: Fail): number {
  const local = epochSeconds + offsetSecondsAt(zone, epochSeconds);
  if (!Number.isFinite(local)) fail(`not an instant time zone ${zone} can place`);
  return Math.floor((local + HALF_DAY) / SECONDS_PER_DAY) * SECONDS_PER_DAY;
}
