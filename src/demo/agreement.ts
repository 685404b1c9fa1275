import type { Pool } from 'pg';
import type { GraphListItem } from './graphAsUser';

/**
 * The demo's final check, written independently of the engine: every Postgres row and every SharePoint
 * item are paired one to one through the ledger, and each mapped field is compared by what it means
 * (numbers as numbers, dates as calendar days, multi-choice as sets).
 */

export interface FieldMismatch {
  rowId: string;
  itemId: string;
  field: string;
  postgres: unknown;
  sharepoint: unknown;
}

export interface AgreementReport {
  rows: number;
  items: number;
  paired: number;
  fieldsCompared: number;
  mismatches: FieldMismatch[];
  /** Row ids with no item (or whose ledger item does not exist). */
  rowsWithoutItem: string[];
  /** Item ids no row is paired with. */
  itemsWithoutRow: string[];
  agree: boolean;
}

interface ProjectRow {
  id: string;
  name: string;
  budget: string | null;
  due: string | null;
  status: string;
  tags: string[];
  owner: string | null;
}

type Normalised = string | number | null;

interface FieldCheck {
  column: keyof ProjectRow;
  target: string;
  fromPostgres(row: ProjectRow): Normalised;
  fromSharePoint(value: unknown): Normalised;
}

const text = (v: unknown): Normalised => (v === undefined || v === null || v === '' ? null : String(v));
const choiceSet = (v: unknown): Normalised =>
  Array.isArray(v) && v.length > 0 ? JSON.stringify(v.map(String).sort()) : null;

const CHECKS: FieldCheck[] = [
  { column: 'name', target: 'Title', fromPostgres: (r) => text(r.name), fromSharePoint: text },
  {
    column: 'budget',
    target: 'Budget',
    fromPostgres: (r) => (r.budget === null ? null : Number(r.budget)),
    fromSharePoint: (v) => (v === undefined || v === null ? null : Number(v)),
  },
  {
    column: 'due',
    target: 'DueDate',
    fromPostgres: (r) => r.due,
    // Date-only values are written at noon UTC, so whatever the site time zone the day is the first 10 characters.
    fromSharePoint: (v) => (typeof v === 'string' && v.length >= 10 ? v.slice(0, 10) : null),
  },
  { column: 'status', target: 'Status', fromPostgres: (r) => text(r.status), fromSharePoint: text },
  { column: 'tags', target: 'Tags', fromPostgres: (r) => choiceSet(r.tags), fromSharePoint: choiceSet },
  { column: 'owner', target: 'Owner', fromPostgres: (r) => text(r.owner), fromSharePoint: text },
];

export async function compareSides(
  pool: Pool,
  definitionName: string,
  items: GraphListItem[],
): Promise<AgreementReport> {
  const { rows } = await pool.query<ProjectRow>(
    `SELECT id::text AS id, name, budget::text AS budget, due::text AS due, status, tags, owner
       FROM public.projects ORDER BY id`,
  );
  const ledger = await pool.query<{ row_id: string; item_id: string }>(
    `SELECT l.source_identity->>'id' AS row_id, l.sp_item_id AS item_id
       FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
      WHERE d.name = $1 AND l.sp_item_id IS NOT NULL`,
    [definitionName],
  );
  const itemByRow = new Map(ledger.rows.map((r) => [r.row_id, r.item_id]));
  const itemsById = new Map(items.map((i) => [i.id, i]));
  const pairedItems = new Set<string>();
  const report: AgreementReport = {
    rows: rows.length,
    items: items.length,
    paired: 0,
    fieldsCompared: 0,
    mismatches: [],
    rowsWithoutItem: [],
    itemsWithoutRow: [],
    agree: false,
  };
  for (const row of rows) {
    const itemId = itemByRow.get(row.id);
    const item = itemId === undefined ? undefined : itemsById.get(itemId);
    if (itemId === undefined || item === undefined || pairedItems.has(itemId)) {
      report.rowsWithoutItem.push(row.id);
      continue;
    }
    pairedItems.add(itemId);
    report.paired += 1;
    for (const check of CHECKS) {
      const postgres = check.fromPostgres(row);
      const sharepoint = check.fromSharePoint(item.fields[check.target]);
      report.fieldsCompared += 1;
      if (postgres !== sharepoint) {
        report.mismatches.push({ rowId: row.id, itemId, field: check.column, postgres, sharepoint });
      }
    }
  }
  report.itemsWithoutRow = items.filter((i) => !pairedItems.has(i.id)).map((i) => i.id);
  report.agree =
    report.mismatches.length === 0 &&
    report.rowsWithoutItem.length === 0 &&
    report.itemsWithoutRow.length === 0;
  return report;
}

/** A few lines naming what disagrees (first mismatches, unpaired rows and items). */
export function describeDisagreement(report: AgreementReport, limit = 5): string[] {
  const lines: string[] = [];
  for (const m of report.mismatches.slice(0, limit)) {
    lines.push(
      `row ${m.rowId} / item ${m.itemId} ${m.field}: Postgres ${JSON.stringify(m.postgres)} ≠ SharePoint ${JSON.stringify(m.sharepoint)}`,
    );
  }
  if (report.mismatches.length > limit)
    lines.push(`… and ${report.mismatches.length - limit} more field mismatches`);
  if (report.rowsWithoutItem.length > 0) {
    lines.push(
      `rows without an item: ${report.rowsWithoutItem.slice(0, limit).join(', ')}${report.rowsWithoutItem.length > limit ? ', …' : ''}`,
    );
  }
  if (report.itemsWithoutRow.length > 0) {
    lines.push(
      `items without a row: ${report.itemsWithoutRow.slice(0, limit).join(', ')}${report.itemsWithoutRow.length > limit ? ', …' : ''}`,
    );
  }
  return lines;
}
