/** Reading Graph listItems and delta entries into the adapter's shapes. */
import {
  deltaTombstoneSchema,
  graphErrorBodySchema,
  parseListItem,
  type GraphListItem,
} from './graphSchemas';
import type { DeltaEntry, ListItem } from './types';

/** A Graph listItem; eTag and time fall back to their copies inside `fields` when Graph left them out. */
export function toListItem(item: GraphListItem): ListItem {
  const fields = item.fields ?? {};
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

/**
 * One delta `value` entry: an upsert, a tombstone (`deleted` facet or `@removed`), or an error. An
 * `{error}` entry Graph put in the feed, or anything unreadable, is returned as an error (I12).
 */
export function toDeltaEntry(raw: unknown): DeltaEntry | { error: { code: string; message: string } } {
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
  if (item.success) return { kind: 'upsert', item: toListItem(item.data) };
  const id = typeof raw === 'object' && raw !== null && 'id' in raw ? ` (id ${String(raw.id)})` : '';
  return {
    error: {
      code: 'unreadableDeltaEntry',
      message: `delta entry${id} is not a listItem: ${item.error.message}`,
    },
  };
}
