import { contentHash, fromGraphFields, toCanonical, toGraphFields, type CanonicalRecord } from '../canonical';
import { DefinitionBusyError } from '../ops/errors';
import { getConflict, markResolved } from '../store/conflicts';
import { getDefinitionById } from '../store/definitions';
import { applyToPostgres } from './push';
import { differs, pick, rowToCanonical } from './plan';
import { withRun } from './runner';
import type { EngineContext } from './types';

export class ConflictNotFoundError extends Error {
  constructor(readonly conflictId: string) {
    super(`No conflict with id ${conflictId}`);
    this.name = 'ConflictNotFoundError';
  }
}

export class ConflictAlreadyResolvedError extends Error {
  constructor(readonly conflictId: string) {
    super(`Conflict ${conflictId} is already resolved`);
    this.name = 'ConflictAlreadyResolvedError';
  }
}

/** Values supplied to a resolution that do not fit the definition (unknown field, bad value). */
export class ResolutionValueError extends Error {
  constructor(
    readonly conflictId: string,
    message: string,
  ) {
    super(`Conflict ${conflictId}: ${message}`);
    this.name = 'ResolutionValueError';
  }
}

/** The row or the item of a parked conflict is gone; resolve it by deleting or re-creating, then pushing. */
export class ConflictTargetGoneError extends Error {
  constructor(
    readonly conflictId: string,
    readonly side: 'Postgres row' | 'SharePoint item',
  ) {
    super(`Conflict ${conflictId}: the ${side} no longer exists`);
    this.name = 'ConflictTargetGoneError';
  }
}

export type ResolutionChoice = { take: 'postgres' | 'sharepoint' } | { values: Record<string, unknown> };

/**
 * Resolves a parked (MANUAL) conflict: reads both sides as they are now, takes the chosen values, and writes
 * them to both sides through the normal paths (If-Match on SharePoint, a keyed UPDATE in Postgres), under
 * the definition's lock, then records the resolution and the new synced values.
 */
export async function resolveConflict(
  ctx: EngineContext,
  conflictId: string,
  choice: ResolutionChoice,
  resolvedBy: string,
): Promise<{ conflictId: string; status: 'RESOLVED' }> {
  const conflict = await getConflict(ctx.meta, conflictId);
  if (!conflict) throw new ConflictNotFoundError(conflictId);
  if (conflict.status !== 'OPEN') throw new ConflictAlreadyResolvedError(conflictId);
  const stored = await getDefinitionById(ctx.meta, conflict.definitionId);
  if (!stored) throw new ConflictNotFoundError(conflictId);
  let failure: Error | null = null;
  const summary = await withRun(ctx, stored.definition.name, 'PUSH', 'resolve', async (scope) => {
    const { def, plan, target, siteId, listId, source, ledger } = scope;
    const key = def.source.key.map((k) => conflict.identity[k]);
    const [row] = await source.readByKeys([key]);
    const item = conflict.itemId ? await target.getItem(siteId, listId, conflict.itemId) : null;
    if (!row || !item) {
      failure = new Error(
        `Conflict ${conflictId}: the ${row ? 'SharePoint item' : 'Postgres row'} no longer exists`,
      );
      return;
    }
    const pg = rowToCanonical(plan, row.values);
    const sp = fromGraphFields(item.fields, plan.columns);
    let chosen: CanonicalRecord;
    if ('take' in choice) {
      chosen = choice.take === 'postgres' ? pg : sp;
    } else {
      chosen = { ...pg };
      for (const [field, value] of Object.entries(choice.values)) {
        const f = plan.byTarget.get(field);
        if (!f)
          throw new Error(
            `Conflict ${conflictId}: "${field}" is not a mapped target column of "${def.name}"`,
          );
        chosen[field] = toCanonical(f.kind, value);
      }
    }
    const synced: CanonicalRecord = {
      ...pick(chosen, plan.shared),
      ...pick(
        pg,
        plan.toSharePoint.filter((f) => !plan.shared.includes(f)),
      ),
      ...pick(
        sp,
        plan.toPostgres.filter((f) => !plan.shared.includes(f)),
      ),
    };
    // Canonical comparison, as everywhere else (I2): only fields that really differ are written.
    const spChanges = pick(synced, differs(synced, sp, plan.toSharePoint));
    const pgChanges = pick(synced, differs(synced, pg, plan.toPostgres));
    let eTag = item.eTag;
    if (Object.keys(spChanges).length) {
      const [o] = await target.writeItems(siteId, listId, [
        {
          kind: 'update',
          ref: conflict.identityHash,
          itemId: item.id,
          eTag: item.eTag,
          fields: toGraphFields(spChanges, plan.columns),
        },
      ]);
      if (o.status !== 'updated') {
        failure = new Error(
          `Conflict ${conflictId}: SharePoint write did not apply (${o.status}); try again`,
        );
        return;
      }
      eTag = o.eTag;
      scope.counts.updated++;
    }
    if (Object.keys(pgChanges).length) {
      const client = await scope.sourcePool.connect();
      try {
        await applyToPostgres(scope, client, key, conflict.identity, {
          outcome: 'TAKE_POSTGRES',
          conflict: false,
          sharepoint: { kind: 'none' },
          postgres: { kind: 'write', values: pgChanges },
          synced,
          reason: 'manual resolution',
        });
      } finally {
        client.release();
      }
    }
    await ledger.save(ctx.meta, [
      {
        identityHash: conflict.identityHash,
        identity: conflict.identity,
        listId,
        itemId: item.id,
        eTag,
        syncedValues: synced,
        contentHash: contentHash(synced),
        provenance: 'PUSH',
        state: 'SYNCED',
        lastSourceTs: row.cursor,
        spModifiedAt: item.lastModifiedDateTime,
      },
    ]);
    await markResolved(
      ctx.meta,
      conflictId,
      'take' in choice ? `TAKE_${choice.take.toUpperCase()}` : 'VALUES',
      synced,
      resolvedBy,
    );
  });
  if (failure) throw failure;
  if (summary.status === 'SKIPPED')
    throw new DefinitionBusyError(stored.definition.name, 'resolving a conflict');
  if (summary.error) throw new Error(summary.error);
  return { conflictId, status: 'RESOLVED' };
}
