import type { Pool, PoolClient } from 'pg';
import { describeDefinitionChanges, type DefinitionChange } from '../definition/changes';
import { parseDefinition } from '../definition/parse';
import type { SyncDefinition } from '../definition/schema';
import type { RouteMovesReport } from '../routing';
import { bindListId, upsertDefinition, type RecordedKeyKinds } from '../store/definitions';
import { clearListCursors } from '../store/cursors';
import { tryLockDefinition, type DefinitionLock } from '../store/locks';
import type { CanonicalValue } from '../canonical';
import type { SourcePair } from '../store/ledger';
import { countRewrites } from '../transform/rewrites';
import { rereadForRoutes } from './routesReread';
import { parseLsnCursor } from '../capture/lsn';
import { countItemDeletedRows, itemDeletedAdvice, pushFieldsOf } from '../ops/heldRows';

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
  stored: { id: string; listId: string | null; keyKinds: RecordedKeyKinds | null },
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

/**
 * A field is realigned (or the source table or routes change) while a run of the definition may still write its old
 * synced values: busy, not a fault (I16): applying again once the run has ended succeeds.
 */
export class DefinitionBusyForApplyError extends Error {
  readonly errorKind = 'busy' as const;
  readonly hint = 'apply again once the run has ended ("npx arcore-sync status" shows running runs)';
  constructor(
    readonly definition: string,
    why = 'this change makes fields align afresh',
  ) {
    super(
      `definition "${definition}": a run is in progress and ${why}; nothing was ` +
        'saved. Apply again when the run has ended (npx arcore-sync status shows running runs).',
    );
    this.name = 'DefinitionBusyForApplyError';
  }
}

interface Planned {
  def: SyncDefinition;
  moves?: RouteMovesReport;
  /** The stored definition this one replaces. */
  before: SyncDefinition | null;
  id: string | null;
  changes: DefinitionChange[];
  /** The list changed on a definition that never synced: forget the list it bound (I15). */
  unbindList: boolean;
  /** Routes changed on a definition that has synced: the next push reads every row again (routesReread.ts). */
  rerouted?: boolean;
  /** The source table or the cursor column changed under a keyset cursor: the next push reads every row again. */
  resourced?: boolean;
}

/**
 * `deletes.pull` switched away from IGNORE: the rows it kept when their items were deleted (ITEM_DELETED) stay kept,
 * since applying the new policy to them now would delete or flag rows the operator chose to keep. The change says
 * how many, and the next step (ops/heldRows.ts); nothing is written for them.
 */
async function describeKeptRows(
  client: PoolClient,
  definitionId: string,
  before: SyncDefinition,
  after: SyncDefinition,
  changes: DefinitionChange[],
): Promise<void> {
  const change = changes.find((c) => c.path === 'deletes');
  if (!change || before.deletes.pull !== 'IGNORE' || after.deletes.pull === 'IGNORE') return;
  const rows = await countItemDeletedRows(client, definitionId);
  if (rows === 0) return;
  const advice = itemDeletedAdvice(after.name, rows, after.deletes.pull, pushFieldsOf(after));
  change.effect =
    `applies from the next run to every SharePoint delete it reads (one made before this change and not pulled yet ` +
    `too: run a pull before applying to have it kept under IGNORE); ${advice.reason}. Next step: ${advice.nextStep}`;
  change.heldRows = rows;
}

const SOURCE_REREAD_EFFECT =
  'the next push reads every row of the source again from the start (rows unchanged since the last sync write ' +
  'nothing): the stored cursor is a position in the old table or column';

/**
 * A keyset cursor is a position in one table's cursor column (I5a): another table (or column) read from it skips
 * every row whose cursor value is older, however it differs from what was last synced. Only a TIMESTAMP cursor
 * is such a position; an LSN cursor's capture checks its table itself.
 */
function changesCursorColumn(
  before: SyncDefinition,
  after: SyncDefinition,
  changes: DefinitionChange[],
): boolean {
  if (after.source.cursor.type !== 'TIMESTAMP') return false;
  return (
    changes.some((c) => c.kind === 'source-changed') ||
    (before.source.cursor.type === 'TIMESTAMP' && before.source.cursor.column !== after.source.cursor.column)
  );
}

/** The definition's SOURCE cursor holds a keyset position (not an LSN capture, not empty). */
async function hasKeysetCursor(client: PoolClient, id: string): Promise<boolean> {
  const { rows } = await client.query<{ value: string | null }>(
    `SELECT value FROM arcore.sync_cursors WHERE definition_id = $1 AND scope = 'SOURCE'`,
    [id],
  );
  const value = rows[0]?.value ?? null;
  return value !== null && parseLsnCursor(value) === null;
}

async function hasSynced(client: PoolClient, id: string): Promise<boolean> {
  const { rows } = await client.query<{ synced: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM arcore.sync_ledger WHERE definition_id = $1) AS synced',
    [id],
  );
  return rows[0].synced;
}

