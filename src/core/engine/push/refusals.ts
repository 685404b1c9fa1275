/**
 * Values SharePoint refuses (I12): those the list's column definitions already say it refuses, found before
 * anything is sent by any writer of items (push, its conflict settle, the pull's write-back, backfill, resolve), and the
 * words a refusal SharePoint sends back is parked with.
 */
import { graphFieldKey } from '../../canonical';
import type { WriteOutcome } from '../../target/sharepoint';
import type { FieldPlan, PlannedField } from '../plan';
import { type RunScope } from '../runner';
import { describeFailure } from './page';

/** A mapped field push writes whose column limits its values: its Graph key, Postgres column and what it holds. */
interface Limited {
  key: string;
  field: string;
  column: string;
  /** The value is the field's push pipeline's output, not the column's own. */
  piped: boolean;
}

/** A single line of text: at most `max` characters. */
interface TextLimit extends Limited {
  max: number;
}

interface Limits {
  texts: TextLimit[];
}

/** Per plan, the limits of the columns push writes: read from the columns once, not per row. */
const limitsByPlan = new WeakMap<FieldPlan, Limits>();

function limitsOf(plan: FieldPlan): Limits {
  let limits = limitsByPlan.get(plan);
  if (!limits) {
    const limited = (f: PlannedField): Limited => ({
      key: graphFieldKey(f.target, f.kind),
      field: f.target,
      column: f.source,
      piped: f.transforms !== null,
    });
    const pushed = plan.fields.filter((f) => f.pushable);
    limits = {
      texts: pushed
        .filter((f) => f.sp.type === 'text' && f.sp.maxLength !== undefined)
        .map((f) => ({ ...limited(f), max: f.sp.maxLength as number })),
    };
    limitsByPlan.set(plan, limits);
  }
  return limits;
}

/** A text longer than its single line of text column holds (`tooLongText`). */
export interface TooLongText {
  /** The SharePoint field, its Graph key and the Postgres column it maps. */
  field: string;
  key: string;
  column: string;
  piped: boolean;
  max: number;
  length: number;
}

/**
 * The first text in `fields` (a Graph body for the list `plan` was made against: a routed list's own columns,
 * routing.ts planLists) longer than its column holds, or null. Known from the list's columns:
 * - a single line of text holds at most its column's `maxLength` characters (at most 255: textColumn,
 *   https://learn.microsoft.com/en-us/graph/api/resources/textcolumn; FieldText.MaxLength "must be equal to or less
 *   than 255"), counted as .NET and JavaScript both count a string's length;
 * A choice outside a column's choices is left to SharePoint: `allowTextEntry` is documented as what the form offers
 * ("If true, allows custom values that aren't in the configured choices":
 * https://learn.microsoft.com/en-us/graph/api/resources/choicecolumn), but no page says a Graph write of another
 * value is refused, and parking a row SharePoint would take would hold its edits back.
 * Only strings of such columns are looked at: nothing is allocated for a body that fits.
 */
export function tooLongText(plan: FieldPlan, fields: Record<string, unknown>): TooLongText | null {
  const { texts } = limitsOf(plan);
  for (let i = 0; i < texts.length; i++) {
    const limit = texts[i];
    const value = fields[limit.key];
    if (typeof value === 'string' && value.length > limit.max) return { ...limit, length: value.length };
  }
  return null;
}

/**
 * Why SharePoint will refuse a write of `fields` (the Graph body about to be sent for the row of `identity`: by the
 * push, its conflict settle, the pull's write-back or a backfill) into the list `plan` was made against, or null when
 * nothing in it is known to be refused (tooLongText). Sending it would spend a write for a certain 400, on every
 * retry of the parked row. `after`: what happens to the row next.
 */
export function knownRefusal(
  plan: FieldPlan,
  identity: Record<string, unknown>,
  fields: Record<string, unknown>,
  after: string = RETRIED,
): string | null {
  const long = tooLongText(plan, fields);
  if (long === null) return null;
  const row = `row ${JSON.stringify(identity)}`;
  return `${row}: ${tooLongMessage(long, {
    value: valueOf(long),
    fix: `shorten ${long.column} of ${row} in Postgres ${long.piped ? 'until the pushed value has' : 'to'} at most ${long.max} characters`,
    after,
  })}`;
}

/**
 * The words of a too-long text's refusal: `value` names where the text came from (a Postgres column, a value given
 * to resolve), `fix` the first next step, `after` what happens next.
 */
export function tooLongMessage(
  long: TooLongText,
  words: { value: string; fix: string; after: string },
): string {
  const widen =
    long.max < 255
      ? `raise the column's maximum length in SharePoint (a single line of text holds up to 255), or make ${long.field} a multi-line text column (Multiple lines of text)`
      : `make ${long.field} a multi-line text column in SharePoint (Multiple lines of text; a single line holds at most 255)`;
  return (
    `not sent: SharePoint field ${long.field} (single line of text) holds at most ${long.max} characters, ` +
    `and ${words.value} has ${long.length} characters. Next step: ${words.fix}, or ${widen}; ${words.after}`
  );
}

/** Where a pushed text comes from, in a refusal's words. */
export function valueOf(limit: Pick<Limited, 'column' | 'piped'>): string {
  return `the value ${limit.piped ? 'the push pipeline makes of' : 'of'} Postgres column ${limit.column}`;
}

const RETRIED = 'the row is retried by the next pushes';

/**
 * What a parked push write says. A refusal SharePoint sent back (a 400) naming a mapped field also names the
 * Postgres column that field maps and the next step, as a parked pull item's message does (pull/parked.ts);
 * anything else is its outcome's own words. `identity`: null where the caller names the row itself; `after`: what
 * happens to the row next.
 */
export function pushFailureMessage(
  scope: Pick<RunScope, 'plan'>,
  identity: Record<string, unknown> | null,
  o: WriteOutcome,
  after: string = RETRIED,
): string {
  const described = describeFailure(o);
  if (o.status !== 'rejected' || o.httpStatus !== 400) return described;
  const mapped = refusedField(scope.plan, o.message);
  if (!mapped) return described;
  const row = identity ? `row ${JSON.stringify(identity)}` : 'the row';
  return (
    `${identity ? `${row}: ` : ''}${described}. SharePoint field ${mapped.target} maps Postgres column ` +
    `${mapped.source}. Next step: change ${mapped.source} of ${row} in Postgres to a value SharePoint column ` +
    `${mapped.target} accepts, or change the column's settings in SharePoint to accept it; ${after}`
  );
}

/**
 * The mapped field a refusal's message names: quoted (Graph writes `Field 'Title' …`), by its Graph key or its
 * name; a message naming none names no field of ours.
 */
function refusedField(plan: FieldPlan, message: string): { target: string; source: string } | undefined {
  for (const f of plan.fields) {
    const names = [f.target, graphFieldKey(f.target, f.kind)];
    if (names.some((n) => [`'${n}'`, `"${n}"`, `\`${n}\``].some((q) => message.includes(q)))) return f;
  }
  return undefined;
}
