/**
 * Field values: validating a client's write the way Graph does and storing it the way SharePoint
 * does (fromGraphFields), and rendering stored values as Graph reads them (toGraphFields).
 */
import { APP_USER_DISPLAY_NAME, type IdentityRegistry } from './auth';
import {
  isLookupLike,
  isMultiChoice,
  isMultiValued,
  isWritable,
  type ColumnDefinition,
  type ColumnType,
} from './columns';
import { badRequest } from './errors';
import { coerceFormulaResult, compileFormula, type CompiledFormula, type FormulaValue } from './formula';
import type { EmulatorState, ListState, SiteState, StoredItem, StoredValue } from './state';
import { localDateAt, midnightInZone, parseDateInput, toGraphDateTime, truncateToSecond } from './time';

export interface ValueScope {
  state: EmulatorState;
  identities: IdentityRegistry;
  site: SiteState;
  list: ListState;
}

const STRING_COLLECTION = 'Collection(Edm.String)';
const INT_COLLECTION = 'Collection(Edm.Int32)';
/** What OData answers when an array arrives without its collection annotation. */
const UNTYPED_COLLECTION_MESSAGE =
  'A value without a type name was found and no expected type is available. When the model is specified, each value in the payload must have a type which can be either specified in the payload, explicitly by the caller or implicitly inferred from the parent value.';
const MIN_DATE_MS = Date.UTC(1900, 0, 1);
const MAX_DATE_MS = Date.UTC(8900, 11, 31, 23, 59, 59);

const notRecognized = (key: string) => badRequest(`Field '${key}' is not recognized`);
const readOnly = (key: string) => badRequest(`Field '${key}' is read-only`);
const wrongType = (key: string, expected: string, value: unknown) =>
  badRequest(
    `Cannot convert the value of field '${key}' (${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}) to ${expected}`,
  );

function describeType(type: ColumnType): string {
  return type.kind === 'choice' && type.displayAs === 'checkBoxes' ? 'multi-choice' : type.kind;
}

function storeDate(
  key: string,
  column: Extract<ColumnType, { kind: 'dateTime' }>,
  value: unknown,
  site: SiteState,
) {
  if (typeof value !== 'string') throw wrongType(key, 'Edm.DateTimeOffset', value);
  const parsed = parseDateInput(value);
  if (!parsed)
    throw badRequest(
      `Field '${key}' expects an ISO-8601 date-time with a zone designator (e.g. 2024-03-10T08:26:00Z) or a date (2024-03-10), got '${value}'`,
    );
  let ms: number;
  if (parsed.kind === 'date') ms = midnightInZone(site.timeZone, parsed.date);
  else if (column.format === 'dateOnly')
    ms = midnightInZone(site.timeZone, localDateAt(site.timeZone, parsed.ms));
  else ms = truncateToSecond(parsed.ms);
  if (ms < MIN_DATE_MS || ms > MAX_DATE_MS)
    throw badRequest(`Field '${key}': dates must lie between 1900-01-01 and 8900-12-31, got '${value}'`);
  return toGraphDateTime(ms);
}

function storeLookupIds(
  key: string,
  column: ColumnDefinition,
  value: unknown,
  annotation: string | undefined,
  scope: ValueScope,
): number | number[] | null {
  const type = column.type;
  const multi = isMultiValued(type);
  const checkId = (id: number): number => {
    if (type.kind === 'personOrGroup' && !scope.identities.byLookup(id))
      throw badRequest(`Field '${key}': no user with lookup id ${id} in the site's user list`);
    return id;
  };
  if (!multi) {
    if (Array.isArray(value)) throw wrongType(key, 'Edm.Int32', value);
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
      throw wrongType(key, 'Edm.Int32 (a positive item id)', value);
    return checkId(value);
  }
  if (!Array.isArray(value)) throw wrongType(key, INT_COLLECTION, value);
  if (annotation === undefined) throw badRequest(UNTYPED_COLLECTION_MESSAGE);
  if (annotation !== INT_COLLECTION && annotation !== STRING_COLLECTION)
    throw badRequest(`Field '${key}@odata.type' must be ${INT_COLLECTION}, got '${annotation}'`);
  const ids = value.map((entry) => {
    const id = annotation === STRING_COLLECTION && typeof entry === 'string' ? Number(entry) : entry;
    if (typeof id !== 'number' || !Number.isInteger(id) || id <= 0)
      throw wrongType(key, `${annotation} of positive ids`, entry);
    return checkId(id);
  });
  return ids.length ? ids : null;
}

