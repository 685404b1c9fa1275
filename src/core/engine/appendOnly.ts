import type { SpColumnInfo } from '../canonical';
import type { SyncDefinition } from '../definition/schema';

/**
 * A multi-line column with "Append changes to existing text" on keeps its text in the item's version history:
 * Graph documents the setting ("Whether updates to this column should replace existing text, or append to it",
 * https://learn.microsoft.com/en-us/graph/api/resources/textcolumn) and users report the field reads empty
 * (https://github.com/pnp/pnpjs/issues/859: "Append text is based on versioning"; conformance check
 * `columns.appendOnlyReadsEmpty`). A pull would take that empty value for an edit and write NULL over Postgres's
 * value, and a field pushed as a conflict's winner would be written (appended) again after every read of it.
 *
 * Only a field declared PUSH_ONLY is taken: push writes each change once (SharePoint appends it as an entry) and
 * the pull never reads the field. The engine does not make it push-only by itself, as it does a key or computed
 * field: those treat a SharePoint value that differs as an edit and write Postgres's back, which here would be
 * every read. The problem names the field, the column and both ways out, or undefined when the field is fine.
 */
export function appendOnlyProblem(
  field: SyncDefinition['fields'][number],
  index: number,
  sp: SpColumnInfo,
  listName: string,
): string | undefined {
  if (sp.appendOnly !== true || field.direction === 'PUSH_ONLY') return undefined;
  return (
    `fields[${index}]: "${field.source}" maps column "${field.target}" of list "${listName}", which has ` +
    '"Append changes to existing text" on: SharePoint keeps its text in version history and Graph reads the ' +
    `field empty, so a ${field.direction} field would write NULL over Postgres's value on every pull. Next step: ` +
    "turn the setting off in the column's settings, or map the field PUSH_ONLY (each change pushed is appended " +
    'as a new entry; edits made in SharePoint are not pulled)'
  );
}
