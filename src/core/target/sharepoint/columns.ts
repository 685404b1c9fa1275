import { SHAREPOINT_SYSTEM_FIELDS, type SpColumnInfo, type SpColumnType } from '../../canonical';
import { UnknownColumnError } from './errors';
import type { GraphColumnDefinition } from './graphSchemas';

function columnTypeOf(column: GraphColumnDefinition): SpColumnType {
  // Graph has no note facet: a multi-line text column is SharePoint's Note field.
  if (column.text) return column.text.allowMultipleLines === true ? 'note' : 'text';
  if (column.number) return 'number';
  if (column.currency) return 'currency';
  if (column.dateTime) return 'dateTime';
  if (column.boolean) return 'boolean';
  // Graph has no separate multi-choice facet: a choice column shown as check boxes takes several values.
  if (column.choice) return column.choice.displayAs === 'checkBoxes' ? 'multiChoice' : 'choice';
  if (column.lookup) return 'lookup';
  if (column.personOrGroup) return 'person';
  if (column.calculated) return 'calculated';
  if (column.hyperlinkOrPicture) return 'hyperlink';
  return 'unknown';
}

/** A Graph columnDefinition as the canonical module describes a SharePoint column. */
export function toSpColumnInfo(column: GraphColumnDefinition): SpColumnInfo {
  const type = columnTypeOf(column);
  const readOnly = column.readOnly ?? false;
  const info: SpColumnInfo = {
    name: column.name,
    displayName: column.displayName,
    type,
    readOnly,
    hidden: column.hidden ?? false,
    indexed: column.indexed ?? false,
    isSystem: readOnly || SHAREPOINT_SYSTEM_FIELDS.has(column.name),
  };
  if (column.choice?.choices) info.choices = [...column.choice.choices];
  if (column.choice?.allowTextEntry !== undefined) info.allowTextEntry = column.choice.allowTextEntry;
  if (type === 'text') {
    const max = column.text?.maxLength;
    info.maxLength = typeof max === 'number' && Number.isInteger(max) && max > 0 ? max : 255;
  }
  if (type === 'note' && column.text?.appendChangesToExistingText === true) info.appendOnly = true;
  if (column.dateTime) info.dateOnly = column.dateTime.format === 'dateOnly';
  if (column.lookup) info.allowMultiple = column.lookup.allowMultipleValues ?? false;
  if (column.personOrGroup) info.allowMultiple = column.personOrGroup.allowMultipleSelection ?? false;
  return info;
}

/**
 * The internal name a user probably meant: the column displayed under that name (users copy the label
 * from the SharePoint UI, but `fields` are keyed by internal name), a case slip, or a lookup's
 * `…LookupId` key instead of the column's name.
 */
function suggestionFor(columns: readonly SpColumnInfo[], wanted: string): string | undefined {
  const lower = wanted.toLowerCase();
  const byDisplayName = columns.find((column) => column.displayName.toLowerCase() === lower);
  if (byDisplayName) return byDisplayName.name;
  const byCase = columns.find((column) => column.name.toLowerCase() === lower);
  if (byCase) return byCase.name;
  const lookupBase = wanted.replace(/LookupId$/, '');
  if (lookupBase !== wanted) {
    const lookup = columns.find(
      (column) => column.name === lookupBase && (column.type === 'lookup' || column.type === 'person'),
    );
    if (lookup) return lookup.name;
  }
  return undefined;
}

/**
 * Throws UnknownColumnError for the first of `targetNames` that is not an internal column name of the
 * list, naming the list, the missing name and, when one matches, the internal name to use instead.
 */
export function assertColumnsExist(
  listName: string,
  columns: readonly SpColumnInfo[],
  targetNames: readonly string[],
): void {
  const names = new Set(columns.map((column) => column.name));
  for (const wanted of targetNames) {
    if (!names.has(wanted)) throw new UnknownColumnError(listName, wanted, suggestionFor(columns, wanted));
  }
}
