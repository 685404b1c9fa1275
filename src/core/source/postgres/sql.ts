/** Identifiers and casts in the SQL the source adapter builds (values are always parameters, I12). */
import { enumTypeName } from '../../canonical';
import type { SourceColumn } from './catalog';

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Types whose name without a length casts to length 1: `'AB-01'::character` is `'A'` and `B'101'::bit` is `B'1'`,
 * so a key of such a type matched no row, or the wrong one. Their unbounded forms keep every value.
 */
const UNBOUNDED_CAST: Readonly<Record<string, string>> = { character: 'bpchar', bit: 'varbit' };

/** A type name usable in a cast, for key columns (any scalar type, enums included). */
export function castTypeOf(col: SourceColumn): string {
  if (col.dataType === 'ARRAY') throw new Error(`key column "${col.name}" is an array: keys must be scalar`);
  if (col.enum) return enumTypeName(col.enum);
  if (col.dataType === 'USER-DEFINED') return quoteIdent(col.udtName);
  return UNBOUNDED_CAST[col.dataType] ?? col.dataType;
}
