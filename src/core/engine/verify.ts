import {
  canonicalEquals,
  fromGraphFields,
  identityOf,
  type CanonicalRecord,
  type CanonicalValue,
} from '../canonical';
import type { KeysetPosition } from '../cursor/timestampCursor';
import { readSourceColumns } from '../definition/validateLive';
import { PostgresSource, quoteIdent, type SourceRow } from '../source/postgres/PostgresSource';
import { getDefinition } from '../store/definitions';
import { LedgerStore } from '../store/ledger';
import { revivedPairs } from '../ops/heldRows';
import { keyOf, rowToCanonical } from './plan';
import { isRouted, targetLists } from '../routing';
import { listProblems, planLists, routerOf, type ScopeList } from './routing';
import { checkKeyKinds } from './keyKinds';
import { resolveSharePoint, SourceTableNotFoundError } from './runner';
import { rethrowIfListGoneOutsideRun } from './listGone';
import type { EngineContext } from './types';
import { agreedEntry, pipelineColumns } from './transform';

/** One field whose value differs between a row and its paired item. */
export interface VerifyDifference {
  /** The row's key (key column → value). */
  key: Record<string, unknown>;
  itemId: string;
  /** SharePoint internal name of the field (the mapping's target). */
  field: string;
  /** The mapped Postgres column. */
  column: string;
  postgres: CanonicalValue;
  sharepoint: CanonicalValue;
}

/** What `verify NAME` prints: both sides of a definition compared row by row and field by field. */
export interface VerifyReport {
  definition: string;
  /** True when every row and item are paired, every compared field is equal and every list fits the mapping. */
  agree: boolean;
  /** Routed lists that do not fit the mapping (a column missing or of another type): runs leave them out. */
  listProblems?: { list: string; problem: string }[];
  rows: number;
  items: number;
  paired: number;
  fieldsCompared: number;
  /** Number of differing fields over all paired rows. */
  differences: number;
  /** Rows without an item plus items without a row. */
  unpaired: number;
  rowsWithoutItem: number;
  itemsWithoutRow: number;
  /** Items whose row is gone and that the push delete policy (SOFT, IGNORE) keeps on purpose. */
  orphanedItems: number;
  /**
   * Rows the pull delete policy keeps when their item is deleted: flagged (SOFT) or held apart (IGNORE); their
   * item is gone on purpose.
   */
  softDeletedRows: number;
  /** Routed definitions: rows no route matches (not synced on purpose). */
  unroutedRows: number;
  /** Routed definitions: rows whose item lives in another list than their route names (the next push moves it). */
  misrouted: number;
  /** The fields compared: those that flow in at least one direction (I9). */
  fields: string[];
  /**
   * Fields mapped PUSH_ONLY to multi-line columns with "Append changes to existing text": Graph reads them empty
   * (their text is in version history), so they are not compared (engine/appendOnly.ts).
   */
  notCompared?: string[];
  sample: {
    differences: VerifyDifference[];
    rowsWithoutItem: Record<string, unknown>[];
    itemsWithoutRow: string[];
  };
  graphRequests: number;
  resourceUnits: number;
  throttleWaitMs: number;
  durationMs: number;
}

export interface VerifyOptions {
  /** How many differences (and unpaired rows and items) the report lists; 10 by default. */
  sampleSize?: number;
}

interface ItemState {
  values: CanonicalRecord | null;
  /** Why the item's fields could not be read as the mapping says (a malformed Graph value). */
  unreadable: string | null;
  paired: boolean;
}

function identityRecord(key: string[], values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of key) out[k] = values[k];
  return out;
}

/**
 * Compares both sides of a definition through the ledger, reading them as runs do: SharePoint with the
 * list enumeration (paged, paced by the shared throttle gate, I10), Postgres in keyset pages. Values are
 * compared canonically (numbers as numbers, dates by what they mean, multi-values as sets), and only fields
 * that flow in at least one direction (I9). Nothing is written on either side, and no lock is taken: a run
 * in progress while verifying can show as transient differences.
 */
