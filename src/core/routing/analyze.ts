import type { CanonicalValue } from '../canonical';
import { forEachPredicate, type Node, type PredicateNode } from './ast';
import type { CompiledRoutes } from './compile';
import { evaluate } from './evaluate';
import { printCondition } from './print';

export interface RouteFinding {
  /** Index into the routes; the JSON path is `target.routes[route].when`. */
  route: number;
  severity: 'error' | 'warning';
  message: string;
}

/** Above this many value combinations the reachability check is skipped (duplicates are still found). */
const MAX_COMBINATIONS = 20_000;
/** Largest bucket count (least common multiple of the % divisors of one hash) the check enumerates. */
const MAX_BUCKETS = 1024;

/*
 * Finds routes that can never match. Every condition compares columns (or hash buckets) with constants, so the
 * values of a column fall into regions between those constants where every comparison has the same outcome.
 * Trying one value per region (and null) for every column tries every outcome a row can have; a route no such
 * combination reaches can never match. The representatives over-approximate what rows can hold (a
 * representative of an empty region of an integer column is a fraction; a hash bucket is tried with any value
 * of its column), so this finds "can match" too often, never "never matches" wrongly. Where regions are not
 * enough (a column compared with a column, % of a column), only duplicate conditions are reported.
 */
export function analyzeRoutes(compiled: CompiledRoutes): RouteFinding[] {
  const findings: RouteFinding[] = [];
  const { routes } = compiled;
  const seen = new Map<string, number>();
  const duplicate = new Set<number>();
  routes.forEach((r, i) => {
    if (r.condition === null) return;
    const normal = printCondition(r.condition);
    const prior = seen.get(normal);
    if (prior === undefined) seen.set(normal, i);
    else {
      duplicate.add(i);
      findings.push({
        route: i,
        severity: 'error',
        message: `repeats the condition of routes[${prior}], which takes every row it matches: this route never matches`,
      });
    }
  });

  const space = buildSpace(routes.map((r) => r.condition).filter((c): c is Node => c !== null));
  if (space === null) return findings;

  const everTrue = routes.map(() => false);
  const reached = routes.map(() => false);
  let defaultReached = false;
  for (const assignment of combinations(space)) {
    const lookup = (column: string): CanonicalValue => assignment.get(column) ?? null;
    const hashOf = (column: string): CanonicalValue => assignment.get(hashKey(column)) ?? null;
    let taken = false;
    routes.forEach((r, i) => {
      const matches = r.condition === null || evaluate(r.condition, lookup, hashOf) === true;
      if (!matches) return;
      everTrue[i] = true;
      if (!taken) {
        reached[i] = true;
        if (r.condition === null) defaultReached = true;
        taken = true;
      }
    });
  }
  routes.forEach((r, i) => {
    if (r.condition === null || duplicate.has(i) || reached[i]) return;
    findings.push({
      route: i,
      severity: 'error',
      message: everTrue[i]
        ? 'never matches: every row it matches is taken by an earlier route'
        : 'never matches: the condition is never true (it contradicts itself)',
    });
  });
  const last = routes[routes.length - 1];
  if (last !== undefined && last.condition === null && !defaultReached) {
    findings.push({
      route: routes.length - 1,
      severity: 'warning',
      message: 'the default route is never used: every row matches an earlier route',
    });
  }
  return findings.sort((a, b) => a.route - b.route);
}

const hashKey = (column: string): string => `hash\u0000${column}`;

interface Variable {
  key: string;
  kind: 'number' | 'text' | 'boolean' | 'list' | 'buckets';
  constants: CanonicalValue[];
  divisors: number[];
}

