import { readSourceTable } from '../../source/postgres/catalog';
import { PostgresSource } from '../../source/postgres/PostgresSource';
import type { StoredDefinition } from '../../store/definitions';
import { LedgerStore } from '../../store/ledger';
import type { DefinitionLock } from '../../store/locks';
import { pullIntents } from '../../store/pullIntents';
import { keyKindsOf } from '../plan';
import { SourceTableNotFoundError } from '../runner';
import type { EngineContext } from '../types';
import { settleInsertIntents } from './intents';

/**
 * Settles a definition's pull insert intents for a command that works on its ledger outside a run (relink), under
 * the definition's lock held by the caller: the same settle a pull or push runs first, so the command never acts
 * on a ledger missing pairs whose rows committed. The source is read only when intents are left (the table, its
 * key columns); a source transaction still open stops the command (SourceTransactionOpenError). Parked pull
 * failures are keyed as for a single list: relink discards every parked pull failure anyway.
 */
export async function settleIntentsOutsideRun(
  ctx: EngineContext,
  stored: StoredDefinition,
  lock: DefinitionLock,
): Promise<number> {
  const def = stored.definition;
  // Asked first: a process without the source's connection setting relinks a definition with no intents left.
  if ((await pullIntents(ctx.meta, stored.id)).length === 0) return 0;
  const sourcePool = ctx.sourcePool(def.source.connection);
  const table = await readSourceTable(sourcePool, def.source.schema, def.source.table);
  if (!table) throw new SourceTableNotFoundError(def.name, `${def.source.schema}.${def.source.table}`);
  const byName = new Map(table.columns.map((c) => [c.name, c]));
  const source = new PostgresSource(sourcePool, {
    schema: def.source.schema,
    table: def.source.table,
    key: def.source.key,
    cursorColumn: null,
    columns: table.columns.filter((c) => def.source.key.includes(c.name)),
  });
  return settleInsertIntents({
    ctx,
    stored,
    def,
    definitionId: stored.id,
    ledger: new LedgerStore(
      stored.id,
      def.source.key.length > 1 ? 'COMPOSITE_COLUMNS' : 'PRIMARY_KEY',
      def.source.connection,
    ),
    dryRun: null,
    sameDatabase: sourcePool === ctx.meta,
    sourcePool,
    source,
    plan: { keyKinds: keyKindsOf(def, byName) },
    route: null,
    listId: stored.listId ?? '',
    assertLockHeld: () => lock.assertHeld(),
  });
}
