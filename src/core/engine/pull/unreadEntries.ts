import type { TargetFingerprint } from '../../store/cursors';
import type { DeltaPage } from '../../target/sharepoint';
import type { RunScope } from '../runner';
import { writeTargetCursor, type UnreadEntries } from './cursor';

/**
 * A delta page can carry, in place of an item, an `{"error": {code, message}}` entry: Graph could not give that
 * entry (reported for listItem delta, https://github.com/microsoftgraph/msgraph-sdk-typescript/issues/544; see
 * src/emulator/deltaErrors.ts). The entry names no item, so the feed is not whole: some item's change (or, in a
 * full enumeration, the item itself) is missing, and nothing says which.
 *
 * Each such entry counts as a failure of the run (it is PARTIAL) and the page's other entries are applied. The feed
 * is read to its end, but not concluded: a change feed keeps its position before the first page with errors (the
 * next pull reads from there again; the changes applied meanwhile come back as echoes, I3), and an enumeration
 * deletes no row for an item it did not show and starts over at the next pull (I8). No continuation is asked for: the
 * same page read again at once would most likely carry the same entry, so the next pull is the one a notification or
 * the schedule starts (the idle probe lets it run: the last pull did not succeed).
 */
export function noteUnreadEntries(
  scope: RunScope,
  page: DeltaPage,
  unread: UnreadEntries | undefined,
  pageLink: string | undefined,
  enumeration: string | null,
): UnreadEntries | undefined {
  if (page.errors.length === 0) return unread;
  for (const e of page.errors)
    scope.ctx.log.warn(
      `${scope.def.name}: the delta feed carried an error entry in place of an item: ${e.code}: ${e.message}`,
    );
  scope.counts.processed += page.errors.length;
  scope.counts.failed += page.errors.length;
  const codes = new Set([
    ...((scope.details.unreadCodes as string[] | undefined) ?? []),
    ...page.errors.map((e) => e.code),
  ]);
  scope.details.unreadCodes = [...codes];
  return {
    entries: (unread?.entries ?? 0) + page.errors.length,
    // A change feed is read again from its first page with errors; an enumeration (a first page has no link) starts over.
    from: unread ? unread.from : enumeration === null ? (pageLink ?? null) : null,
  };
}

/**
 * The end of a feed that carried error entries: the cursor is left so that the next pull reads them again (see
 * noteUnreadEntries), and the run says what happened and what to do. A run that ends a feed whose error entries an
 * earlier run met (a continuation) is PARTIAL too: the feed it ends is not whole.
 */
export async function leaveUnread(
  scope: RunScope,
  unread: UnreadEntries,
  countedHere: number,
  feed: { deltaLink: string | null; enumeration: string | null; fingerprint: TargetFingerprint },
): Promise<void> {
  const { ctx, def, listId } = scope;
  const { deltaLink, enumeration, fingerprint } = feed;
  if (countedHere === 0) {
    scope.counts.processed += unread.entries;
    scope.counts.failed += unread.entries;
  }
  scope.assertLockHeld();
  if (!scope.dryRun) {
    if (enumeration !== null) await writeTargetCursor(scope, ctx.meta, null, null, fingerprint);
    else {
      const again = unread.from === null || unread.from === deltaLink ? null : unread.from;
      await writeTargetCursor(
        scope,
        ctx.meta,
        deltaLink,
        again ? JSON.stringify({ link: again, enumeration: null }) : null,
        fingerprint,
      );
    }
  }
  const list = scope.lists.find((l) => l.listId === listId)?.name ?? listId;
  const entries = `${unread.entries} error ${unread.entries === 1 ? 'entry' : 'entries'}`;
  const kept =
    enumeration !== null
      ? 'the full read of the list is not concluded: no row was deleted for an item it did not show, and the next ' +
        'pull reads the whole list again'
      : 'the stored delta position stays before them, and the next pull reads those changes again';
  ctx.log.error(
    `${def.name}: the delta feed of list "${list}" carried ${entries} in place of items (Graph names no item); ` +
      `${kept}. If every pull reports it, Graph cannot return some item of the list through delta: ` +
      `\`arcore-sync verify ${def.name}\` (which reads the list without delta) names the rows and items that differ`,
  );
  const previous =
    (scope.details.unreadEntries as { list: string; entries: number; next: string }[] | undefined) ?? [];
  scope.details.unreadEntries = [
    ...previous,
    { list, entries: unread.entries, next: enumeration !== null ? 'enumerate again' : 'read again' },
  ];
}
