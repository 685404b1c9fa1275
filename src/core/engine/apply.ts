import type { Pool, PoolClient } from 'pg';
import { describeDefinitionChanges, type DefinitionChange } from '../definition/changes';
import { parseDefinition } from '../definition/parse';
import type { SyncDefinition } from '../definition/schema';
import type { RouteMovesReport } from '../routing';
import { bindListId, upsertDefinition } from '../store/definitions';
import { tryLockDefinition, type DefinitionLock } from '../store/locks';

export interface AppliedDefinition {
  name: string;
  outcome: 'created' | 'updated' | 'unchanged';
  /** What changed and what the next runs do about it (empty for a new or unchanged definition). */
  changes: DefinitionChange[];
  /** Routes changed on a definition that has synced: the rows the next push would move (#21). */
  moves?: RouteMovesReport;
}

/** Counts the moves new routes would make for a synced definition; `listId` is the list it bound, if any. */
export type PreviewRouteMoves = (
  before: SyncDefinition,
  after: SyncDefinition,
  stored: { id: string; listId: string | null },
) => Promise<RouteMovesReport>;

export interface ApplyOptions {
  /** Without it, a routes change is saved with no move count (no source database at hand). */
  previewRouteMoves?: PreviewRouteMoves;
}

export interface ApplyResult {
  created: string[];
  updated: string[];
  unchanged: string[];
  definitions: AppliedDefinition[];
}

export interface RefusedChange {
  definition: string;
  path: string;
  message: string;
}

/** `apply` would change what identifies the rows or items of a definition that has synced (I14). */
export class DefinitionChangeRefusedError extends Error {
  readonly errorKind = 'invalid_definition' as const;
  constructor(readonly problems: RefusedChange[]) {
    super(
      `apply refused, nothing was saved: ${problems
        .map((p) => `definition "${p.definition}" ${p.path}: ${p.message}`)
        .join('; ')}`,
    );
    this.name = 'DefinitionChangeRefusedError';
  }
}

/** A field is realigned while a run of the definition may still write its old synced values. */
export class DefinitionBusyForApplyError extends Error {
  constructor(readonly definition: string) {
    super(
      `definition "${definition}": a run is in progress and this change makes fields align afresh; nothing was ` +
        'saved. Apply again when the run has ended (npx arcore-sync status shows running runs).',
    );
    this.name = 'DefinitionBusyForApplyError';
  }
}

interface Planned {
  def: SyncDefinition;
  moves?: RouteMovesReport;
  id: string | null;
  changes: DefinitionChange[];
  /** The list changed on a definition that never synced: forget the list it bound (I15). */
  unbindList: boolean;
}

async function hasSynced(client: PoolClient, id: string): Promise<boolean> {
  const { rows } = await client.query<{ synced: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM arcore.sync_ledger WHERE definition_id = $1) AS synced',
    [id],
  );
  return rows[0].synced;
}

/**
 * Saves definitions by name, in one transaction, after working out what each change means (I14): a change of
 * key, list or hidden key column on a definition that has synced is refused with what to do instead; a field
 * added (or mapped from another column) forgets any synced value left from an earlier mapping of it, so it is
 * aligned afresh; nothing is written to either side.
 */
export async function applyDefinitions(
  meta: Pool,
  defs: SyncDefinition[],
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const client = await meta.connect();
  const locks: DefinitionLock[] = [];
  try {
    await client.query('BEGIN');
    const planned: Planned[] = [];
    const refused: RefusedChange[] = [];
    for (const def of defs) {
      const { rows } = await client.query<{ id: string; document: unknown; list_id: string | null }>(
        'SELECT id, document, list_id FROM arcore.sync_definitions WHERE name = $1 FOR UPDATE',
        [def.name],
      );
      if (rows.length === 0) {
        planned.push({ def, id: null, changes: [], unbindList: false });
        continue;
      }
      const { id, list_id: listId } = rows[0];
      const before = parseDefinition(rows[0].document, `stored definition "${def.name}"`);
      const changes = describeDefinitionChanges(before, def).filter(
        // The list named by the id it already resolves to is the same list.
        (c) =>
          !(
            c.kind === 're-identifying' &&
            c.path === 'target.list' &&
            listId !== null &&
            def.target.list === listId
          ),
      );
      const reidentifying = changes.filter((c) => c.kind === 're-identifying');
      const synced = reidentifying.length > 0 && (await hasSynced(client, id));
      if (synced) {
        for (const c of reidentifying)
          refused.push({ definition: def.name, path: c.path, message: `${c.change}: ${c.effect}` });
      }
      if (changes.some((c) => c.realign.length > 0)) {
        const lock = await tryLockDefinition(meta, id);
        if (!lock) throw new DefinitionBusyForApplyError(def.name);
        locks.push(lock);
      }
      const rerouted = changes.some((c) => c.kind === 'routes-changed');
      const moves =
        rerouted && options.previewRouteMoves && (await hasSynced(client, id))
          ? await options.previewRouteMoves(before, def, { id, listId })
          : undefined;
      planned.push({
        def,
        id,
        ...(moves ? { moves } : {}),
        changes,
        unbindList: !synced && reidentifying.some((c) => c.path === 'target.list'),
      });
    }
    if (refused.length > 0) throw new DefinitionChangeRefusedError(refused);

    const result: ApplyResult = { created: [], updated: [], unchanged: [], definitions: [] };
    for (const p of planned) {
      const outcome = await upsertDefinition(client, p.def);
      result[outcome].push(p.def.name);
      result.definitions.push({
        name: p.def.name,
        outcome,
        changes: p.changes,
        ...(p.moves ? { moves: p.moves } : {}),
      });
      if (p.id === null) continue;
      const realign = [...new Set(p.changes.flatMap((c) => c.realign))];
      if (realign.length > 0) {
        await client.query(
          `UPDATE arcore.sync_ledger SET synced_values = synced_values - $2::text[], content_hash = NULL
            WHERE definition_id = $1 AND synced_values ?| $2::text[]`,
          [p.id, realign],
        );
      }
      if (p.unbindList) await bindListId(client, p.id, null);
    }
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
    for (const lock of locks) await lock.release();
  }
}
