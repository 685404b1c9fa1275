import type { Pool, PoolClient } from 'pg';
import { stableStringify } from '../canonical';
import { inTransaction } from '../db/transaction';
import type { FieldMapping, SyncDefinition } from '../definition/schema';
import type { SourceColumn, SourceTableInfo } from '../source/postgres/catalog';
import { clearListCursors } from '../store/cursors';
import { bindColumnTypes, type RecordedColumnTypes, type StoredDefinition } from '../store/definitions';
import { rereadForRoutes } from './routesReread';
import { pipelineColumns } from './transform';

export const COLUMN_TYPES_REREAD_REASON =
  "a column's type changed in Postgres: every row is read again for the values the change gave it";

/** The columns whose values flow to SharePoint: mapped ones that push, and the columns their pipelines read. */
function pushedColumns(def: SyncDefinition): Set<string> {
  const pushing = def.fields.filter((f) => f.direction !== 'PULL_ONLY');
  return new Set([...pushing.map((f) => f.source), ...pipelineColumns(pushing)]);
}

/** The columns a field's values come from or go to: its source and the columns its pipeline reads. */
function columnsOf(field: FieldMapping): string[] {
  return [field.source, ...pipelineColumns([field])];
}

/** Every mapped column, whichever way it flows. */
function mappedColumns(def: SyncDefinition): Set<string> {
  return new Set(def.fields.flatMap(columnsOf));
}

/**
 * The columns the idle probe fingerprints (source/postgres/shape.ts): the mapped ones, the key, the cursor column
 * and the soft-delete flag (what a run reads), sorted so that the probe and the run name the same list.
 */
export function shapeColumns(def: SyncDefinition): string[] {
  return [
    ...new Set([
      ...def.source.key,
      ...(def.source.cursor.column === undefined ? [] : [def.source.cursor.column]),
      ...mappedColumns(def),
      ...(def.deletes.pullSoftColumn ? [def.deletes.pullSoftColumn] : []),
    ]),
  ].sort();
}

/**
 * Relations whose column numbers say where their values live: a table's column dropped and added again starts
 * empty. A view's, a materialized view's or a foreign table's columns only show values kept elsewhere (a view made
 * again with its columns in another order shows the same values), so their numbers are not recorded.
 */
const TABLE_KINDS = new Set(['r', 'p']);

function typesNow(
  def: SyncDefinition,
  columns: readonly SourceColumn[],
  relkind: string,
): RecordedColumnTypes {
  const wanted = mappedColumns(def);
  const numbered = TABLE_KINDS.has(relkind);
  return Object.fromEntries(
    columns
      .filter((c) => wanted.has(c.name))
      .map((c) => [
        c.name,
        {
          type: c.sqlType ?? `${c.udtName}/${c.numericScale ?? ''}`,
          ...(c.enum ? { labels: [...c.enum.labels] } : {}),
          ...(c.attnum === undefined || !numbered ? {} : { attnum: c.attnum }),
        },
      ]),
  );
}

/**
 * Columns whose stored values may have changed with no row trigger: retyped (ALTER … TYPE rewrites each value:
 * numeric(12,2) → numeric(12,0) rounds it), or an enum that lost a label (RENAME VALUE). A column only now pushed
 * (a mapping added) and a label only added change no stored value; a column that only pulls sends nothing.
 */
function retyped(def: SyncDefinition, was: RecordedColumnTypes, now: RecordedColumnTypes): string[] {
  const pushed = pushedColumns(def);
  return Object.keys(now).filter((name) => {
    const old = was[name];
    if (!old || !pushed.has(name) || recreated(old, now[name])) return false;
    if (old.type !== now[name].type) return true;
    const labels = new Set(now[name].labels ?? []);
    return (old.labels ?? []).some((l) => !labels.has(l));
  });
}

/** Dropped and added again under the same name (or another column renamed to it): a new attnum. */
function recreated(was: RecordedColumnTypes[string], now: RecordedColumnTypes[string]): boolean {
  return was.attnum !== undefined && now.attnum !== undefined && was.attnum !== now.attnum;
}

/** A mapped column dropped and added again, and the fields that read or write it. */
export interface RecreatedColumn {
  column: string;
  fields: FieldMapping[];
  /** The next pull fills it from SharePoint (the definition pulls and every such field may be pulled). */
  pulled: boolean;
  /** What the runs do about it and, where SharePoint's values cannot come back by themselves, the next step. */
  message: string;
}

/** What changed in the table's shape since the last run recorded it. */
export interface ShapeChanges {
  retyped: string[];
  recreated: RecreatedColumn[];
}

const quoted = (names: string[]) => names.map((n) => `"${n}"`).join(', ');

