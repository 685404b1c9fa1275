import { fieldKindFor, UnsupportedMappingError } from '../canonical';
import { applyTransforms } from '../engine/transform';
import {
  analyzeRoutes,
  compileRoutes,
  forEachPredicate,
  InvalidRoutesError,
  type Node,
  type RouteColumn,
} from '../routing';
import type { SourceColumn } from '../source/postgres/catalog';
import type { SyncDefinition } from './schema';

type Report = (path: string, message: string) => void;

/**
 * The routes of a definition against its live table: each condition's types against the kinds of the columns it
 * reads, then the routes that can never match. The schema already refused syntax errors and unmapped columns.
 * Kinds come from the Postgres column alone here; a run decides them with the SharePoint column too (a
 * timestamp mapped to a date-only column compares as a date there).
 */
export function checkRoutesAgainstTable(
  def: SyncDefinition,
  byName: ReadonlyMap<string, SourceColumn>,
  err: Report,
  warn: Report,
): void {
  const routes = def.target.routes;
  if (!routes) return;
  const columns: RouteColumn[] = [];
  const readable: { source: string; target?: string }[] = [
    ...def.fields,
    ...def.source.key.map((k) => ({ source: k })),
  ];
  for (const c of readable) {
    const pg = byName.get(c.source);
    // A mapped column missing from the table, or of a type that cannot sync, is reported on its field or key.
    if (!pg) return;
    try {
      columns.push({ ...c, kind: fieldKindFor(pg, undefined) });
    } catch (e) {
      if (!(e instanceof UnsupportedMappingError)) throw e;
      return;
    }
  }
  let compiled;
  try {
    compiled = compileRoutes(routes, columns);
  } catch (e) {
    if (!(e instanceof InvalidRoutesError)) throw e;
    for (const p of e.problems) err(`target.routes[${p.route}].${p.part}`, p.message);
    return;
  }
  for (const f of analyzeRoutes(compiled)) {
    (f.severity === 'error' ? err : warn)(`target.routes[${f.route}].when`, f.message);
  }
  compiled.routes.forEach((route, i) => {
    if (route.condition === null) return;
    for (const message of transformedAway(route.condition, def.fields))
      warn(`target.routes[${i}].when`, message);
  });
}

/**
 * Conditions read a column's value after its field's transforms, so a constant the transforms would change
 * (`status == 'ACTIVE'` with `lowercase`) is never equal to it.
 */
function transformedAway(condition: Node, fields: SyncDefinition['fields']): string[] {
  const out: string[] = [];
  const check = (column: Node, literal: Node): void => {
    if (column.type !== 'column' || literal.type !== 'literal' || typeof literal.value !== 'string') return;
    const steps = fields.find((f) => f.source === column.name)?.transform;
    if (!steps) return;
    const transformed = applyTransforms(steps, literal.value);
    if (transformed === literal.value) return;
    out.push(
      `"${column.name}" is read after its transforms (${typeof steps === 'string' ? steps : steps.join(' | ')}), so it never equals ` +
        `'${literal.value}'` +
        (typeof transformed === 'string' && transformed !== '' ? `: write '${transformed}'` : ''),
    );
  };
  forEachPredicate(condition, (n) => {
    if (n.type === 'compare' && (n.op === '==' || n.op === '!=')) {
      check(n.left, n.right);
      check(n.right, n.left);
    } else if (n.type === 'in') for (const v of n.values) check(n.operand, v);
  });
  return out;
}
