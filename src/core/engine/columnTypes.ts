import type { Pool } from 'pg';
import { inTransaction } from '../db/transaction';
import type { SyncDefinition } from '../definition/schema';
import type { SourceColumn } from '../source/postgres/catalog';
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

function typesNow(def: SyncDefinition, columns: readonly SourceColumn[]): RecordedColumnTypes {
  const wanted = pushedColumns(def);
  return Object.fromEntries(
    columns
      .filter((c) => wanted.has(c.name))
      .map((c) => [
        c.name,
        {
          type: c.sqlType ?? `${c.udtName}/${c.numericScale ?? ''}`,
          ...(c.enum ? { labels: [...c.enum.labels] } : {}),
        },
      ]),
  );
}

/**
 * Columns whose stored values may have changed with no row trigger: retyped (ALTER … TYPE rewrites each value:
 * numeric(12,2) → numeric(12,0) rounds it), or an enum that lost a label (RENAME VALUE). A column only now pushed
 * (a mapping added) and a label only added change no stored value.
 */
function retyped(was: RecordedColumnTypes, now: RecordedColumnTypes): string[] {
  return Object.keys(now).filter((name) => {
    const old = was[name];
    if (!old) return false;
    if (old.type !== now[name].type) return true;
    const labels = new Set(now[name].labels ?? []);
    return (old.labels ?? []).some((l) => !labels.has(l));
  });
}

/**
 * I5, I14: a push reads the rows its cursor passes, but ALTER … TYPE and a renamed enum label change stored values
 * without moving any row's cursor value: the items would keep the old values, and a later SharePoint edit of them
 * would meet the new one as a Postgres change (a conflict the policy may settle against the edit). When a column
 * whose values flow to SharePoint has another type than the one recorded, the next push reads every row again
 * (rows that equal the ledger write nothing), in the same transaction that records the new types. Runs under the
 * definition's lock; no query while nothing changed (the definition row carries the types).
 */
export async function checkColumnTypes(
  meta: Pool,
  stored: StoredDefinition,
  columns: readonly SourceColumn[],
  dryRun: boolean,
): Promise<string[]> {
  const now = typesNow(stored.definition, columns);
  const was = stored.columnTypes;
  if (was !== null && JSON.stringify(was) === JSON.stringify(now)) return [];
  const changed = was === null ? [] : retyped(was, now);
  if (dryRun) return changed;
  await inTransaction(meta, async (client) => {
    if (changed.length > 0) await rereadForRoutes(client, stored.id, COLUMN_TYPES_REREAD_REASON);
    await bindColumnTypes(client, stored.id, now);
  });
  return changed;
}
