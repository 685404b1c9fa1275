import type { Pool } from 'pg';
import { SettingsError } from '../../config/settings';
import type { FieldKind } from '../canonical';
import type { ErrorKind } from '../errors/kind';
import { readSourceTable, type SourceColumn } from '../source/postgres/catalog';
import { quoteIdent } from '../source/postgres/PostgresSource';
import { bindKeyKinds, type RecordedKeyKinds, type StoredDefinition } from '../store/definitions';
import { keyKindsOf } from './plan';
import type { EngineContext } from './types';

/**
 * How a key column's values become its part of the identity (canonical/hash.ts renderKeyValue): an integer 1
 * renders as 1, the text '1' as "1". Kinds that render alike are one rendering.
 */
function renderingOf(kind: FieldKind | undefined): string {
  if (kind === 'integer' || kind === 'number' || kind === 'lookupId') return 'number';
  if (kind === 'uuid' || kind === 'dateTime' || kind === 'dateOnly' || kind === 'boolean') return kind;
  return 'value';
}

/**
 * A key column was retyped in Postgres (I1, I14): its values render into other identity hashes than the ledger's,
 * so every synced row would look new: its item deleted and created again (history, attachments and links to it
 * lost) or, under deletes.push IGNORE, a second item beside it. Refused before anything is written.
 */
export class KeyTypeChangedError extends Error {
  readonly errorKind: ErrorKind = 'invalid_definition';
  readonly hint: string;

  constructor(
    readonly definition: string,
    readonly table: string,
    readonly changed: { column: string; was: string; now: string }[],
  ) {
    super(
      `Definition "${definition}": ${changed
        .map(
          (c) =>
            `key column "${c.column}" of ${table} was ${c.was} when its rows were synced and is ${c.now} now`,
        )
        .join(
          '; ',
        )}: its values no longer match the keys of the synced items, so every row would look new (its ` +
        'item deleted and created again, or a second item). Nothing was written',
    );
    this.name = 'KeyTypeChangedError';
    const casts = changed.map((c) => `${quoteIdent(c.column)}::${c.was}`);
    this.hint = `give the key its former type again (${changed
      .map((c) => `ALTER TABLE ${table} ALTER COLUMN ${quoteIdent(c.column)} TYPE ${c.was} USING ${casts[0]}`)
      .join('; ')}), or sync from a view that gives it that type (SELECT ${changed
      .map((c, i) => `${casts[i]} AS ${quoteIdent(c.column)}`)
      .join(', ')}, … FROM ${table}) and point source.table at the view with "arcore-sync apply"`;
  }
}

/** What the check reads of a stored definition: `definition` may be the one `apply` is about to save. */
type KeyedDefinition = Pick<StoredDefinition, 'id' | 'definition' | 'keyKinds'>;

/** The key columns' renderings and types as the table is now. */
function keyKindsNow(stored: KeyedDefinition, columns: readonly SourceColumn[]): RecordedKeyKinds {
  const def = stored.definition;
  const byName = new Map(columns.map((c) => [c.name, c]));
  const kinds = keyKindsOf(def, byName);
  return Object.fromEntries(
    def.source.key.map((k) => {
      const col = byName.get(k)!;
      return [k, { rendering: renderingOf(kinds[k]), type: col.sqlType ?? col.dataType }];
    }),
  );
}

/**
 * Checks (I1, I14) that every key column renders as it did when the ledger's identities were made, recording the
 * renderings on the first run (and again while the definition has no ledger entry: its key may have changed by
 * `apply` before it synced). No query while they match: the definition row carries them.
 */
export async function checkKeyKinds(
  meta: Pool,
  stored: KeyedDefinition,
  columns: readonly SourceColumn[],
  table: string,
  dryRun: boolean,
): Promise<void> {
  const now = keyKindsNow(stored, columns);
  const was = stored.keyKinds;
  const changed =
    was === null
      ? null
      : stored.definition.source.key
          .filter((k) => was[k]?.rendering !== now[k].rendering)
          .map((k) => ({ column: k, was: was[k]?.type ?? '(not a key then)', now: now[k].type }));
  if (changed !== null && changed.length === 0 && Object.keys(was!).length === Object.keys(now).length)
    return;
  if (changed !== null && changed.length > 0) {
    const { rows } = await meta.query<{ synced: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM arcore.sync_ledger WHERE definition_id = $1) AS synced',
      [stored.id],
    );
    if (rows[0].synced) throw new KeyTypeChangedError(stored.definition.name, table, changed);
  }
  if (!dryRun) await bindKeyKinds(meta, stored.id, now);
}

/**
 * The same check for a command that pairs or compares by key outside a run (relink, verify; apply's route-move
 * count calls checkKeyKinds itself on the table it reads): refused before it reads
 * or writes anything by key, recording nothing. A source this process cannot reach, or a table that is gone, is left
 * to the command's own checks.
 */
export async function refuseRetypedKey(ctx: EngineContext, stored: StoredDefinition): Promise<void> {
  const { source } = stored.definition;
  let pool: Pool;
  try {
    pool = ctx.sourcePool(source.connection);
  } catch (err) {
    if (err instanceof SettingsError) return;
    throw err;
  }
  const table = await readSourceTable(pool, source.schema, source.table);
  if (!table) return;
  await checkKeyKinds(
    ctx.meta,
    stored,
    table.columns,
    `${quoteIdent(source.schema)}.${quoteIdent(source.table)}`,
    true,
  );
}
