import type { Node } from './ast';

const BARE_COLUMN = /^[\p{L}_][\p{L}\p{N}_$]*$/u;
const SURROGATE = /[\uD800-\uDFFF]/;
const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'null', 'true', 'false']);

/**
 * A condition tree back as text that parses to the same tree: compound operands are parenthesised, strings and
 * odd column names quoted. Also the normal form that finds two routes with the same condition.
 */
export function printCondition(node: Node): string {
  switch (node.type) {
    case 'literal':
      if (node.value === null) return 'null';
      if (typeof node.value === 'string') return `'${node.value.replace(/'/g, "''")}'`;
      return String(node.value);
    case 'column':
      // The tokenizer reads one UTF-16 unit at a time: a letter beyond U+FFFF is only readable quoted.
      return BARE_COLUMN.test(node.name) &&
        !SURROGATE.test(node.name) &&
        !KEYWORDS.has(node.name.toLowerCase())
        ? node.name
        : `"${node.name.replace(/"/g, '""')}"`;
    case 'hash':
      return `hash(${printCondition(node.column)})`;
    case 'mod':
      return `${operand(node.operand)} % ${node.divisor}`;
    case 'compare':
      return `${operand(node.left)} ${node.op} ${operand(node.right)}`;
    case 'in':
      return `${operand(node.operand)} ${node.negated ? 'not in' : 'in'} (${node.values.map(printCondition).join(', ')})`;
    case 'isNull':
      return `${operand(node.operand)} is ${node.negated ? 'not null' : 'null'}`;
    case 'not':
      return `not ${operand(node.operand)}`;
    case 'and':
    case 'or':
      return `${operand(node.left)} ${node.type} ${operand(node.right)}`;
  }
}

function operand(node: Node): string {
  switch (node.type) {
    case 'literal':
    case 'column':
    case 'hash':
      return printCondition(node);
    default:
      return `(${printCondition(node)})`;
  }
}
