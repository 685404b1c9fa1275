import type { Pool } from 'pg';
import { UnknownDefinitionError } from '../store/definitions';

/** The id of a definition by name; UnknownDefinitionError when there is none. */
export async function definitionIdByName(meta: Pool, name: string): Promise<string> {
  const { rows } = await meta.query<{ id: string }>(
    'SELECT id::text AS id FROM arcore.sync_definitions WHERE name = $1',
    [name],
  );
  if (rows.length === 0) throw new UnknownDefinitionError(name);
  return rows[0].id;
}