export async function verifyDefinition(
  ctx: EngineContext,
  definitionName: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const started = Date.now();
  const sampleSize = options.sampleSize ?? 10;
  const stored = await getDefinition(ctx.meta, definitionName);
  const def = stored.definition;
  const target = ctx.target();
  try {
    // Routed: every list, each item known as list/item (item ids are unique only within a list).
    const routed = isRouted(def);
    let siteId = '';
    const lists: ScopeList[] = [];
    for (const name of targetLists(def)) {
      const resolved = await resolveSharePoint(target, def, name);
      siteId = resolved.siteId;
      lists.push({
        name,
        listId: resolved.listId,
        spColumns: await target.getColumns(siteId, resolved.listId),
      });
    }
    const itemKey = (listId: string, itemId: string) => (routed ? `${listId}/${itemId}` : itemId);
    const sourcePool = ctx.sourcePool(def.source.connection);
    const pgColumns = await readSourceColumns(sourcePool, def.source.schema, def.source.table);
    if (!pgColumns) throw new SourceTableNotFoundError(def.name, `${def.source.schema}.${def.source.table}`);
    // I1, I14: with a key column retyped since the ledger was built, every row would read as unpaired.
    await checkKeyKinds(
      ctx.meta,
      stored,
      pgColumns,
      `${quoteIdent(def.source.schema)}.${quoteIdent(def.source.table)}`,
      true,
    );
    // Routed: each list is checked on its own columns; one that does not fit is reported, the others compared.
    const plan = planLists(def, pgColumns, lists, !routed);
    const softColumn = def.deletes.pull === 'SOFT' ? def.deletes.pullSoftColumn : undefined;
    const wanted = new Set([
      ...def.source.key,
      ...(def.source.cursor.column === undefined ? [] : [def.source.cursor.column]),
      ...def.fields.map((f) => f.source),
      ...pipelineColumns(def.fields),
      ...(softColumn ? [softColumn] : []),
    ]);
    const source = new PostgresSource(sourcePool, {
      schema: def.source.schema,
      table: def.source.table,
      key: def.source.key,
      cursorColumn: def.source.cursor.column ?? null,
      rowVersion: def.source.cursor.type === 'LSN',
      columns: pgColumns.filter((c) => wanted.has(c.name)),
    });
    const ledger = new LedgerStore(
      stored.id,
      def.source.key.length > 1 ? 'COMPOSITE_COLUMNS' : 'PRIMARY_KEY',
      def.source.connection,
    );
    // A PUSH_ONLY field on an append-only column reads empty in SharePoint (appendOnly.ts): not comparable.
    const compared = plan.fields.filter((f) => (f.pushable || f.pullable) && f.sp.appendOnly !== true);
    const appendOnly = plan.fields.filter((f) => f.sp.appendOnly === true).map((f) => f.target);
    const route = routerOf(def, plan, lists);

    const items = new Map<string, ItemState>();
    // A list query costs the same resource units whatever its size (graph.md): pages as big as the
    // definition reads rows in, up to Graph's 5000.
    const top = Math.min(def.source.pageSize, 5000);
    for (const list of lists) {
      const { listId, plan: listPlan } = list;
      try {
        for await (const page of target.listItems(siteId, listId, { select: plan.select, top })) {
          for (const item of page) {
            try {
              items.set(itemKey(listId, item.id), {
                values: fromGraphFields(item.fields, (listPlan ?? plan).columns),
                unreadable: null,
                paired: false,
              });
            } catch (err) {
              items.set(itemKey(listId, item.id), {
                values: null,
                unreadable: (err as Error).message,
                paired: false,
              });
            }
          }
        }
      } catch (err) {
        // A list deleted or replaced while its pages are read answers 404: named as such, with the next step (I15).
        await rethrowIfListGoneOutsideRun(ctx, target, siteId, def, list, err);
      }
    }

    const problems = listProblems(lists);
    const report: VerifyReport = {
      definition: def.name,
      agree: false,
      ...(problems.length ? { listProblems: problems } : {}),
      rows: await source.count(),
      items: items.size,
      paired: 0,
      fieldsCompared: 0,
      differences: 0,
      unpaired: 0,
      rowsWithoutItem: 0,
      itemsWithoutRow: 0,
      orphanedItems: 0,
      softDeletedRows: 0,
      unroutedRows: 0,
      misrouted: 0,
      fields: compared.map((f) => f.target),
      ...(appendOnly.length ? { notCompared: appendOnly } : {}),
      sample: { differences: [], rowsWithoutItem: [], itemsWithoutRow: [] },
      graphRequests: 0,
      resourceUnits: 0,
      throttleWaitMs: 0,
      durationMs: 0,
    };
    const difference = (d: VerifyDifference) => {
      report.differences++;
      if (report.sample.differences.length < sampleSize) report.sample.differences.push(d);
    };
    const rowWithoutItem = (key: Record<string, unknown>) => {
      report.rowsWithoutItem++;
      if (report.sample.rowsWithoutItem.length < sampleSize) report.sample.rowsWithoutItem.push(key);
    };

    let seenRows = 0;
    let from: { after: KeysetPosition } | null = null;
    // An LSN definition pushes every row, timestamp or not: it is read in key order.
    let afterKey: unknown[] | null = null;
    const byKey = def.source.cursor.type === 'LSN';
    for (;;) {
      const rows: SourceRow[] = byKey
        ? await source.readKeyPage(afterKey, def.source.pageSize)
        : await source.readPage(from, def.source.pageSize);
      if (rows.length === 0) break;
      seenRows += rows.length;
      const hashes = new Map<SourceRow, string>();
      for (const row of rows) {
        try {
          hashes.set(row, identityOf(def.source.key, row.values, plan.keyKinds).hash);
        } catch {
          // A key that cannot identify a row (NULL, unusable type) is never synced: that row is unpaired.
        }
      }
      const entries = await ledger.byIdentities(ctx.meta, [...hashes.values()]);
      // A pair revived from the recycle bin waits ITEM_DELETED for `resolve`: it is a pair, compared like one.
      const revived = await revivedPairs(
        ctx.meta,
        stored.id,
        [...entries.values()]
          .filter((e) => e.state === 'ITEM_DELETED' && e.itemId)
          .map((e) => e.identityHash),
      );
      for (const row of rows) {
        const key = identityRecord(def.source.key, row.values);
        const hash = hashes.get(row);
        const entry = hash === undefined ? undefined : entries.get(hash);
        if (entry?.state === 'UNROUTED') {
          report.unroutedRows++;
          continue;
        }
        const pair = entry?.state === 'SYNCED' || (hash !== undefined && revived.has(hash));
        if (entry?.state === 'ITEM_DELETED' && !pair) {
          report.softDeletedRows++; // its item deleted in SharePoint, the row kept on purpose (deletes.pull IGNORE)
          continue;
        }
        const item = entry?.itemId ? items.get(itemKey(entry.listId, entry.itemId)) : undefined;
        if (!entry || !pair || !entry.itemId || !item || item.paired) {
          if (softColumn && row.values[softColumn] === true) report.softDeletedRows++;
          else rowWithoutItem(key);
          continue;
        }
        item.paired = true;
        report.paired++;
        let pg: CanonicalRecord | null = null;
        let pgError: string | null = null;
        try {
          // Sides that agree under the current pipelines (a backfill stopped before its ledger commit) agree (I6).
          pg = rowToCanonical(
            plan,
            row.values,
            agreedEntry(plan.fields, entry, row.values, item.values ?? null),
          );
        } catch (err) {
          pgError = (err as Error).message;
        }
        if (route && pg) {
          const belongs = route(pg, row.values);
          if (belongs && belongs.listId !== entry.listId) report.misrouted++;
        }
        for (const f of compared) {
          report.fieldsCompared++;
          const pv = pg ? (pg[f.target] ?? null) : null;
          const sv = item.values ? (item.values[f.target] ?? null) : null;
          if (pg && item.values && canonicalEquals(pv, sv)) continue;
          difference({
            key,
            itemId: entry.itemId,
            field: f.target,
            column: f.source,
            postgres: pgError ?? pv,
            sharepoint: item.unreadable ?? sv,
          });
        }
      }
      if (rows.length < def.source.pageSize) break;
      const last = rows[rows.length - 1];
      afterKey = keyOf(def, last.values);
      from = byKey ? null : { after: { ts: last.cursor as string, key: afterKey } };
    }
    // Rows with a NULL cursor are never read by a push, so they can have no item.
    report.rowsWithoutItem += Math.max(0, report.rows - seenRows);

    for (const list of lists) {
      const prefix = routed ? `${list.listId}/` : '';
      const unpairedIds = [...items]
        .filter(([key, s]) => !s.paired && key.startsWith(prefix))
        .map(([key]) => key.slice(prefix.length));
      for (let i = 0; i < unpairedIds.length; i += 1000) {
        const chunk = unpairedIds.slice(i, i + 1000);
        const entries = await ledger.byItemIds(ctx.meta, list.listId, chunk);
        for (const id of chunk) {
          if (entries.get(id)?.state === 'ORPHANED') {
            report.orphanedItems++;
            continue;
          }
          report.itemsWithoutRow++;
          if (report.sample.itemsWithoutRow.length < sampleSize)
            report.sample.itemsWithoutRow.push(routed ? `${list.name}/${id}` : id);
        }
      }
    }

    report.unpaired = report.rowsWithoutItem + report.itemsWithoutRow;
    report.agree =
      report.differences === 0 && report.unpaired === 0 && report.misrouted === 0 && problems.length === 0;
    const stats = target.stats();
    report.graphRequests = stats.requests;
    report.resourceUnits = stats.resourceUnits;
    report.throttleWaitMs = stats.throttleWaitMs;
    report.durationMs = Date.now() - started;
    return report;
  } finally {
    await target.close();
  }
}

