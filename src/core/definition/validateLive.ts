import { SHAREPOINT_SYSTEM_FIELDS } from '../canonical';
import type { Pool } from 'pg';
import type { SyncDefinition } from './schema';

/** SharePoint columns push never writes, whatever a mapping says (I9): one list, kept in the canonical module. */
export const SYSTEM_FIELD_NAMES: ReadonlySet<string> = SHAREPOINT_SYSTEM_FIELDS;

export interface LiveProblem {
  definition: string;
  path: string;
  message: string;
}

export interface LiveValidationReport {
  errors: LiveProblem[];
  warnings: LiveProblem[];
}

export interface SourceColumn {
  name: string;
  dataType: string;
  udtName: string;
  isNullable: boolean;
  numericScale: number | null;
  /** The database fills it when an INSERT leaves it out (a default, serial or identity column). */
  hasDefault?: boolean;
}

const TIMESTAMP_TYPES = new Set(['timestamp with time zone', 'timestamp without time zone']);

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export async function readSourceColumns(
  pool: Pool,
  schema: string,
  table: string,
): Promise<SourceColumn[] | null> {
  const rel = await pool.query(
    `SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
    [schema, table],
  );
  if (rel.rowCount === 0) return null;
  const { rows } = await pool.query<{
    column_name: string;
    data_type: string;
    udt_name: string;
    is_nullable: string;
    numeric_scale: number | null;
    has_default: boolean;
  }>(
    `SELECT column_name, data_type, udt_name, is_nullable, numeric_scale,
            (column_default IS NOT NULL OR is_identity = 'YES' OR is_generated = 'ALWAYS') AS has_default
       FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
    [schema, table],
  );
  return rows.map((r) => ({
    name: r.column_name,
    dataType: r.data_type,
    udtName: r.udt_name,
    isNullable: r.is_nullable === 'YES',
    numericScale: r.numeric_scale,
    hasDefault: r.has_default,
  }));
}

/** True when some index on the table has `column` as its leading column. */
async function hasLeadingIndex(pool: Pool, schema: string, table: string, column: string): Promise<boolean> {
  const { rowCount } = await pool.query(
    `SELECT 1 FROM pg_index i
       JOIN pg_class t ON t.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]
      WHERE n.nspname = $1 AND t.relname = $2 AND a.attname = $3`,
    [schema, table, column],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * True when two targets name the same list before resolution. SharePoint resolves site paths and list
 * names case-insensitively, so `P1` and `p1` are one list; a run also compares resolved list ids.
 */
export function sameListName(
  a: Pick<SyncDefinition['target'], 'site' | 'list'>,
  b: Pick<SyncDefinition['target'], 'site' | 'list'>,
): boolean {
  return (
    a.site.toLowerCase() === b.site.toLowerCase() &&
    a.list.trim().toLowerCase() === b.list.trim().toLowerCase()
  );
}

/**
 * The second check of a definition, against the live source database: everything the schema alone
 * cannot know. `others` are the definitions already saved (to find two definitions writing one list).
 */
export async function validateAgainstDatabase(
  def: SyncDefinition,
  sourcePool: Pool,
  others: SyncDefinition[] = [],
): Promise<LiveValidationReport> {
  const errors: LiveProblem[] = [];
  const warnings: LiveProblem[] = [];
  const err = (path: string, message: string) => errors.push({ definition: def.name, path, message });
  const warn = (path: string, message: string) => warnings.push({ definition: def.name, path, message });
  const { schema, table } = def.source;
  const qualified = `${schema}.${table}`;

  const columns = await readSourceColumns(sourcePool, schema, table);
  if (!columns) {
    err('source.table', `table or view "${qualified}" does not exist in the source database`);
  } else {
    const byName = new Map(columns.map((c) => [c.name, c]));
    def.source.key.forEach((k, i) => {
      if (!byName.has(k)) err(`source.key[${i}]`, `key column "${k}" does not exist in "${qualified}"`);
    });
    def.fields.forEach((f, i) => {
      if (!byName.has(f.source))
        err(`fields[${i}].source`, `mapped column "${f.source}" does not exist in "${qualified}"`);
    });
    const cursorCol = byName.get(def.source.cursor.column);
    if (!cursorCol) {
      err(
        'source.cursor.column',
        `cursor column "${def.source.cursor.column}" does not exist in "${qualified}"`,
      );
    } else if (!TIMESTAMP_TYPES.has(cursorCol.dataType)) {
      err(
        'source.cursor.column',
        `cursor column "${cursorCol.name}" is ${cursorCol.dataType}, not a timestamp type (timestamptz or timestamp)`,
      );
    } else {
      if (cursorCol.isNullable) {
        warn(
          'source.cursor.column',
          `cursor column "${cursorCol.name}" allows NULL; rows with a NULL cursor are never pushed. Make it NOT NULL ` +
            `with a default: ALTER TABLE ${quoteIdent(schema)}.${quoteIdent(table)} ALTER COLUMN ${quoteIdent(cursorCol.name)} ` +
            'SET DEFAULT now(), ALTER COLUMN ' +
            `${quoteIdent(cursorCol.name)} SET NOT NULL;`,
        );
      }
    }
    if (
      cursorCol &&
      TIMESTAMP_TYPES.has(cursorCol.dataType) &&
      !(await hasLeadingIndex(sourcePool, schema, table, cursorCol.name))
    ) {
      const cols = [cursorCol.name, ...def.source.key].map(quoteIdent).join(', ');
      warn(
        'source.cursor.column',
        `cursor column "${cursorCol.name}" has no index; incremental reads will scan the table. Add one: ` +
          `CREATE INDEX ON ${quoteIdent(schema)}.${quoteIdent(table)} (${cols});`,
      );
    }
    if (def.deletes.pull === 'SOFT' && def.deletes.pullSoftColumn) {
      const soft = byName.get(def.deletes.pullSoftColumn);
      if (!soft)
        err(
          'deletes.pullSoftColumn',
          `column "${def.deletes.pullSoftColumn}" does not exist in "${qualified}"`,
        );
      else if (soft.dataType !== 'boolean')
        err('deletes.pullSoftColumn', `column "${soft.name}" is ${soft.dataType}, not boolean`);
    }
  }

  def.fields.forEach((f, i) => {
    if (SYSTEM_FIELD_NAMES.has(f.target) && f.direction !== 'PULL_ONLY') {
      warn(
        `fields[${i}].target`,
        `"${f.target}" is a SharePoint system field: it will be treated as PULL_ONLY and never written`,
      );
    }
  });

  for (const other of others) {
    if (other.name === def.name) continue;
    if (sameListName(other.target, def.target)) {
      err(
        'target.list',
        `list "${def.target.list}" on "${def.target.site}" is already the target of definition "${other.name}"` +
          (other.target.list === def.target.list ? '' : ` (as "${other.target.list}")`),
      );
    }
  }
  return { errors, warnings };
}