/** Converts one written value to its stored form; null clears the field. */
function storeValue(
  key: string,
  column: ColumnDefinition,
  value: unknown,
  annotation: string | undefined,
  scope: ValueScope,
): StoredValue | null {
  const type = column.type;
  if (value === null) return null;
  if (Array.isArray(value) && !isMultiValued(type))
    throw wrongType(key, `a single ${describeType(type)} value`, value);
  switch (type.kind) {
    case 'text': {
      if (typeof value !== 'string') throw wrongType(key, 'Edm.String', value);
      if (value === '') return null;
      if (!type.allowMultipleLines && value.length > type.maxLength)
        throw badRequest(
          `Field '${key}': the value is ${value.length} characters, the column allows ${type.maxLength}`,
        );
      return value;
    }
    case 'number':
    case 'currency': {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw wrongType(key, 'Edm.Double', value);
      if (type.kind === 'currency') return value;
      if (type.minimum !== null && value < type.minimum)
        throw badRequest(`Field '${key}': ${value} is below the column's minimum ${type.minimum}`);
      if (type.maximum !== null && value > type.maximum)
        throw badRequest(`Field '${key}': ${value} is above the column's maximum ${type.maximum}`);
      // decimalPlaces (like displayAs) is how the value is shown, not stored: "decimalPlaces and displayAs apply to
      // how numbers are rendered, not stored" (https://learn.microsoft.com/en-us/graph/api/resources/numbercolumn).
      return value;
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw wrongType(key, 'Edm.Boolean', value);
      return value;
    case 'dateTime':
      return storeDate(key, type, value, scope.site);
    case 'choice': {
      const allowed = (choice: unknown): string => {
        if (typeof choice !== 'string') throw wrongType(key, 'Edm.String', choice);
        if (!type.allowTextEntry && !type.choices.includes(choice))
          throw badRequest(
            `Field '${key}': '${choice}' is not one of the column's choices (${type.choices.join(', ')})`,
          );
        return choice;
      };
      if (!isMultiChoice(type)) {
        if (value === '') return null;
        return allowed(value);
      }
      if (!Array.isArray(value)) throw wrongType(key, STRING_COLLECTION, value);
      if (annotation === undefined) throw badRequest(UNTYPED_COLLECTION_MESSAGE);
      if (annotation !== STRING_COLLECTION)
        throw badRequest(`Field '${key}@odata.type' must be ${STRING_COLLECTION}, got '${annotation}'`);
      const choices = value.map(allowed);
      return choices.length ? choices : null;
    }
    case 'lookup':
    case 'personOrGroup':
      return storeLookupIds(key, column, value, annotation, scope);
    default:
      throw readOnly(key);
  }
}

const compiledFormulas = new Map<string, CompiledFormula>();

function compiled(formula: string): CompiledFormula {
  let entry = compiledFormulas.get(formula);
  if (!entry) {
    entry = compileFormula(formula);
    compiledFormulas.set(formula, entry);
  }
  return entry;
}

function toFormulaValue(value: StoredValue | undefined, column: ColumnDefinition | undefined): FormulaValue {
  if (value === undefined) return null;
  if (Array.isArray(value)) return value.join('; ');
  if (column?.type.kind === 'dateTime' && typeof value === 'string') return { dateMs: Date.parse(value) };
  return value;
}

/** Recomputes calculated columns from the other values, in column order (later ones see earlier ones). */
function computeCalculated(list: ListState, values: Record<string, StoredValue>): void {
  for (const column of list.columns) {
    if (column.type.kind !== 'calculated') continue;
    const formula = compiled(column.type.formula);
    const result = coerceFormulaResult(
      formula.evaluate((ref) => {
        const target = list.columnsByName.get(ref) ?? list.columns.find((c) => c.displayName === ref);
        return toFormulaValue(target ? values[target.name] : undefined, target);
      }),
      column.type.outputType,
    );
    if (result === null || result === '') delete values[column.name];
    else if (typeof result === 'object') values[column.name] = toGraphDateTime(result.dateMs);
    else values[column.name] = result;
  }
}

/** The column a written key addresses: a column name, or `XLookupId` for lookup and person columns. */
function columnForKey(
  list: ListState,
  key: string,
): { column: ColumnDefinition; viaLookupId: boolean } | undefined {
  if (key === 'id') return { column: list.columnsByName.get('ID')!, viaLookupId: false };
  const direct = list.columnsByName.get(key);
  if (direct) return { column: direct, viaLookupId: false };
  if (key.endsWith('LookupId')) {
    const base = list.columnsByName.get(key.slice(0, -'LookupId'.length));
    if (base && (isLookupLike(base.type) || base.type.kind === 'system'))
      return { column: base, viaLookupId: true };
  }
  return undefined;
}

/**
 * Applies a client's field map to `current` (undefined for a new item) and returns the new values.
 * Throws a 400 GraphError naming the first offending field; nothing is changed in that case.
 */
export function fromGraphFields(
  scope: ValueScope,
  current: Record<string, StoredValue> | undefined,
  body: Record<string, unknown>,
): Record<string, StoredValue> {
  const annotations = new Map<string, string>();
  const writes: [string, unknown][] = [];
  for (const [key, value] of Object.entries(body)) {
    if (key === '@odata.etag') throw readOnly(key);
    if (key === '@odata.type') continue; // '#microsoft.graph.fieldValueSet' on the map itself
    const at = key.indexOf('@');
    if (at > 0) {
      const annotation = key.slice(at + 1);
      if (annotation !== 'odata.type') throw badRequest(`Annotation '${key}' is not supported on a field`);
      if (typeof value !== 'string') throw badRequest(`Annotation '${key}' must be a string`);
      annotations.set(key.slice(0, at), value);
    } else {
      writes.push([key, value]);
    }
  }
  for (const base of annotations.keys())
    if (!writes.some(([key]) => key === base))
      throw badRequest(`Annotation '${base}@odata.type' has no field '${base}'`);

  const next: Record<string, StoredValue> = { ...current };
  for (const [key, value] of writes) {
    const target = columnForKey(scope.list, key);
    if (!target) throw notRecognized(key);
    const { column, viaLookupId } = target;
    if (!isWritable(column)) throw readOnly(key);
    if (isLookupLike(column.type) && !viaLookupId)
      throw badRequest(`Field '${key}' is a ${column.type.kind} column: write '${key}LookupId' with the id`);
    const stored = storeValue(key, column, value, annotations.get(key), scope);
    if (stored === null) delete next[column.name];
    else next[column.name] = stored;
  }
  computeCalculated(scope.list, next);
  return next;
}

/**
 * The listItem `eTag`: `"{GUID},n"` with braces and an upper-case GUID, as Graph's documented examples
 * show it (https://learn.microsoft.com/en-us/graph/api/listitem-delta, example responses). The fields
 * `@odata.etag` is spelled differently (fieldsETag). Clients must treat both as opaque.
 */
export function itemETag(item: StoredItem): string {
  return `"{${item.uniqueId.toUpperCase()}},${item.version}"`;
}

/** The `@odata.etag` inside `fields`: SharePoint's own spelling, a lower-case GUID without braces. */
export function fieldsETag(item: StoredItem): string {
  return `"${item.uniqueId.toLowerCase()},${item.version}"`;
}

/** Either spelling of an item's eTag, reduced to what identifies the version (for If-Match). */
export function eTagIdentity(value: string): string {
  return value
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1')
    .replace(/^\{([^}]*)\}/, '$1')
    .toLowerCase();
}

