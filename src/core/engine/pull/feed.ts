import type { TargetFingerprint } from '../../store/cursors';
import { ResyncRequiredError } from '../../target/sharepoint';
import type { RunScope } from '../runner';
import { applyEntries } from './applyPage';
import { linkCarriesPlan, parseProgress, readTargetCursor, writeTargetCursor } from './cursor';
import { reconcileUnseen } from './deletes';
import { PagesAhead } from './pages';
import { dueRetries } from './parked';
import { leaveUnread, noteUnreadEntries } from './unreadEntries';

/**
 * Pulls one list: parked items first, then the delta feed from the page in progress, or the stored delta link, or
 * a first enumeration; an expired link (410) re-enumerates and reconciles. Each page commits with the link to
 * the next; the new delta link is stored only once the whole feed is applied, and never past a page that carried
 * `{"error"}` entries (unreadEntries.ts). With `pipeline`, the next page is read while the current one is applied
 * (pages.ts says why that commits nothing early).
 */
export async function pullList(scope: RunScope, pipeline: boolean): Promise<void> {
  const { ctx, def, target, listId, plan } = scope;
  const stored = await readTargetCursor(scope);
  // A link (or a page in progress) that does not select every mapped field would read a newly mapped field
  // as empty: read the list once with the new selection instead, aligning the new fields (I14).
  const linkCarries = linkCarriesPlan(stored?.fingerprint ?? null, listId, plan.select);
  if (stored && (stored.value || stored.progress) && !linkCarries) {
    ctx.log.info(
      `${def.name}: the stored delta link does not select every mapped field; reading the list once to align them`,
    );
    scope.details.realigned = true;
  }
  let fingerprint: TargetFingerprint =
    linkCarries && stored?.fingerprint ? stored.fingerprint : { listId, select: [...plan.select].sort() };
  let progress = linkCarries ? parseProgress(stored?.progress ?? null) : null;
  let deltaLink = linkCarries ? (stored?.value ?? null) : null;
  let link: string | undefined = progress?.link ?? deltaLink ?? undefined;
  let enumeration: string | null = progress ? progress.enumeration : deltaLink ? null : scope.runId;
  // Error entries this feed carried so far, a run stopped in it included (the page in progress keeps them).
  let unread = progress?.unread;
  let unreadHere = 0;
  // Parked items first. They are marked seen by the enumeration this run starts or resumes: an item its earlier
  // pages showed (parked then, inserted now) is not shown again, and unmarked its end would take it for deleted.
  const retry = await dueRetries(scope);
  if (retry.entries.length) {
    await applyEntries(scope, retry.entries, null, enumeration);
    scope.details.retried = ((scope.details.retried as number) ?? 0) + retry.entries.length;
  }
  // Out of time among the retries (I16): the feed waits for the next run, the parks not read stay due.
  if (!retry.complete) {
    scope.stopIncomplete('time budget spent retrying parked items');
    return;
  }
  let resyncs = 0;
  let finalLink: string | null = null;
  let pages = 0;
  const ahead = new PagesAhead(scope, pipeline);
  // How long the last page took to apply: a page is read ahead only when the run expects to have time for it.
  let applyMs = 0;
  try {
    for (;;) {
      try {
        let next = link;
        for (;;) {
          const { page, ms } = await ahead.take(next);
          pages++;
          ctx.onProgress?.({
            runType: 'PULL',
            definition: def.name,
            done: scope.counts.processed,
            total: null,
            throttleWaitMs: 0,
            trace: { kind: 'page', rows: page.entries.length, ms },
          });
          unread = noteUnreadEntries(scope, page, unread, next, enumeration);
          unreadHere += page.errors.length;
          if (page.nextLink && scope.timeLeft() > applyMs) ahead.readAhead(page.nextLink);
          const applying = Date.now();
          let wroteBack: Set<string>;
          if (page.deltaLink) {
            wroteBack = await applyEntries(scope, page.entries, null, enumeration);
            finalLink = page.deltaLink;
          } else {
            // This page commits the address of the next one, never anything read ahead (I5c).
            progress = { link: page.nextLink as string, enumeration, ...(unread ? { unread } : {}) };
            wroteBack = await applyEntries(
              scope,
              page.entries,
              { cursorValue: deltaLink, progress, fingerprint },
              enumeration,
            );
          }
          applyMs = Date.now() - applying;
          ctx.onProgress?.({
            runType: 'PULL',
            definition: def.name,
            done: scope.counts.processed,
            total: null,
            throttleWaitMs: target.stats().throttleWaitMs,
          });
          if (!page.nextLink) break;
          // The page and the link to the next one are committed: out of time, stop here (I16).
          if (scope.timeLeft() <= 0) {
            scope.stopIncomplete('time budget spent');
            return;
          }
          await ahead.forgetIfShows(page.nextLink, wroteBack);
          next = page.nextLink;
        }
        break;
      } catch (err) {
        if (!(err instanceof ResyncRequiredError) || resyncs >= 2) throw err;
        resyncs++;
        ctx.log.warn(
          `${def.name}: delta link expired (${err.code}); re-enumerating the list and reconciling`,
        );
        // The engine's own first enumeration, which selects the plan's fields: the fingerprint below says so, and
        // only this link makes that true (a 410's Location may select nothing; ResyncRequiredError says why).
        link = err.freshLink;
        deltaLink = null;
        enumeration = scope.runId;
        unread = undefined;
        progress = { link, enumeration };
        fingerprint = { listId, select: [...plan.select].sort() };
        if (!scope.dryRun)
          await writeTargetCursor(scope, ctx.meta, null, JSON.stringify(progress), fingerprint);
      }
    }
  } finally {
    await ahead.close();
  }
  // A feed that carried error entries is not whole: no unseen pair is taken for deleted, no link passes them.
  if (unread) await leaveUnread(scope, unread, unreadHere, { deltaLink, enumeration, fingerprint });
  else {
    if (enumeration) await reconcileUnseen(scope, enumeration);
    scope.assertLockHeld();
    if (finalLink && !scope.dryRun) await writeTargetCursor(scope, ctx.meta, finalLink, null, fingerprint);
  }
  scope.details.pages = ((scope.details.pages as number) ?? 0) + pages;
  scope.details.resyncs = ((scope.details.resyncs as number) ?? 0) + resyncs;
}