/** A few lines naming what disagrees: the first differences, unpaired rows and items. */
export function describeDifferences(report: VerifyReport): string[] {
  const lines: string[] = [];
  const { sample } = report;
  for (const p of report.listProblems ?? []) lines.push(`list "${p.list}": ${p.problem}`);
  for (const d of sample.differences) {
    lines.push(
      `row ${JSON.stringify(d.key)} / item ${d.itemId} ${d.field}: Postgres ${JSON.stringify(d.postgres)} ≠ ` +
        `SharePoint ${JSON.stringify(d.sharepoint)}`,
    );
  }
  if (report.differences > sample.differences.length)
    lines.push(`… and ${report.differences - sample.differences.length} more field differences`);
  if (report.misrouted > 0)
    lines.push(
      `rows whose item is in another list than their route (${report.misrouted}): the next push moves them`,
    );
  if (report.rowsWithoutItem > 0) {
    lines.push(
      `rows without an item (${report.rowsWithoutItem}): ${sample.rowsWithoutItem.map((k) => JSON.stringify(k)).join(', ')}` +
        (report.rowsWithoutItem > sample.rowsWithoutItem.length ? ', …' : ''),
    );
  }
  if (report.itemsWithoutRow > 0) {
    lines.push(
      `items without a row (${report.itemsWithoutRow}): ${sample.itemsWithoutRow.join(', ')}` +
        (report.itemsWithoutRow > sample.itemsWithoutRow.length ? ', …' : ''),
    );
  }
  return lines;
}
