import { writtenETag } from '../push/page';
import { contentHash } from '../../canonical';
import { park, settleWaiting } from '../../store/failures';
import type { LedgerEntry } from '../../store/ledger';
import type { RunScope } from '../runner';
import { confirmListsOfNotFound } from '../listGone';
import { parkKey } from './parked';
import { knownRefusal } from '../push/refusals';
import type { WriteBack } from './settle';

/**
 * Sends a committed page's write-backs. Each item was parked with the page (applyPage.ts), so a run that stops
 * before this answers leaves a retry; an answer settles it: confirmed takes the item's park back, any other outcome
 * (the item gone included) counts as a failed attempt of it.
 */
export async function flushWriteBacks(scope: RunScope, all: WriteBack[]): Promise<void> {
  const writeBacks = await withoutRefused(scope, all);
  if (writeBacks.length === 0) return;
  scope.assertLockHeld();
  const outcomes = await scope.target.writeItems(
    scope.siteId,
    scope.listId,
    writeBacks.map((w) => w.op),
  );
  await confirmListsOfNotFound(scope, scope.listId, outcomes);
  const byRef = new Map(writeBacks.map((w) => [w.op.ref, w]));
  const save: LedgerEntry[] = [];
  const confirmed: string[] = [];
  for (const o of outcomes) {
    const w = byRef.get(o.ref);
    if (!w) continue;
    if (o.status === 'updated') {
      confirmed.push(parkKey(scope, w.op.itemId));
      if (w.counted === null) scope.counts.updated++;
      save.push({
        ...w.entry,
        // Read back (its answer lost), the item may already hold another edit: not taken for ours (writtenETag).
        eTag: writtenETag(scope.plan, o, w.synced),
        // The item's modification time after the write, when the answer carried it.
        spModifiedAt: typeof o.fields?.Modified === 'string' ? o.fields.Modified : w.entry.spModifiedAt,
        syncedValues: w.synced,
        contentHash: contentHash(w.synced),
        provenance: 'PUSH',
        state: 'SYNCED',
      });
    } else {
      // The item's outcome becomes the failure: parked, so the next pull decides (and writes back) again. An item
      // deleted in SharePoint since the page was read (404) keeps its pair too: the retry reads its tombstone and
      // the policy decides the delete against the row's edit (I7, I8). Dropping the pair here left the row
      // unpaired: the tombstone then met no pair, and the next push created the item again under a new id.
      if (w.counted !== null) scope.counts[w.counted]--;
      scope.counts.failed++;
      const error =
        o.status === 'not_found'
          ? `write-back to item ${w.entry.itemId} did not apply: the item was deleted in SharePoint meanwhile`
          : `write-back to item ${w.entry.itemId} did not apply (${o.status}${'message' in o ? `: ${o.message}` : ''})`;
      scope.ctx.log.warn(
        `${scope.def.name}: ${error}; the next pull ${o.status === 'not_found' ? "decides that delete under the definition's policies" : 'retries it'}`,
      );
      await park(scope.ctx.meta, scope.definitionId, {
        direction: 'PULL',
        itemKey: w.entry.itemId ? parkKey(scope, w.entry.itemId) : o.ref,
        sourceIdentity: w.entry.identity,
        spItemId: w.entry.itemId,
        error,
      });
    }
  }
  await scope.ledger.save(scope.ctx.meta, save);
  // A dry run parked nothing (its page rolled back): an item parked before it stays as it is.
  if (!scope.dryRun) await settleWaiting(scope.ctx.meta, scope.definitionId, 'PULL', confirmed);
}

/**
 * Write-backs SharePoint's columns say it will refuse (a text longer than its single line of text holds, I12) are not
 * sent: each is parked as the push parks such a row, naming the field, the Postgres column, the limit and the next
 * step, and retried by the next pushes at no Graph cost (push/refusals.ts). Its entry keeps SharePoint's value for the
 * field (settle.ts), so the push meets the text again until it fits; the item's own park (applyPage.ts) is taken
 * back, since the pull has nothing left to do for it (a run stopped before that retries the item, which parks it
 * here again). The item's outcome becomes the failure.
 */
async function withoutRefused(scope: RunScope, writeBacks: WriteBack[]): Promise<WriteBack[]> {
  const sent: WriteBack[] = [];
  const handed: string[] = [];
  for (const w of writeBacks) {
    const refusal = knownRefusal(scope.plan, w.entry.identity, w.op.fields);
    if (refusal === null) {
      sent.push(w);
      continue;
    }
    if (w.counted !== null) scope.counts[w.counted]--;
    scope.counts.failed++;
    scope.ctx.log.warn(`${scope.def.name}: write-back to item ${w.op.itemId}: ${refusal}`);
    if (scope.dryRun) continue;
    await park(scope.ctx.meta, scope.definitionId, {
      direction: 'PUSH',
      itemKey: w.entry.identityHash,
      sourceIdentity: w.entry.identity,
      spItemId: w.op.itemId,
      error: refusal,
    });
    handed.push(parkKey(scope, w.op.itemId));
  }
  if (handed.length > 0) await settleWaiting(scope.ctx.meta, scope.definitionId, 'PULL', handed);
  return sent;
}
