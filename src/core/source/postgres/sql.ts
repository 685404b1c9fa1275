/** Identifiers and casts in the SQL the source adapter builds (values are always parameters, I12). */
import { enumTypeName } from '../../canonical';
import type { SourceColumn } from './catalog';

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A type name usable in a cast, for key columns (any scalar type, enums included). */
export function castTypeOf(col: SourceColumn): string {
  if (col.dataType === 'ARRAY') throw new Error(`key column "${col.name}" is an array: keys must be scalar`);
  if (col.enum) return enumTypeName(col.enum);
  if (col.dataType === 'USER-DEFINED') return quoteIdent(col.udtName);
  return col.dataType;
}
