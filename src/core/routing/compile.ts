import {
  CanonicalValueError,
  toCanonical,
  type CanonicalRecord,
  type CanonicalValue,
  type FieldKind,
} from '../canonical';
import type { LiteralNode, Node } from './ast';
import { RouteConditionError } from './errors';
import { evaluate, lookupIn } from './evaluate';
import { parseCondition } from './parse';

/** One route as a definition writes it: `when` absent on the final, default route. */
export interface Route {
  when?: string;
  list: string;
}

/**
 * A column a condition may read: a mapped source column (`fields[].source`) with the SharePoint field it maps to
 * (`fields[].target`), or a key column (`source.key`) that no field maps (no target), and the kind its canonical
 * values have. Where several fields map one source column, the first of them in `fields` order is the one
 * routes read (its value after that field's transforms).
 */
export interface RouteColumn {
  source: string;
  target?: string;
  kind: FieldKind;
}

export interface RouteProblem {
  /** Index into the routes; the JSON path is `target.routes[index].when` (or `.list`). */
  route: number;
  /** The part of the route at fault. */
  part: 'when' | 'list';
  message: string;
}

export class InvalidRoutesError extends Error {
  readonly errorKind = 'invalid_definition' as const;

  constructor(readonly problems: RouteProblem[]) {
    super(
      `invalid routes:\n` +
        problems.map((p) => `  - target.routes[${p.route}].${p.part}: ${p.message}`).join('\n'),
    );
    this.name = 'InvalidRoutesError';
  }
}

export interface CompiledRoute {
  /** The condition as written, or null for the default route. */
  when: string | null;
  /** The type-checked tree with literals in canonical form; null for the default route. */
  condition: Node | null;
  /** Index into `lists`. */
  list: number;
}

export interface CompiledRoutes {
  /** Every list a row can be routed to, in order of first appearance, each once. */
  lists: string[];
  routes: CompiledRoute[];
  /**
   * The list index of the first route whose condition is true for the row, or null when none is (the row is
   * `unrouted`). `values` are canonical values (I2, after the field's transforms) keyed by source column name;
   * a key column no field maps has the canonical value of its key kind (toCanonical(keyKind, value)).
   */
  routeOf(values: Readonly<Record<string, CanonicalValue>>): number | null;
  /**
   * As routeOf, for a canonical record keyed by SharePoint field name (what the engine hashes). Key columns no
   * field maps are not in such a record: `keys` gives their canonical values by source column name.
   */
  routeOfRecord(
    record: Readonly<CanonicalRecord>,
    keys?: Readonly<Record<string, CanonicalValue>>,
  ): number | null;
}

type ValueType = 'text' | 'number' | 'boolean' | 'list' | 'null';

const TYPE_OF_KIND: Record<FieldKind, ValueType> = {
  text: 'text',
  note: 'text',
  choice: 'text',
  uuid: 'text',
  json: 'text',
  dateTime: 'text',
  dateOnly: 'text',
  number: 'number',
  integer: 'number',
  lookupId: 'number',
  boolean: 'boolean',
  multiChoice: 'list',
  multiLookupId: 'list',
};

const TYPE_NAMES: Record<ValueType, string> = {
  text: 'text',
  number: 'a number',
  boolean: 'a boolean',
  list: 'a multi-valued column',
  null: 'null',
};

/**
 * Parses and type-checks every route. Throws InvalidRoutesError listing every syntax error, unknown column and
 * type mismatch with its route; rules that are well formed but can never match are found by analyzeRoutes.
 */
export function compileRoutes(routes: readonly Route[], columns: readonly RouteColumn[]): CompiledRoutes {
  const problems: RouteProblem[] = [];
  const { lists, listOf } = collectLists(routes, problems);
  const bySource = new Map<string, RouteColumn>();
  for (const c of columns) if (!bySource.has(c.source)) bySource.set(c.source, c);
  const compiled: CompiledRoute[] = routes.map((route, index) => {
    if (route.when === undefined) {
      if (index !== routes.length - 1)
        problems.push({
          route: index,
          part: 'when',
          message:
            'only the last route may omit when (it is the default); the routes after it could never match',
        });
      return { when: null, condition: null, list: listOf[index] };
    }
    try {
      return { when: route.when, condition: checkCondition(route.when, bySource), list: listOf[index] };
    } catch (err) {
      if (!(err instanceof RouteConditionError)) throw err;
      problems.push({ route: index, part: 'when', message: err.message });
      return { when: route.when, condition: null, list: listOf[index] };
    }
  });
  if (problems.length > 0) throw new InvalidRoutesError(problems.sort((a, b) => a.route - b.route));
  const routeOf = (values: Readonly<Record<string, CanonicalValue>>): number | null => {
    const lookup = lookupIn(values);
    for (const r of compiled) {
      if (r.condition === null || evaluate(r.condition, lookup) === true) return r.list;
    }
    return null;
  };
  const routeOfRecord = (
    record: Readonly<CanonicalRecord>,
    keys: Readonly<Record<string, CanonicalValue>> = {},
  ): number | null => {
    const values: Record<string, CanonicalValue> = { ...keys };
    for (const c of bySource.values()) {
      const value = c.target === undefined ? undefined : record[c.target];
      if (value !== undefined) values[c.source] = value;
    }
    return routeOf(values);
  };
  return { lists, routes: compiled, routeOf, routeOfRecord };
}

