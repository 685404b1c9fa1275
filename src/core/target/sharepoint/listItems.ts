/** Reading Graph listItems and delta entries into the adapter's shapes. */
import {
  deltaTombstoneSchema,
  graphErrorBodySchema,
  parseListItem,
  type GraphListItem,
} from './graphSchemas';
import { FieldsMissingError } from './errors';
import type { DeltaEntry, ListItem } from './types';

/** A Graph listItem that carries its `fields` object (readListItems checks that it does). */
export type GraphListItemWithFields = GraphListItem & { fields: Record<string, unknown> };

/** A Graph listItem; eTag and time fall back to their copies inside `fields` when Graph left them out. */
export function toListItem(item: GraphListItemWithFields): ListItem {
  const fields = item.fields;
  const fieldETag = fields['@odata.etag'];
  const modified = fields['Modified'];
  return {
    id: item.id,
    eTag: item.eTag ?? (typeof fieldETag === 'string' ? fieldETag : ''),
    lastModifiedDateTime: item.lastModifiedDateTime ?? (typeof modified === 'string' ? modified : ''),
    fields,
    ...(item.lastModifiedBy !== undefined ? { lastModifiedBy: item.lastModifiedBy } : {}),
  };
}

export const hasFields = (item: GraphListItem): item is GraphListItemWithFields => item.fields !== undefined;

/**
 * Items a request with `$expand=fields(...)` answered. Every one must carry its `fields` object: one without it is
 * unreadable, never empty (FieldsMissingError), so the whole answer is refused rather than read as empty values.
 */
export function readListItems(items: GraphListItem[], method: string, url: string): ListItem[] {
  const fieldless = items.filter((item) => !hasFields(item)).map((item) => item.id);
  if (fieldless.length > 0) throw new FieldsMissingError(method, url, fieldless);
  return (items as GraphListItemWithFields[]).map(toListItem);
}

/**
 * One delta `value` entry: an upsert, a tombstone (`deleted` facet or `@removed`), or an error. An
 * `{error}` entry Graph put in the feed, or anything unreadable, is returned as an error (I12). An item without its
 * `fields` object is returned as `fieldsMissing`: the caller reads it again by id (and refuses the page with
 * FieldsMissingError if that answer has no fields either), because skipping the entry would lose its change and
 * reading it as empty would null every mapped column.
 */
export function toDeltaEntry(
  raw: unknown,
): DeltaEntry | { error: { code: string; message: string } } | { fieldsMissing: string } {
  // Both schemas require their key: without it they fail, so an ordinary item skips their failed parses.
  const has = (key: string) => typeof raw === 'object' && raw !== null && key in raw;
  if (has('error')) {
    const error = graphErrorBodySchema.safeParse(raw);
    if (error.success) return { error: error.data.error };
  }
  if (has('deleted') || has('@removed')) {
    const tombstone = deltaTombstoneSchema.safeParse(raw);
    if (tombstone.success) return { kind: 'deleted', id: tombstone.data.id };
  }
  const item = parseListItem(raw);
  if (item.success)
    return hasFields(item.data)
      ? { kind: 'upsert', item: toListItem(item.data) }
      : { fieldsMissing: item.data.id };
  const id = typeof raw === 'object' && raw !== null && 'id' in raw ? ` (id ${String(raw.id)})` : '';
  return {
    error: {
      code: 'unreadableDeltaEntry',
      message: `delta entry${id} is not a listItem: ${item.error.message}`,
    },
  };
}