function recreatedColumn(def: SyncDefinition, column: string): RecreatedColumn {
  const fields = def.fields.filter((f) => columnsOf(f).includes(column));
  const targets = quoted(fields.map((f) => f.target));
  const pulled = def.pull.enabled && fields.every((f) => f.direction !== 'PUSH_ONLY');
  const what =
    `column "${column}" was dropped and added again in Postgres, so it holds none of the values synced ` +
    `before (empty, or its default): ${fields.length > 1 ? 'fields' : 'field'} ${targets} ` +
    `${fields.length > 1 ? 'are' : 'is'} aligned afresh, as a newly mapped field is, and an empty value is never ` +
    "pushed over SharePoint's";
  if (pulled)
    return {
      column,
      fields,
      pulled,
      message:
        `${what}: the next pull reads the list again and fills the empty values from SharePoint (different ` +
        `values go to the conflict policy, ${def.conflictPolicy}); the push writes nothing for ${targets} ` +
        'until then',
    };
  const pullable = fields.filter((f) => f.direction !== 'PUSH_ONLY').map((f) => f.target);
  const pushOnly = fields.filter((f) => f.direction === 'PUSH_ONLY').map((f) => f.target);
  const steps = [
    `put the values back in "${column}" (from a backup: each row changed is pushed)`,
    ...(pullable.length > 0
      ? [
          `take SharePoint's: "npx arcore-sync backfill ${def.name} --fields ${pullable.join(',')} --direction pull"`,
        ]
      : []),
    ...(pushOnly.length > 0
      ? [
          `to take SharePoint's values of ${quoted(pushOnly)}, map ${pushOnly.length > 1 ? 'them' : 'it'} ` +
            `BIDIRECTIONAL and ${def.pull.enabled ? 'apply: the next pull fills the empty values' : `run "npx arcore-sync backfill ${def.name} --fields ${pushOnly.join(',')} --direction pull"`}`,
        ]
      : []),
  ];
  return {
    column,
    fields,
    pulled,
    message:
      `${what}: SharePoint keeps its values (${def.pull.enabled ? 'the pull never writes a PUSH_ONLY field' : 'this definition does not pull'}), ` +
      `Postgres keeps the empty ones; a value written in "${column}" is pushed. Next step: ${steps.join('; or ')}`,
  };
}

/**
 * I14: a re-created column's values are not the synced ones. Its fields' synced values are forgotten, so they are
 * unaligned (alignment.ts): the push leaves an empty value alone and the pull fills it from SharePoint. A pull's
 * stored delta link would read only items changed since, so the list is read again (as `apply` does for a field
 * mapped again).
 */
async function realignRecreated(
  client: PoolClient,
  definitionId: string,
  cols: RecreatedColumn[],
): Promise<void> {
  const targets = [...new Set(cols.flatMap((c) => c.fields.map((f) => f.target)))];
  await client.query(
    `UPDATE arcore.sync_ledger SET synced_values = synced_values - $2::text[], content_hash = NULL
      WHERE definition_id = $1 AND synced_values ?| $2::text[]`,
    [definitionId, targets],
  );
  if (cols.some((c) => c.fields.some((f) => f.direction !== 'PUSH_ONLY'))) {
    await client.query("DELETE FROM arcore.sync_cursors WHERE definition_id = $1 AND scope = 'TARGET'", [
      definitionId,
    ]);
    await clearListCursors(client, definitionId);
  }
}

/**
 * I5, I14: a push reads the rows its cursor passes, but ALTER … TYPE and a renamed enum label change stored values
 * without moving any row's cursor value: the items would keep the old values, and a later SharePoint edit of them
 * would meet the new one as a Postgres change (a conflict the policy may settle against the edit). When a column
 * whose values flow to SharePoint has another type than the one recorded, the next push reads every row again
 * (rows that equal the ledger write nothing), in the same transaction that records the new types. A mapped column
 * of a table dropped and added again (a new attnum) holds none of the synced values: its fields are aligned afresh
 * (realignRecreated), never pushed empty over SharePoint's values. `shape` is the fingerprint read before
 * `columns` (shape.ts): recorded with the types, the idle probe compares it on every tick, so a change reaches a
 * run at once; read first, a change between the two reads leaves it stale and the next probe lets a run record it.
 * Runs under the definition's lock; no write while nothing changed (the definition row carries both).
 */
export async function checkColumnTypes(
  meta: Pool,
  stored: StoredDefinition,
  table: SourceTableInfo,
  shape: string,
  dryRun: boolean,
): Promise<ShapeChanges> {
  const def = stored.definition;
  const now = typesNow(def, table.columns, table.relkind);
  const was = stored.columnTypes;
  // Read back from jsonb, the record's keys come in jsonb's order, not the order they were written in.
  if (was !== null && stored.columnShape === shape && stableStringify(was) === stableStringify(now))
    return { retyped: [], recreated: [] };
  const changes: ShapeChanges = {
    retyped: was === null ? [] : retyped(def, was, now),
    recreated:
      was === null
        ? []
        : Object.keys(now)
            .filter((name) => was[name] && recreated(was[name], now[name]))
            .map((name) => recreatedColumn(def, name)),
  };
  if (dryRun) return changes;
  await inTransaction(meta, async (client) => {
    if (changes.retyped.length > 0) await rereadForRoutes(client, stored.id, COLUMN_TYPES_REREAD_REASON);
    if (changes.recreated.length > 0) await realignRecreated(client, stored.id, changes.recreated);
    await bindColumnTypes(client, stored.id, now, shape);
  });
  return changes;
}