/**
 * The columns routes may read, from what a run knows: its mapped fields (the first field of each source column)
 * and the kinds of the key columns (`FieldPlan.fields` and `FieldPlan.keyKinds` in engine/plan.ts). A key
 * column without a kind (a type not synced as a field) cannot be read by a condition.
 */
export function routeColumnsOf(
  fields: readonly { source: string; target: string; kind: FieldKind }[],
  keyKinds: Readonly<Record<string, FieldKind>>,
): RouteColumn[] {
  const columns: RouteColumn[] = [];
  const seen = new Set<string>();
  for (const f of fields) {
    if (seen.has(f.source)) continue;
    seen.add(f.source);
    columns.push({ source: f.source, target: f.target, kind: f.kind });
  }
  for (const [source, kind] of Object.entries(keyKinds)) {
    if (!seen.has(source)) columns.push({ source, kind });
  }
  return columns;
}

/** List names: one spelling per list, since SharePoint list names are case-insensitive. */
function collectLists(
  routes: readonly Route[],
  problems: RouteProblem[],
): { lists: string[]; listOf: number[] } {
  const lists: string[] = [];
  const indexByFolded = new Map<string, number>();
  const listOf = routes.map((route, index) => {
    const folded = route.list.toLowerCase();
    const known = indexByFolded.get(folded);
    if (known === undefined) {
      indexByFolded.set(folded, lists.length);
      lists.push(route.list);
      return lists.length - 1;
    }
    if (lists[known] !== route.list)
      problems.push({
        route: index,
        part: 'list',
        message: `"${route.list}" is list "${lists[known]}" written differently: spell a list the same way in every route`,
      });
    return known;
  });
  return { lists, listOf };
}