function lookupValue(scope: ValueScope, column: ColumnDefinition, id: number): string {
  const type = column.type;
  if (type.kind === 'personOrGroup' || type.kind === 'system') {
    const identity = scope.identities.byLookup(id);
    if (!identity) return '';
    return identity.kind === 'application' ? APP_USER_DISPLAY_NAME : identity.displayName;
  }
  if (type.kind !== 'lookup') return '';
  const target = scope.state.findListById(type.listId);
  const item = target?.list.item(id);
  if (!item) return '';
  if (type.columnName === 'ID') return String(id);
  const value = item.value(type.columnName);
  return value === undefined ? '' : Array.isArray(value) ? value.join(', ') : String(value);
}

function identityLookupId(scope: ValueScope, name: string): number {
  return scope.identities.byNameOrUndefined(name)?.lookupId ?? scope.identities.app.lookupId;
}

/**
 * A multi-line column with "Append changes to existing text" (`text.appendChangesToExistingText`) keeps its
 * text in the item's version history: reading the item's fields gives no value for it (reported,
 * https://github.com/pnp/pnpjs/issues/859: "Append text is based on versioning", the entries are read from
 * the item's versions), while a write is kept as a new entry.
 */
export function readsEmpty(column: ColumnDefinition): boolean {
  return column.type.kind === 'text' && column.type.appendChangesToExistingText;
}

