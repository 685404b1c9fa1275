/**
 * The syntax tree of a route condition. Every node carries `pos`, the 0-based offset in the condition text where
 * it starts, so errors found after parsing (unknown columns, type mismatches) can still point at the text.
 */

export type LiteralValue = string | number | boolean | null;

export type ComparisonOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

export type Node =
  | { type: 'literal'; value: LiteralValue; pos: number }
  | { type: 'column'; name: string; pos: number }
  | { type: 'hash'; column: ColumnNode; pos: number }
  | { type: 'mod'; operand: Node; divisor: number; pos: number }
  | { type: 'compare'; op: ComparisonOp; left: Node; right: Node; pos: number }
  | { type: 'in'; operand: Node; values: LiteralNode[]; negated: boolean; pos: number }
  | { type: 'isNull'; operand: Node; negated: boolean; pos: number }
  | { type: 'not'; operand: Node; pos: number }
  | { type: 'and' | 'or'; left: Node; right: Node; pos: number };

export type LiteralNode = Extract<Node, { type: 'literal' }>;
export type ColumnNode = Extract<Node, { type: 'column' }>;

/** A condition node that is not a boolean connective: what `forEachPredicate` hands out. */
export type PredicateNode = Exclude<Node, { type: 'not' | 'and' | 'or' }>;

/**
 * Calls `fn` for each predicate under a condition's not/and/or structure, left to right. Analyses that
 * only look at what is compared (not at how the comparisons combine) walk a condition with this.
 */
export function forEachPredicate(node: Node, fn: (predicate: PredicateNode) => void): void {
  switch (node.type) {
    case 'not':
      forEachPredicate(node.operand, fn);
      return;
    case 'and':
    case 'or':
      forEachPredicate(node.left, fn);
      forEachPredicate(node.right, fn);
      return;
    default:
      fn(node);
  }
}

/** Every column a condition reads, in order of first appearance, with where it first appears. */
export function columnsOf(node: Node): ColumnNode[] {
  const seen = new Map<string, ColumnNode>();
  const visit = (n: Node): void => {
    switch (n.type) {
      case 'column':
        if (!seen.has(n.name)) seen.set(n.name, n);
        return;
      case 'hash':
        visit(n.column);
        return;
      case 'mod':
      case 'not':
      case 'isNull':
      case 'in':
        visit(n.operand);
        return;
      case 'compare':
      case 'and':
      case 'or':
        visit(n.left);
        visit(n.right);
        return;
      case 'literal':
        return;
    }
  };
  visit(node);
  return [...seen.values()];
}