/** Parses a condition and checks its columns and types; returns the tree with literals in canonical form. */
export function checkCondition(text: string, columns: ReadonlyMap<string, RouteColumn>): Node {
  const fail = (problem: string, pos: number): never => {
    throw new RouteConditionError(problem, pos, text);
  };
  const columnOf = (name: string, pos: number): RouteColumn => {
    const column = columns.get(name);
    if (column) return column;
    return fail(unknownColumnProblem(name, [...columns.keys()]), pos);
  };
  const describe = (n: Node): string => {
    switch (n.type) {
      case 'column':
        return `column "${n.name}" (${columnOf(n.name, n.pos).kind})`;
      case 'literal':
        return n.value === null
          ? 'null'
          : typeof n.value === 'string'
            ? `the string '${n.value}'`
            : String(n.value);
      default:
        return 'the expression';
    }
  };
  /** A string literal compared with a text-like column, in the column's canonical form (uuid lowercase…). */
  const normalize = (literal: LiteralNode, against: Node): LiteralNode => {
    if (typeof literal.value !== 'string' || against.type !== 'column') return literal;
    const column = columnOf(against.name, against.pos);
    let value: CanonicalValue;
    try {
      value = toCanonical(column.kind, literal.value);
    } catch (err) {
      if (err instanceof CanonicalValueError)
        return fail(
          `'${literal.value}' is not a valid ${column.kind} value for column "${column.source}": ${err.reason}`,
          literal.pos,
        );
      throw err;
    }
    if (value === null)
      fail(
        `'${literal.value}' is stored as null in "${column.source}" (SharePoint keeps no empty text): write "${column.source} is null"`,
        literal.pos,
      );
    return { ...literal, value: value as string };
  };
  const requireComparable = (node: Node, type: ValueType): void => {
    if (type === 'list')
      fail(
        `${describe(node)} holds several values: a condition can test it only with is null or is not null`,
        node.pos,
      );
  };

  const check = (node: Node): { node: Node; type: ValueType } => {
    switch (node.type) {
      case 'literal':
        return { node, type: literalType(node.value) };
      case 'column':
        return { node, type: TYPE_OF_KIND[columnOf(node.name, node.pos).kind] };
      case 'hash':
        columnOf(node.column.name, node.column.pos);
        return { node, type: 'number' };
      case 'mod': {
        const inner = check(node.operand);
        if (inner.type !== 'number')
          fail(
            `"%" needs a number on its left (hash(column) or a numeric column), not ${describe(node.operand)}`,
            node.pos,
          );
        return { node: { ...node, operand: inner.node }, type: 'number' };
      }
      case 'compare': {
        let left = check(node.left);
        let right = check(node.right);
        if (left.type === 'null' || right.type === 'null')
          fail(
            `comparing with null is never true (it is unknown): write "is null" or "is not null"`,
            node.pos,
          );
        requireComparable(node.left, left.type);
        requireComparable(node.right, right.type);
        if (left.type !== right.type)
          fail(
            `${node.op} compares ${describe(node.left)}, which is ${TYPE_NAMES[left.type]}, with ${describe(node.right)}, which is ${TYPE_NAMES[right.type]}`,
            node.pos,
          );
        if (left.type === 'boolean' && node.op !== '==' && node.op !== '!=')
          fail(`booleans have no order: compare them with == or !=`, node.pos);
        if (left.node.type === 'literal') left = { ...left, node: normalize(left.node, right.node) };
        if (right.node.type === 'literal') right = { ...right, node: normalize(right.node, left.node) };
        return { node: { ...node, left: left.node, right: right.node }, type: 'boolean' };
      }
      case 'in': {
        const operand = check(node.operand);
        requireComparable(node.operand, operand.type);
        if (operand.type === 'null') fail('null in (…) is never true: write "is null"', node.pos);
        const values = node.values.map((v) => {
          if (v.value === null)
            fail(`null in the values of in never matches: write "… is null or … in (…)"`, v.pos);
          const type = check(v).type;
          if (type !== operand.type)
            fail(
              `in compares ${describe(node.operand)}, which is ${TYPE_NAMES[operand.type]}, with ${describe(v)}`,
              v.pos,
            );
          return normalize(v, operand.node);
        });
        return { node: { ...node, operand: operand.node, values }, type: 'boolean' };
      }
      case 'isNull':
        return { node: { ...node, operand: check(node.operand).node }, type: 'boolean' };
      case 'not': {
        const operand = check(node.operand);
        requireBoolean(node.operand, operand.type, 'not');
        return { node: { ...node, operand: operand.node }, type: 'boolean' };
      }
      case 'and':
      case 'or': {
        const left = check(node.left);
        const right = check(node.right);
        requireBoolean(node.left, left.type, node.type);
        requireBoolean(node.right, right.type, node.type);
        return { node: { ...node, left: left.node, right: right.node }, type: 'boolean' };
      }
    }
  };
  const requireBoolean = (node: Node, type: ValueType, context: string): void => {
    if (type !== 'boolean')
      fail(
        `${context} needs a condition (true or false) but ${describe(node)} is ${TYPE_NAMES[type]}`,
        node.pos,
      );
  };
  const tree = parseCondition(text);
  const root = check(tree);
  if (root.type !== 'boolean')
    fail(
      `a condition must be true or false, but ${describe(tree)} is ${TYPE_NAMES[root.type]}: compare it, e.g. ${printExample(tree)}`,
      tree.pos,
    );
  return root.node;
}

/** Why a condition cannot read `name`: it is not one of the mapped source columns `known`. */
export function unknownColumnProblem(name: string, known: readonly string[]): string {
  const other = known.find((n) => n.toLowerCase() === name.toLowerCase());
  return (
    `unknown column "${name}"` +
    (other
      ? ` (column names are case-sensitive: did you mean "${other}"?)`
      : `: conditions read mapped source columns (fields[].source) and key columns (source.key): ${known.map((n) => `"${n}"`).join(', ')}`)
  );
}

function literalType(value: LiteralNode['value']): ValueType {
  if (value === null) return 'null';
  if (typeof value === 'string') return 'text';
  return typeof value === 'number' ? 'number' : 'boolean';
}

function printExample(node: Node): string {
  return node.type === 'column' ? `${node.name} == …` : '… == …';
}
