/**
 * The transform and backfill tests' table: rows (id, name, code) synced as Title and Code, where the tests change
 * Code's pipelines (transform, pullTransform) and look at both sides of the field.
 */
import { applyDefinitions, type ApplyResult } from '../../src/core/engine/apply';
import { runBackfill } from '../../src/core/engine/backfill';
import { runPull } from '../../src/core/engine/pull';
import { runPush } from '../../src/core/engine/push';
import { parseDefinition } from '../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../src/core/definition/schema';
import { installCursorTrigger } from '../../src/core/source/postgres/PostgresSource';
import { SITE, type Harness } from './engineHarness';

/** Code's mapping but for its columns: the pipelines under test. */
export type CodeField = Omit<SyncDefinitionInput['fields'][number], 'source' | 'target'>;
/** The table's definition under a pipeline. */
export type CodeDefinition = (pipeline: string) => SyncDefinitionInput;

/** How a test's table differs from the usual one: Code's column type (text), the conflict policy (the default). */
export interface CodeTableOptions {
  codeType?: string;
  conflictPolicy?: SyncDefinitionInput['conflictPolicy'];
}

/**
 * Table `name` (id, name, code, updated_at kept by the cursor trigger) and its definition: list `name`, Title from
 * name, Code from code with the pipelines `code(pipeline)` gives.
 */
export async function createCodeTable(
  h: Harness,
  name: string,
  code: (pipeline: string) => CodeField,
  { codeType = 'text', conflictPolicy }: CodeTableOptions = {},
): Promise<CodeDefinition> {
  await h.db.pool.query(
    `CREATE TABLE ${name} (id int PRIMARY KEY, name text, code ${codeType}, updated_at timestamptz NOT NULL DEFAULT now())`,
  );
  await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
  return (pipeline) => ({
    name,
    source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
    target: { site: SITE, list: name },
    ...(conflictPolicy === undefined ? {} : { conflictPolicy }),
    fields: [
      { source: 'name', target: 'Title' },
      { source: 'code', target: 'Code', ...code(pipeline) },
    ],
  });
}

/** Inserts rows 1..n named 'a', 'b', … with `codes`. */
export async function insertCodes(
  h: Harness,
  name: string,
  codes: readonly (string | number)[],
): Promise<void> {
  const values = codes.map((_, i) => `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3})`).join(', ');
  const params = codes.flatMap((code, i) => [i + 1, String.fromCharCode(97 + i), code]);
  await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES ${values}`, params);
}

/**
 * createCodeTable's table defined under `first`, its rows inserted with `codes`, created by a push and pulled once:
 * every pair made under `first`.
 */
export async function syncedCodeTable(
  h: Harness,
  name: string,
  code: (pipeline: string) => CodeField,
  first: string,
  codes: readonly (string | number)[],
  options: CodeTableOptions = {},
): Promise<CodeDefinition> {
  const def = await createCodeTable(h, name, code, options);
  await h.define(def(first));
  await insertCodes(h, name, codes);
  expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(codes.length);
  await runPull(h.ctx, name, { trigger: 'test' });
  return def;
}

/** A pipeline change as `arcore-sync apply` makes it: it rewrites nothing by itself. */
export function applyPipeline(h: Harness, def: SyncDefinitionInput): Promise<ApplyResult> {
  return applyDefinitions(h.db.pool, [parseDefinition(def)]);
}

/** Postgres's code of row `id`. */
export async function pgCode(h: Harness, name: string, id = 1): Promise<unknown> {
  return (await h.db.pool.query(`SELECT code FROM ${name} WHERE id = $1`, [id])).rows[0].code;
}

/** Postgres's codes in id order. */
export async function pgCodes(h: Harness, name: string): Promise<unknown[]> {
  return (await h.db.pool.query(`SELECT code FROM ${name} ORDER BY id`)).rows.map((r) => r.code as unknown);
}

/** Code of the list's first item. */
export async function spCode(h: Harness, name: string): Promise<unknown> {
  return (await h.items(name))[0].fields.Code;
}

/** Code of every item of the list, sorted. */
export async function spCodes(h: Harness, name: string): Promise<unknown[]> {
  return (await h.items(name)).map((i) => i.fields.Code).sort();
}

/**
 * Lets interruptedBackfill stop a backfill after its writes, before its ledger commit (a crash, a lost connection):
 * once a database, before the first interruptedBackfill.
 */
export async function installBackfillCrash(h: Harness): Promise<void> {
  await h.db.pool.query(`CREATE FUNCTION public.review_fail() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'simulated crash before the backfill commit'; END $$`);
}

/**
 * A backfill of Code whose commit of its position fails, so its writes are done and the ledger does not learn them:
 * its status, or the message of the error it stopped with.
 */
export async function interruptedBackfill(
  h: Harness,
  name: string,
  direction: 'push' | 'pull',
): Promise<string> {
  await h.db.pool.query(`CREATE TRIGGER review_fail BEFORE UPDATE ON arcore.sync_backfills FOR EACH ROW
    WHEN (OLD.position IS DISTINCT FROM NEW.position) EXECUTE FUNCTION public.review_fail()`);
  try {
    return (await runBackfill(h.ctx, name, { fields: ['Code'], direction, trigger: 'test' })).status;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await h.db.pool.query(`DROP TRIGGER review_fail ON arcore.sync_backfills`);
  }
}

/** The id of the OPEN conflict of definition `name`. */
export async function openConflictOf(h: Harness, name: string): Promise<string> {
  const { rows } = await h.db.pool.query<{ id: string }>(
    `SELECT c.id FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
      WHERE d.name = $1 AND c.status = 'OPEN'`,
    [name],
  );
  return rows[0].id;
}

/**
 * A MANUAL definition whose Code is pushed through PREFIX('X-') and pulled through TRIM, so a value pull writes is
 * not what the push would send; row 1 ('a', 'c1') created by a push, not pulled yet. Its item.
 */
export async function createdPrefixedCode(h: Harness, name: string): Promise<{ id: string }> {
  const def = await createCodeTable(
    h,
    name,
    (pullTransform) => ({ transform: "PREFIX('X-')", pullTransform }),
    { conflictPolicy: 'MANUAL' },
  );
  await h.define(def('TRIM'));
  await insertCodes(h, name, ['c1']);
  expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
  const [item] = await h.items(name);
  return item;
}
