import { fieldKindFor, SHAREPOINT_SYSTEM_FIELDS, UnsupportedMappingError } from '../canonical';
import type { Pool } from 'pg';
import { readSourceTable, type SourceColumn, type SourceTableInfo } from '../source/postgres/catalog';
import {
  describeKey,
  findDuplicateKey,
  isUnindexable,
  keyFixDdl,
  keyIsCovered,
} from '../source/postgres/keys';
import { checkFieldPipelines } from '../transform/check';
import type { SyncDefinition } from './schema';
import { checkRoutesAgainstTable } from './validateRoutes';
import { isRouted, targetLists } from '../routing/lists';
import { checkLsnReadiness } from './validateLsn';
import { siteReferenceProblem } from './siteReference';
import { readSessionSettings, sessionSettingsProblems, type SessionSettings } from '../db/sessionSettings';
import {
  cursorTriggerLost,
  cursorTriggerLostMessage,
  cursorTriggerStampsUtc,
  NAIVE_TIMESTAMP,
} from '../source/postgres/cursorTrigger';

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
  /** The source session's date, interval and float output settings (every engine connection pins them). */
  session: SessionSettings;
}

export type { SourceColumn } from '../source/postgres/catalog';

const TIMESTAMP_TYPES = new Set(['timestamp with time zone', 'timestamp without time zone']);

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The columns of a table or view, domains resolved to their base type; null when it does not exist. */
export async function readSourceColumns(
  pool: Pool,
  schema: string,
  table: string,
): Promise<SourceColumn[] | null> {
  return (await readSourceTable(pool, schema, table))?.columns ?? null;
}

/**
 * I13: the key must identify one row. A table needs a primary key or unique index covering the key; a view
 * (no indexes) is scanned once here for a duplicate, and warned about, since nothing enforces it later.
 */
async function checkKeyIdentifies(
  def: SyncDefinition,
  pool: Pool,
  info: SourceTableInfo,
  err: (path: string, message: string) => void,
  warn: (path: string, message: string) => void,
): Promise<void> {
  const { schema, table, key } = def.source;
  const qualified = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  const keyText = `[${key.join(', ')}]`;
  if (!isUnindexable(info) && keyIsCovered(info, key)) return;
  const duplicate = await findDuplicateKey(pool, schema, table, key);
  const example = duplicate
    ? `${describeKey(duplicate.key)} occurs on ${duplicate.rows} rows`
    : 'no duplicate exists today';
  if (isUnindexable(info)) {
    if (duplicate)
      err('source.key', `key ${keyText} does not identify one row of view ${qualified}: ${example}`);
    warn(
      'source.key',
      `${qualified} is a view: nothing enforces that key ${keyText} stays unique; a push that meets two rows ` +
        'with one key parks both',
    );
    return;
  }
  err(
    'source.key',
    `key ${keyText} is not covered by a primary key or unique index (without WHERE) of ${qualified}, so it ` +
      `may not identify one row (${example}). Add one: ${keyFixDdl(info, schema, table, key)}` +
      (duplicate
        ? ' (it fails while duplicates exist: then the key is wrong: choose columns that identify one row)'
        : ''),
  );
}

const CAPTURABLE_RELKINDS = new Set(['r', 'p']);