/**
 * The field map of an item as Graph reads it (empty values have no key). Without `includeHidden` only
 * user-visible columns: a bare `$expand=fields` returns "each user-visible field"
 * (https://learn.microsoft.com/en-us/graph/api/resources/fieldvalueset); hidden ones come only when
 * selected by name (as in SharePoint REST, https://github.com/pnp/pnpjs/issues/1083). An append-only
 * column reads empty (readsEmpty) unless `asStored` (the control API's view of what was written).
 */
export function toGraphFields(
  scope: ValueScope,
  item: StoredItem,
  includeHidden = false,
  asStored = false,
): Record<string, unknown> {
  const out: Record<string, unknown> = { '@odata.etag': fieldsETag(item) };
  const values = item.values;
  for (const column of scope.list.columns) {
    if (column.type.kind === 'system') continue;
    if (column.hidden && !includeHidden) continue;
    if (!asStored && readsEmpty(column)) continue;
    const value = values[column.name];
    if (value === undefined) continue;
    if (isLookupLike(column.type)) {
      if (Array.isArray(value)) {
        out[column.name] = (value as number[]).map((id) => {
          const entry: Record<string, unknown> = {
            LookupId: id,
            LookupValue: lookupValue(scope, column, id),
          };
          if (column.type.kind === 'personOrGroup') entry.Email = scope.identities.byLookup(id)?.email ?? '';
          return entry;
        });
      } else {
        out[`${column.name}LookupId`] = String(value);
      }
    } else {
      out[column.name] = Array.isArray(value) ? [...value] : value;
    }
  }
  const title = values.Title;
  const authorIdentity = scope.identities.byNameOrUndefined(item.author);
  const editorIdentity = scope.identities.byNameOrUndefined(item.editor);
  Object.assign(out, {
    id: String(item.id),
    ContentType: 'Item',
    Modified: toGraphDateTime(item.modifiedMs),
    Created: toGraphDateTime(item.createdMs),
    AuthorLookupId: String(identityLookupId(scope, item.author)),
    EditorLookupId: String(identityLookupId(scope, item.editor)),
    _UIVersionString: `${item.version}.0`,
    Attachments: false,
    Edit: '',
    ...(title !== undefined ? { LinkTitleNoMenu: title, LinkTitle: title } : {}),
    ItemChildCount: '0',
    FolderChildCount: '0',
    _ComplianceFlags: '',
    _ComplianceTag: '',
    _ComplianceTagWrittenTime: '',
    _ComplianceTagUserId: '',
    ...(authorIdentity?.kind === 'application' ? { AppAuthorLookupId: String(authorIdentity.lookupId) } : {}),
    ...(editorIdentity?.kind === 'application' ? { AppEditorLookupId: String(editorIdentity.lookupId) } : {}),
  });
  return out;
}