/** The variables the conditions read and the constants they compare them with; null when regions do not suffice. */
function buildSpace(conditions: Node[]): Map<string, CanonicalValue[]> | null {
  const variables = new Map<string, Variable>();
  let exact = true;
  const variable = (key: string): Variable => {
    let v = variables.get(key);
    if (!v) variables.set(key, (v = { key, kind: 'list', constants: [], divisors: [] }));
    return v;
  };
  /** The variable an operand reads, registering its constants; null when the operand is not one we model. */
  const operandVariable = (n: Node): Variable | null => {
    if (n.type === 'column') return variable(n.name);
    if (n.type === 'hash') {
      const v = variable(hashKey(n.column.name));
      v.kind = 'buckets';
      return v;
    }
    if (n.type === 'mod' && n.operand.type === 'hash') {
      const v = operandVariable(n.operand) as Variable;
      v.divisors.push(n.divisor);
      return v;
    }
    return null;
  };
  const note = (operand: Node, literal: CanonicalValue): void => {
    const v = operandVariable(operand);
    if (!v) {
      exact = false;
      return;
    }
    if (v.kind !== 'buckets' && literal !== null)
      v.kind = typeof literal === 'string' ? 'text' : typeof literal === 'number' ? 'number' : 'boolean';
    if (operand.type !== 'mod') v.constants.push(literal);
  };
  const predicate = (n: PredicateNode): void => {
    switch (n.type) {
      case 'compare':
        if (n.left.type === 'literal' && n.right.type === 'literal') return;
        if (n.right.type === 'literal') note(n.left, n.right.value);
        else if (n.left.type === 'literal') note(n.right, n.left.value);
        else exact = false;
        return;
      case 'in':
        if (n.operand.type !== 'literal') for (const v of n.values) note(n.operand, v.value);
        return;
      case 'isNull':
        if (n.operand.type !== 'literal' && !operandVariable(n.operand)) exact = false;
        return;
      case 'literal':
        return;
      case 'column':
        // A boolean column used as a condition.
        variable(n.name).kind = 'boolean';
        return;
      default:
        exact = false;
    }
  };
  for (const c of conditions) forEachPredicate(c, predicate);
  if (!exact) return null;
  const space = new Map<string, CanonicalValue[]>();
  let size = 1;
  for (const v of variables.values()) {
    const values = representatives(v);
    if (values === null) return null;
    size *= values.length;
    if (size > MAX_COMBINATIONS) return null;
    space.set(v.key, values);
  }
  return space;
}

/** One value per region between the constants, each constant, and null. */
function representatives(v: Variable): CanonicalValue[] | null {
  switch (v.kind) {
    case 'boolean':
      return [true, false, null];
    case 'list':
      return [['x'], null];
    case 'text': {
      const constants = [...new Set(v.constants.filter((c): c is string => typeof c === 'string'))].sort();
      // '\u0000' sorts before any other text and c + '\u0000' right after c, so between c and the next constant.
      return [...new Set(['\u0000', ...constants, ...constants.map((c) => `${c}\u0000`)]), null];
    }
    case 'number':
      return [...numberRegions(v.constants), null];
    case 'buckets': {
      if (v.divisors.length > 0 && v.constants.length > 0) return null;
      if (v.divisors.length === 0) return [...numberRegions(v.constants), null];
      const buckets = v.divisors.reduce(lcm, 1);
      if (buckets > MAX_BUCKETS) return null;
      return [...Array.from({ length: buckets }, (_, i) => i), null];
    }
  }
}

function numberRegions(constants: CanonicalValue[]): number[] {
  const sorted = [...new Set(constants.filter((c): c is number => typeof c === 'number'))].sort(
    (a, b) => a - b,
  );
  if (sorted.length === 0) return [0];
  const out = [sorted[0] - 1];
  sorted.forEach((c, i) => {
    out.push(c);
    if (i + 1 < sorted.length) out.push((c + sorted[i + 1]) / 2);
  });
  out.push(sorted[sorted.length - 1] + 1);
  return out;
}

function lcm(a: number, b: number): number {
  const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
  return (a / gcd(a, b)) * b;
}

function* combinations(space: Map<string, CanonicalValue[]>): Generator<Map<string, CanonicalValue>> {
  const keys = [...space.keys()];
  const current = new Map<string, CanonicalValue>();
  function* fill(i: number): Generator<Map<string, CanonicalValue>> {
    if (i === keys.length) {
      yield current;
      return;
    }
    for (const value of space.get(keys[i]) as CanonicalValue[]) {
      current.set(keys[i], value);
      yield* fill(i + 1);
    }
  }
  yield* fill(0);
}
