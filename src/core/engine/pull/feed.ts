import type { TargetFingerprint } from '../../store/cursors';
import { ResyncRequiredError } from '../../target/sharepoint';
import type { RunScope } from '../runner';
import { applyEntries } from './applyPage';
import { linkCarriesPlan, parseProgress, readTargetCursor, writeTargetCursor } from './cursor';
import { reconcileUnseen } from './deletes';
import { dueRetries } from './parked';

export async function pullList(scope: RunScope): Promise<void> {
  const { ctx, def, target, siteId, listId, plan } = scope;
  const retry = await dueRetries(scope);
  if (retry.length) {
    await applyEntries(scope, retry, null, null);
    scope.details.retried = ((scope.details.retried as number) ?? 0) + retry.length;
  }

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
  let resyncs = 0;
  let finalLink: string | null = null;
  let pages = 0;
  for (;;) {
    try {
      let pageAsked = Date.now();
      for await (const page of target.deltaPages(siteId, listId, {
        deltaLink: link,
        select: plan.select,
      })) {
        pages++;
        const read = { kind: 'page' as const, rows: page.entries.length, ms: Date.now() - pageAsked };
        ctx.onProgress?.({
          runType: 'PULL',
          definition: def.name,
          done: scope.counts.processed,
          total: null,
          throttleWaitMs: 0,
          trace: read,
        });
        for (const e of page.errors) ctx.log.warn(`${def.name}: delta feed reported ${e.code}: ${e.message}`);
        if (page.deltaLink) {
          await applyEntries(scope, page.entries, null, enumeration);
          finalLink = page.deltaLink;
        } else {
          progress = { link: page.nextLink as string, enumeration };
          await applyEntries(
            scope,
            page.entries,
            { cursorValue: deltaLink, progress, fingerprint },
            enumeration,
          );
        }
        ctx.onProgress?.({
          runType: 'PULL',
          definition: def.name,
          done: scope.counts.processed,
          total: null,
          throttleWaitMs: target.stats().throttleWaitMs,
        });
        // The page and the link to the next one are committed: out of time, stop here (I16).
        if (!page.deltaLink && scope.timeLeft() <= 0) {
          scope.stopIncomplete('time budget spent');
          return;
        }
        pageAsked = Date.now();
      }
      break;
    } catch (err) {
      if (!(err instanceof ResyncRequiredError) || resyncs >= 2) throw err;
      resyncs++;
      ctx.log.warn(`${def.name}: delta link expired (${err.code}); re-enumerating the list and reconciling`);
      link = err.freshLink;
      deltaLink = null;
      enumeration = scope.runId;
      progress = { link, enumeration };
      fingerprint = { listId, select: [...plan.select].sort() };
      if (!scope.dryRun)
        await writeTargetCursor(scope, ctx.meta, null, JSON.stringify(progress), fingerprint);
    }
  }
  if (enumeration) await reconcileUnseen(scope, enumeration);
  scope.assertLockHeld();
  if (finalLink && !scope.dryRun) await writeTargetCursor(scope, ctx.meta, finalLink, null, fingerprint);
  scope.details.pages = ((scope.details.pages as number) ?? 0) + pages;
  scope.details.resyncs = ((scope.details.resyncs as number) ?? 0) + resyncs;
}
