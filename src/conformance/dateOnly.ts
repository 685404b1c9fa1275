/**
 * `roundTrip.dateOnly`: whether the site keeps the calendar day of a date-only value the engine writes, and reads
 * back a day a user picks as that day. SharePoint stores a date-only value as midnight of the site's regional time
 * zone (https://learn.microsoft.com/en-us/graph/api/resources/datetimecolumn; shared/reference/graph.md "Field
 * values"), so the day depends on that zone, which Graph v1.0 does not report (docs/design.md, "Date-only values
 * and the site's time zone"). A bare `YYYY-MM-DD` write is stored as that day's midnight in the site's zone, as the
 * SharePoint form stores a picked day: it shows the site's offset on that day. The check writes, for a January and
 * a July day (daylight saving either side of the equator), the bare day and the engine's own form (toGraphFields,
 * in the zone the engine is told: `--site-time-zone`, a definition's `target.siteTimeZone`, default UTC), and fails
 * when the two are stored on different days or the engine reads either back as another day.
 */
import {
  DEFAULT_SITE_TIME_ZONE,
  fromGraphValue,
  offsetSecondsAt,
  toGraphFields,
  type MappedColumn,
} from '../core/canonical';
import type { Check, ProbeContext } from './context';
import { fail, pass, skip, type CheckOutcome } from './types';

const DAYS = ['2024-01-15', '2024-07-15'];
const ITEM_JSON = { 'Content-Type': 'application/json' };

export const DATE_ONLY_SOURCE = 'https://learn.microsoft.com/en-us/graph/api/resources/datetimecolumn';

/** `+13:00` for 46,800 seconds east of UTC. */
function offsetText(seconds: number): string {
  const sign = seconds < 0 ? '-' : '+';
  const minutes = Math.round(Math.abs(seconds) / 60);
  return `UTC${sign}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

/** Writes `fields` to the probe's item and reads the column back. */
async function writeAndRead(
  ctx: ProbeContext,
  id: string,
  name: string,
  value: unknown,
): Promise<{ status: number; read?: unknown }> {
  const path = `${ctx.listPath()}/items/${id}`;
  const write = await ctx.send('PATCH', `${path}/fields`, { [name]: value }, ITEM_JSON);
  if (write.status !== 200) return { status: write.status };
  const res = await ctx.send('GET', `${path}?$expand=fields($select=${name})`);
  if (res.status !== 200) return { status: res.status };
  const fields = (res.body as { fields?: Record<string, unknown> } | undefined)?.fields ?? {};
  return { status: 200, read: fields[name] };
}

function dayRead(value: unknown, zone: string): string {
  try {
    return String(fromGraphValue('dateOnly', value, zone));
  } catch (error) {
    return `unreadable (${error instanceof Error ? error.message : String(error)})`;
  }
}

export const dateOnlyRoundTrip: Check = {
  name: 'roundTrip.dateOnly',
  source: DATE_ONLY_SOURCE,
  async run(ctx): Promise<CheckOutcome> {
    const id = ctx.items.get('main');
    if (!id || !ctx.columns.has('dateOnly')) return skip('the item or the column could not be created');
    const name = ctx.column('dateOnly');
    const zone = ctx.options.siteTimeZone ?? DEFAULT_SITE_TIME_ZONE;
    const column = new Map<string, MappedColumn>([[name, { kind: 'dateOnly', siteTimeZone: zone }]]);
    const problems: string[] = [];
    const seen: string[] = [];
    let offsetsDiffer = false;
    for (const day of DAYS) {
      const picked = await writeAndRead(ctx, id, name, day);
      if (picked.status !== 200 || typeof picked.read !== 'string')
        return fail(
          `writing ${day} to ${name}: answered ${picked.status}, read ${JSON.stringify(picked.read)}`,
        );
      const siteOffset = Date.parse(`${day}T00:00:00Z`) / 1000 - Date.parse(picked.read) / 1000;
      seen.push(`${day} at ${offsetText(siteOffset)}`);
      if (offsetSecondsAt(zone, Date.parse(picked.read) / 1000) !== siteOffset) offsetsDiffer = true;
      const engineForm = toGraphFields({ [name]: day }, column)[name];
      const written = await writeAndRead(ctx, id, name, engineForm);
      if (written.status !== 200 || typeof written.read !== 'string')
        return fail(
          `writing ${JSON.stringify(engineForm)} to ${name}: answered ${written.status}, read ${JSON.stringify(written.read)}`,
        );
      if (Date.parse(written.read) !== Date.parse(picked.read))
        problems.push(
          `the engine's ${JSON.stringify(engineForm)} for ${day} is stored as ${written.read}, not as the site's ` +
            `midnight of ${day} (${picked.read}): SharePoint shows it as another day`,
        );
      const readBack = dayRead(picked.read, zone);
      if (readBack !== day)
        problems.push(`a user's ${day}, stored as ${picked.read}, reads back as ${readBack}`);
    }
    const clear = await ctx.send(
      'PATCH',
      `${ctx.listPath()}/items/${id}/fields`,
      { [name]: null },
      ITEM_JSON,
    );
    if (clear.status !== 200) problems.push(`PATCH ${name} = null answered ${clear.status}`);
    const told = `the engine set to site time zone ${zone}`;
    if (problems.length > 0)
      return fail(
        `${problems.join('; ')}. The site keeps date-only values at ${seen.join(', ')}, which ${told} does not ` +
          'match: set target.siteTimeZone of the definitions on this site to its regional time zone (Site ' +
          'settings → Regional settings; e.g. "Pacific/Auckland") and run conformance again with --site-time-zone',
      );
    return pass(
      `${told} keeps the day of ${DAYS.join(' and ')} both ways (the site stores them at ${seen.join(', ')})` +
        (offsetsDiffer
          ? `; ${zone} is at other offsets on these days: the day holds while the two stay less than 12 hours ` +
            "apart, and target.siteTimeZone set to the site's own zone keeps it whatever the offsets"
          : ''),
    );
  },
};
