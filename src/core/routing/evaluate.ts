import type { CanonicalValue } from '../canonical';
import type { Node } from './ast';
import { RouteInputError } from './errors';
import { routeHash } from './hash';

/*
 * Null semantics are SQL's three-valued logic. A comparison, in, % or hash() with a null operand is unknown
 * (null); `not unknown` is unknown; `false and unknown` is false, `true or unknown` is true, otherwise and/or
 * with an unknown operand are unknown. `is null` / `is not null` are always true or false. A route takes a row
 * only when its condition is true, so an unknown condition does not match: `status != 'ARCHIVED'` does not
 * match a row whose status is null (write `status is null or status != 'ARCHIVED'` for that).
 */

/** Looks up a column's canonical value; throws RouteInputError when the values lack it. */
export type ValueLookup = (column: string) => CanonicalValue;

export function lookupIn(values: Readonly<Record<string, CanonicalValue | undefined>>): ValueLookup {
  return (column) => {
    const value = values[column];
    if (value === undefined) throw new RouteInputError(column);
    return value;
  };
}

/**
 * Evaluates a (type-checked) condition tree over one row's values: true, false or null (unknown). `hashOf`
 * replaces hash(column) for the reachability analysis, which enumerates buckets rather than values.
 */
export function evaluate(
  node: Node,
  lookup: ValueLookup,
  hashOf: (column: string) => CanonicalValue = (column) => routeHash(lookup(column)),
): CanonicalValue {
  const recurse = (n: Node): CanonicalValue => evaluate(n, lookup, hashOf);
  switch (node.type) {
    case 'literal':
      return node.value;
    case 'column':
      return lookup(node.name);
    case 'hash':
      return hashOf(node.column.name);
    case 'mod': {
      const value = recurse(node.operand);
      if (typeof value !== 'number') return null;
      return ((value % node.divisor) + node.divisor) % node.divisor;
    }
    case 'compare':
      return compare(node.op, recurse(node.left), recurse(node.right));
    case 'in': {
      const value = recurse(node.operand);
      if (value === null || typeof value === 'object') return null;
      let unknown = false;
      for (const candidate of node.values) {
        if (candidate.value === null) unknown = true;
        else if (candidate.value === value) return !node.negated;
      }
      return unknown ? null : node.negated;
    }
    case 'isNull':
      return (recurse(node.operand) === null) !== node.negated;
    case 'not': {
      const value = recurse(node.operand);
      return typeof value === 'boolean' ? !value : null;
    }
    case 'and': {
      const left = truth(recurse(node.left));
      if (left === false) return false;
      const right = truth(recurse(node.right));
      if (right === false) return false;
      return left === true && right === true ? true : null;
    }
    case 'or': {
      const left = truth(recurse(node.left));
      if (left === true) return true;
      const right = truth(recurse(node.right));
      if (right === true) return true;
      return left === false && right === false ? false : null;
    }
  }
}

function truth(value: CanonicalValue): boolean | null {
  return typeof value === 'boolean' ? value : null;
}

/**
 * Strings compare by UTF-16 code units (for ASCII: byte order, as Postgres COLLATE "C"), numbers numerically,
 * booleans false < true. Values of different types, and multi-valued columns, compare as unknown: the
 * type check in compile.ts refuses such conditions before they run.
 */
function compare(op: string, left: CanonicalValue, right: CanonicalValue): boolean | null {
  if (left === null || right === null) return null;
  if (typeof left !== typeof right || typeof left === 'object' || typeof right === 'object') return null;
  const l = left as string | number | boolean;
  const r = right as string | number | boolean;
  switch (op) {
    case '==':
      return l === r;
    case '!=':
      return l !== r;
    case '<':
      return l < r;
    case '<=':
      return l <= r;
    case '>':
      return l > r;
    default:
      return l >= r;
  }
}
