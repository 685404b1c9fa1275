import type { Pool } from 'pg';
import type { SyncDefinition } from '../definition/schema';
import { readSourceColumns } from '../definition/validateLive';
import { getDefinition } from '../store/definitions';

export interface MappedFieldRecord {
  source: string;
  target: string;
  direction: string;
  /** The Postgres column's type, or null when the column is missing. */
  sourceType: string | null;
  transform: unknown;
  /** The pull pipeline (SharePoint → Postgres), or null. */
  pullTransform: unknown;
  /** Part of the key: push-only whatever the mapping says. */
  key: boolean;
}

export interface DefinitionDetail {
  name: string;
  definition: SyncDefinition;
  fields: MappedFieldRecord[];
  /** The list the ledger was built on (null before the first run). */
  listId: string | null;
}

/** A definition as saved, with its mapping resolved against the source table (the console's definition page). */
export async function definitionDetail(
  meta: Pool,
  sourcePool: (connection: string) => Pool,
  name: string,
): Promise<DefinitionDetail> {
  const stored = await getDefinition(meta, name);
  const def = stored.definition;
  const columns = await readSourceColumns(
    sourcePool(def.source.connection),
    def.source.schema,
    def.source.table,
  );
  const typeOf = new Map((columns ?? []).map((c) => [c.name, c.dataType]));
  return {
    name,
    definition: def,
    listId: stored.listId,
    fields: def.fields.map((f) => ({
      source: f.source,
      target: f.target,
      direction: f.direction,
      sourceType: typeOf.get(f.source) ?? null,
      transform: f.transform ?? null,
      pullTransform: f.pullTransform ?? null,
      key: def.source.key.includes(f.source),
    })),
  };
}