/**
 * A changed pipeline rewrites nothing by itself (I14): each transform-changed change is told how many synced
 * items the new pipeline would give another value (judged from the ledger). Every pair whose Postgres input the
 * ledger can tell keeps (or now gets) a recorded pair, so a row read again unchanged (the overlap window, I5b)
 * keeps its synced value; the new pipeline writes a field when its Postgres value changes, or by a backfill.
 * A recorded pair already carries the stamps of the direction that made it (transform.ts producedStamps), which
 * is how the backfill tells the pairs to re-derive from the ones made under the current pipeline, and is left as
 * it is. A pair recorded now (the Postgres input the old pipeline implies) gets no stamp: which direction made
 * its values is not known, so it is judged as a pair saved before the stamps (transform.ts madeUnderOldPipeline).
 */
async function assessPipelineChanges(
  client: PoolClient,
  id: string,
  before: SyncDefinition | null,
  after: SyncDefinition,
  changes: DefinitionChange[],
): Promise<void> {
  if (!before) return;
  for (const c of changes) {
    if (c.kind !== 'transform-changed' || c.field === undefined) continue;
    const field = c.field;
    const old = before.fields.find((f) => f.target === field);
    const now = after.fields.find((f) => f.target === field);
    if (!old || !now) continue;
    const { rows } = await client.query<{
      hash: string;
      has: boolean;
      synced: CanonicalValue;
      pair: SourcePair | null;
    }>(
      `SELECT source_identity_hash AS hash, synced_values ? $2 AS has, synced_values -> $2 AS synced,
              synced_source_values -> $2 AS pair
         FROM arcore.sync_ledger WHERE definition_id = $1 AND state = 'SYNCED'`,
      [id, field],
    );
    const direction = c.path.endsWith('.pullTransform') ? 'pullTransform' : 'transform';
    // With what was read, so that a pair a run committed since (apply does not hold the run's lock) is kept.
    const seeded: { h: string; p: SourcePair; s: CanonicalValue; o: SourcePair | null }[] = [];
    const rewrites = countRewrites(
      direction,
      old,
      now,
      rows.map((r) => ({ synced: r.has ? r.synced : undefined, pair: r.pair })),
      (index, pair) =>
        seeded.push({ h: rows[index].hash, p: pair, s: rows[index].synced, o: rows[index].pair }),
    );
    c.rewrites = rewrites;
    if (rewrites.evaluated > 0) {
      const side = direction === 'transform' ? 'SharePoint items' : 'Postgres rows';
      c.effect +=
        `; the new pipeline gives ${rewrites.wouldRewrite} of ${rewrites.evaluated} synced ${side} another value` +
        (rewrites.unknown > 0 ? ` (${rewrites.unknown} cannot be judged from the ledger)` : '');
    }
    if (seeded.length > 0) {
      await client.query(
        `UPDATE arcore.sync_ledger l
            SET synced_source_values = coalesce(l.synced_source_values, '{}'::jsonb) || jsonb_build_object($2::text, x.p)
           FROM jsonb_to_recordset($3::jsonb) AS x(h text, p jsonb, s jsonb, o jsonb)
          WHERE l.definition_id = $1 AND l.source_identity_hash = x.h
            AND coalesce(l.synced_values -> $2, 'null') = coalesce(x.s, 'null')
            AND coalesce(l.synced_source_values -> $2, 'null') = coalesce(x.o, 'null')`,
        [id, field, JSON.stringify(seeded)],
      );
    }
  }
}

/** Why the push reads every row again after a field starts flowing to SharePoint once more. */
export const FIELD_REREAD_REASON =
  'a field flows to SharePoint again: every row is read again for the changes made while it did not';

/** Why the push reads every row again after a field is aligned afresh on a definition that does not pull. */
export const FIELD_ALIGN_REREAD_REASON =
  'fields to align on a definition that does not pull: every row is read again to write them';

/**
 * What a change of fields makes the next runs read again: the list (target) when a field's synced values are
 * forgotten (added, mapped again, re-pointed) or a field starts flowing to Postgres; the table (source) when a field
 * starts flowing to SharePoint, or its synced values are forgotten on a definition that does not pull, or pulls are
 * turned off (a field they were still to align is left to the push). Only for a definition that has synced (`before`).
 */