/**
 * "Up to 12 lookup fields may be requested in a single query"
 * (https://learn.microsoft.com/en-us/graph/api/resources/fieldvalueset); lookup, person and the system
 * Author and Editor columns count. Applies to queries over several items, not to a single-item read
 * (https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/2711).
 */
export const MAX_LOOKUPS_PER_QUERY = 12;

function isLookupForThreshold(column: ColumnDefinition): boolean {
  return (
    isLookupLike(column.type) ||
    (column.type.kind === 'system' && (column.type.role === 'author' || column.type.role === 'editor'))
  );
}

/** Throws for a collection query whose field selection joins more than 12 lookup columns. */
export function assertLookupThreshold(list: ListState, select: string[] | undefined): void {
  const counted = new Set<string>();
  if (select === undefined) {
    for (const column of list.columns)
      if (isLookupForThreshold(column) && !column.hidden) counted.add(column.name);
  } else {
    for (const name of select) {
      const column =
        list.columnsByName.get(name) ??
        (name.endsWith('LookupId') ? list.columnsByName.get(name.slice(0, -'LookupId'.length)) : undefined);
      if (column && isLookupForThreshold(column)) counted.add(column.name);
    }
  }
  if (counted.size > MAX_LOOKUPS_PER_QUERY)
    throw badRequest(
      `The query cannot be completed because the number of lookup columns it contains (${counted.size}) exceeds the lookup column threshold (${MAX_LOOKUPS_PER_QUERY}).`,
    );
}

/** Throws 400 for a `fields(select=…)` name that is not a column of the list (checked once per request). */
export function assertSelectableFields(list: ListState, names: string[]): void {
  for (const name of names) {
    if (name === 'id' || name === '@odata.etag' || list.columnsByName.has(name)) continue;
    if (name.endsWith('LookupId') && list.columnsByName.has(name.slice(0, -'LookupId'.length))) continue;
    throw badRequest(`Column '${name}' does not exist. It may have been deleted by another user.`);
  }
}

/** The field map restricted to `select` (`@odata.etag` always kept), as `fields(select=…)` reads. */
export function selectGraphFields(
  scope: ValueScope,
  item: StoredItem,
  full: Record<string, unknown>,
  select: string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = { '@odata.etag': full['@odata.etag'] };
  for (const name of select) {
    const key = name === 'ID' ? 'id' : name;
    if (key in full) {
      out[key] = full[key];
      continue;
    }
    // Selecting a single-valued lookup or person column by name reads its display value.
    const column = scope.list.columnsByName.get(name);
    if (!column) continue;
    let id: number | undefined;
    if (isLookupLike(column.type)) {
      const value = item.value(name);
      if (typeof value === 'number') id = value;
    } else if (
      column.type.kind === 'system' &&
      (column.type.role === 'author' || column.type.role === 'editor')
    ) {
      id = identityLookupId(scope, column.type.role === 'author' ? item.author : item.editor);
    }
    if (id !== undefined) out[name] = lookupValue(scope, column, id);
  }
  return out;
}

/** The stored value a `$filter` on `fields/<name>` compares against. */
export function filterOperand(scope: ValueScope, item: StoredItem, name: string): StoredValue | undefined {
  if (name === 'id' || name === 'ID') return item.id;
  if (name === 'Created') return toGraphDateTime(item.createdMs);
  if (name === 'Modified') return toGraphDateTime(item.modifiedMs);
  if (name === 'AuthorLookupId' || name === 'Author') return identityLookupId(scope, item.author);
  if (name === 'EditorLookupId' || name === 'Editor') return identityLookupId(scope, item.editor);
  const value = item.value(name);
  if (value !== undefined) return value;
  if (name.endsWith('LookupId')) return item.value(name.slice(0, -'LookupId'.length));
  return undefined;
}

/** The column `$filter` refers to by `fields/<name>`; undefined when there is none. */
export function filterColumn(list: ListState, name: string): ColumnDefinition | undefined {
  if (name === 'id') return list.columnsByName.get('ID');
  const direct = list.columnsByName.get(name);
  if (direct) return direct;
  if (name.endsWith('LookupId')) return list.columnsByName.get(name.slice(0, -'LookupId'.length));
  return undefined;
}