/** An LSN cursor reads a publication of the table: tables (partitioned ones too) only, never views. */
function checkLsnCursor(
  def: SyncDefinition,
  info: SourceTableInfo,
  byName: Map<string, { name: string; dataType: string }>,
  err: (path: string, message: string) => void,
): void {
  const qualified = `${def.source.schema}.${def.source.table}`;
  if (!CAPTURABLE_RELKINDS.has(info.relkind)) {
    err(
      'source.cursor.type',
      `"${qualified}" is not a table: source.cursor.type "LSN" captures changes of tables only. Use ` +
        'source.cursor.type "TIMESTAMP" with a cursor column for a view, or point the definition at the table',
    );
  }
  const column = def.source.cursor.column;
  if (column === undefined) return;
  const col = byName.get(column);
  if (!col) err('source.cursor.column', `cursor column "${column}" does not exist in "${qualified}"`);
  else if (!TIMESTAMP_TYPES.has(col.dataType))
    err(
      'source.cursor.column',
      `cursor column "${col.name}" is ${col.dataType}, not a timestamp type (timestamptz or timestamp)`,
    );
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

/** True when the policy compares the row's cursor column with SharePoint's modification time (I7). */
function usesLastWriter(def: SyncDefinition): boolean {
  return (
    def.conflictPolicy === 'LAST_WRITER_WINS' ||
    (def.conflictPolicy === 'MERGE' && def.mergeTieBreaker === 'LAST_WRITER_WINS')
  );
}

/**
 * The cursor column as a clock: install-cursor's trigger must still be there and enabled (else updates stop
 * moving the column and the push misses them), and a naive column compared by LAST_WRITER_WINS must hold UTC,
 * which is how the engine reads it (docs/design.md, "Decisions worth knowing").
 */
async function checkCursorStamps(
  def: SyncDefinition,
  pool: Pool,
  byName: Map<string, SourceColumn>,
  warn: (path: string, message: string) => void,
): Promise<void> {
  const column = def.source.cursor.column;
  const col = column === undefined ? undefined : byName.get(column);
  if (column === undefined || !col || !TIMESTAMP_TYPES.has(col.dataType)) return;
  const { schema, table } = def.source;
  const qualified = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  const timestampCursor = def.source.cursor.type === 'TIMESTAMP';
  if (timestampCursor && (await cursorTriggerLost(pool, schema, table, column))) {
    warn('source.cursor.column', cursorTriggerLostMessage(def.name, qualified, column));
    return;
  }
  if (col.dataType !== NAIVE_TIMESTAMP || !usesLastWriter(def)) return;
  if (await cursorTriggerStampsUtc(pool, schema, table, column)) return;
  warn(
    'source.cursor.column',
    `cursor column "${column}" is timestamp without time zone and ${def.conflictPolicy === 'MERGE' ? 'mergeTieBreaker' : 'conflictPolicy'} ` +
      "is LAST_WRITER_WINS: the engine reads its values as UTC and compares them with SharePoint's modification " +
      'times, but no trigger of install-cursor stamps it in UTC, so values written in local time pick the wrong ' +
      "side by the zone's offset. Next step: " +
      (timestampCursor
        ? `"arcore-sync install-cursor ${def.name}" (its trigger stamps UTC; replacing an older one makes the next ` +
          'push read the table again), or make the column timestamptz'
        : 'make the column timestamptz, or have whatever writes it write UTC'),
  );
}

type ListedTarget = Pick<SyncDefinition, 'name' | 'target'>;

/**
 * The lists of `b` that `a` names too before resolution (routed definitions have several), as `b` spells them.
 * SharePoint resolves site paths and list names case-insensitively, so `P1` and `p1` are one list; a run also
 * compares resolved list ids.
 */
export function sharedListNames(a: ListedTarget, b: ListedTarget): string[] {
  if (a.target.site.toLowerCase() !== b.target.site.toLowerCase()) return [];
  const fold = (list: string): string => list.trim().toLowerCase();
  const ofA = new Set(targetLists(a).map(fold));
  return targetLists(b).filter((list) => ofA.has(fold(list)));
}

/**
 * The second check of a definition, against the live source database: everything the schema alone
 * cannot know. `others` are the definitions already saved (to find two definitions writing one list);
 * `lsnPublication` the publication of a saved LSN definition (one that exists counts as ready).
 */
export async function validateAgainstDatabase(
  def: SyncDefinition,
  sourcePool: Pool,
  others: SyncDefinition[] = [],
  lsnPublication?: string,
): Promise<LiveValidationReport> {
  const errors: LiveProblem[] = [];
  const warnings: LiveProblem[] = [];
  const err = (path: string, message: string) => errors.push({ definition: def.name, path, message });
  const warn = (path: string, message: string) => warnings.push({ definition: def.name, path, message });
  const { schema, table } = def.source;
  const qualified = `${schema}.${table}`;

  const session = await readSessionSettings(sourcePool);
  for (const problem of sessionSettingsProblems(session)) {
    err('source.connection', `the source database session's ${problem}`);
  }

  const info = await readSourceTable(sourcePool, schema, table);
  const columns = info?.columns ?? null;
  if (!info || !columns) {
    err('source.table', `table or view "${qualified}" does not exist in the source database`);
  } else {
    const byName = new Map(columns.map((c) => [c.name, c]));
    def.source.key.forEach((k, i) => {
      if (!byName.has(k)) err(`source.key[${i}]`, `key column "${k}" does not exist in "${qualified}"`);
    });
    if (def.source.key.every((k) => byName.has(k)))
      await checkKeyIdentifies(def, sourcePool, info, err, warn);
    def.fields.forEach((f, i) => {
      const col = byName.get(f.source);
      if (!col) err(`fields[${i}].source`, `mapped column "${f.source}" does not exist in "${qualified}"`);
      else {
        // A run treats it as PUSH_ONLY (engine/plan.ts): say so before the first run.
        if (col.updatable === false && f.direction !== 'PUSH_ONLY' && !def.source.key.includes(f.source))
          warn(
            `fields[${i}].direction`,
            `"${f.source}" is a column Postgres cannot write (computed in the view, or generated): ` +
              (f.direction === 'PULL_ONLY'
                ? 'declared PULL_ONLY, it is never synced; map it PUSH_ONLY or remove it'
                : 'it is synced as PUSH_ONLY, and an edit of it in SharePoint is a conflict Postgres wins; declare it PUSH_ONLY'),
          );
        try {
          const checked = checkFieldPipelines(f, i, fieldKindFor(col, undefined), (c) => byName.has(c));
          for (const e of checked.errors) err(e.path, e.message);
          for (const w of checked.warnings) warn(w.path, w.message);
        } catch (e) {
          if (!(e instanceof UnsupportedMappingError)) throw e;
          warn(
            `fields[${i}].source`,
            `${e.message}; provision cannot create "${f.target}": the list needs an existing column of a compatible type`,
          );
        }
      }
    });
    checkRoutesAgainstTable(def, byName, err, warn);
    if (def.source.cursor.type === 'LSN') {
      checkLsnCursor(def, info, byName, err);
      if (CAPTURABLE_RELKINDS.has(info.relkind))
        for (const p of await checkLsnReadiness(def, sourcePool, lsnPublication)) err(p.path, p.message);
    } else {
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
        if (cursorCol.isNullable && isUnindexable(info)) {
          // A view takes neither a default nor NOT NULL: the fix belongs to the table underneath.
          warn(
            'source.cursor.column',
            `cursor column "${cursorCol.name}" allows NULL; rows with a NULL cursor are never pushed. ${qualified} is ` +
              'a view: make the column NOT NULL with a default in the table underneath it',
          );
        } else if (cursorCol.isNullable) {
          warn(
            'source.cursor.column',
            `cursor column "${cursorCol.name}" allows NULL; rows with a NULL cursor are never pushed. Make it NOT NULL ` +
              `with a default: ALTER TABLE ${quoteIdent(schema)}.${quoteIdent(table)} ALTER COLUMN ${quoteIdent(cursorCol.name)} ` +
              'SET DEFAULT now(), ALTER COLUMN ' +
              `${quoteIdent(cursorCol.name)} SET NOT NULL;`,
          );
        }
      }
      if (cursorCol && TIMESTAMP_TYPES.has(cursorCol.dataType) && isUnindexable(info)) {
        // A view has no indexes of its own; its reads use those of the table underneath.
        warn(
          'source.cursor.column',
          `${qualified} is a view: incremental reads on cursor column "${cursorCol.name}" are fast only when the ` +
            'table underneath has an index on that column and the key',
        );
      } else if (
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
    }
    await checkCursorStamps(def, sourcePool, byName, warn);
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

  const siteProblem = siteReferenceProblem(def.target.site);
  if (siteProblem) err('target.site', siteProblem);

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
    for (const list of sharedListNames(other, def)) {
      const theirs = targetLists(other).find((l) => l.trim().toLowerCase() === list.trim().toLowerCase());
      err(
        isRouted(def) ? 'target.routes' : 'target.list',
        `list "${list}" on "${def.target.site}" is already the target of definition "${other.name}"` +
          (theirs === list ? '' : ` (as "${theirs}")`),
      );
    }
  }
  return { errors, warnings, session };
}