function rereadsFor(
  before: SyncDefinition | null,
  after: SyncDefinition,
  realign: string[],
): { source: boolean; target: boolean } {
  if (!before) return { source: false, target: false };
  const pulls = (d: string) => d !== 'PUSH_ONLY';
  const pushes = (d: string) => d !== 'PULL_ONLY';
  // A definition that does not pull has its push align a new field (alignment.ts), but only on the rows it reads:
  // the rows its cursor passed before would never get the field. The push reads every row again instead.
  // Pulls turned off: a field the pull was still to align (added since its last run) is left to the push, which
  // aligns it only on the rows it reads.
  let source = (realign.length > 0 || before.pull.enabled) && !after.pull.enabled;
  let target = realign.length > 0;
  for (const f of after.fields) {
    const old = before.fields.find((o) => o.target === f.target && o.source === f.source);
    if (!old || old.direction === f.direction) continue;
    if (pulls(f.direction) && !pulls(old.direction)) target = true;
    if (pushes(f.direction) && !pushes(old.direction)) source = true;
  }
  return { source, target };
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
      const { rows } = await client.query<{
        id: string;
        document: unknown;
        list_id: string | null;
        key_kinds: RecordedKeyKinds | null;
      }>('SELECT id, document, list_id, key_kinds FROM arcore.sync_definitions WHERE name = $1 FOR UPDATE', [
        def.name,
      ]);
      if (rows.length === 0) {
        planned.push({ def, before: null, id: null, changes: [], unbindList: false });
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
      const rerouted = changes.some((c) => c.kind === 'routes-changed') && (await hasSynced(client, id));
      const resourced = changesCursorColumn(before, def, changes) && (await hasKeysetCursor(client, id));
      // A realigned field, or a re-read for new routes, a new source or a field's new direction: a run in progress
      // would write its old state back (a page's commit would store the old table's cursor, or a pull page the old
      // delta link, again).
      const reread = rereadsFor(before, def, [...new Set(changes.flatMap((c) => c.realign))]);
      // A new site time zone drops the TARGET cursors too (below): a running pull would store its delta link again.
      const rezoned = changes.some((c) => c.path === 'target.siteTimeZone');
      if (reread.source || reread.target || rerouted || resourced || rezoned) {
        const lock = await tryLockDefinition(meta, id);
        if (!lock)
          throw new DefinitionBusyForApplyError(
            def.name,
            rerouted
              ? 'this change makes the next push read every row again for its route'
              : resourced
                ? 'this change makes the next push read every row of the new source again'
                : changes.some((c) => c.realign.length > 0)
                  ? 'this change makes fields align afresh'
                  : before.pull.enabled && !def.pull.enabled
                    ? 'pulls are turned off, which makes the next push read every row again'
                    : rezoned
                      ? 'a new site time zone makes the next pull read the list again to align date-only fields afresh'
                      : 'this change makes the next runs read again what a field did not carry while its direction differed',
          );
        locks.push(lock);
      }
      if (resourced)
        for (const c of changes)
          if (c.kind === 'source-changed' || c.path === 'source.cursor') c.effect = SOURCE_REREAD_EFFECT;
      await describeKeptRows(client, id, before, def, changes);
      const moves =
        rerouted && options.previewRouteMoves
          ? await options.previewRouteMoves(before, def, { id, listId, keyKinds: rows[0].key_kinds })
          : undefined;
      planned.push({
        def,
        before,
        id,
        rerouted,
        resourced,
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
      const reread = rereadsFor(p.before, p.def, realign);
      // The pull aligns a field whose synced values were forgotten only on items it reads, and a field flowing to
      // Postgres again takes only the SharePoint changes read from then on: the stored delta link may still cover
      // the field (removed and mapped again, re-pointed to another column, or only its direction changed), so
      // nothing would be read. The next pull reads the list again instead (test/core/engine/definitionChanges.test.ts).
      if (reread.target) {
        await client.query("DELETE FROM arcore.sync_cursors WHERE definition_id = $1 AND scope = 'TARGET'", [
          p.id,
        ]);
        await clearListCursors(client, p.id);
      }
      // A field flowing to SharePoint again (the Postgres changes made while it did not are in rows the cursor
      // passed), or a field to align on a definition that does not pull: its push aligns only the rows it reads.
      if (reread.source && !(p.rerouted || p.resourced))
        await rereadForRoutes(
          client,
          p.id,
          !p.def.pull.enabled && (realign.length > 0 || p.before?.pull.enabled)
            ? FIELD_ALIGN_REREAD_REASON
            : FIELD_REREAD_REASON,
        );
      // A new site time zone reads every date-only value afresh: the next run forgets the synced values of the
      // date-only fields (it knows them from the list's columns, openScope), and the pull enumerates the list again
      // (its delta link would show only items changed since) and aligns each pair it reads.
      if (p.changes.some((c) => c.path === 'target.siteTimeZone')) {
        await client.query('UPDATE arcore.sync_definitions SET realign_date_only = true WHERE id = $1', [
          p.id,
        ]);
        await client.query("DELETE FROM arcore.sync_cursors WHERE definition_id = $1 AND scope = 'TARGET'", [
          p.id,
        ]);
        await clearListCursors(client, p.id);
      }
      await assessPipelineChanges(client, p.id, p.before, p.def, p.changes);
      if (p.rerouted || p.resourced) await rereadForRoutes(client, p.id);
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
