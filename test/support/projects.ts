/**
 * The push delete tests' projects: a table like createProjectsTable's on a list of its own name, its rows created in
 * SharePoint by a first push before the case deletes, refuses or edits something.
 */
import { parseDefinition } from '../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../src/core/definition/schema';
import { runPush } from '../../src/core/engine/push';
import { installCursorFor } from '../../src/core/ops';
import { tombstoneTableName } from '../../src/core/source/postgres/tombstones';
import { createProjectsTable, projectsDefinition, timestampSource, type Harness } from './engineHarness';

export interface ProjectsOptions {
  /** The list (default: the table's name). */
  list?: string;
  /** Merged into projectsDefinition's definition (deletes policy, fields). */
  definition?: Partial<SyncDefinitionInput>;
  /** Merged into its source (overlapSeconds, pageSize). */
  source?: Partial<SyncDefinitionInput['source']>;
  /** Installs the cursor as the CLI does, with the trigger that keeps a tombstone of each deleted row. */
  tombstones?: boolean;
  /** Changes to the table before it is defined, each run as `ALTER TABLE name <change>`, in order. */
  alter?: string[];
}

/** Table `name` on list `name` (or `list`): createProjectsTable's table, projectsDefinition's mapping, defined. */
export async function defineProjects(h: Harness, name: string, options: ProjectsOptions = {}): Promise<void> {
  await createProjectsTable(h.db, name);
  for (const change of options.alter ?? []) await h.db.pool.query(`ALTER TABLE ${name} ${change}`);
  const input = projectsDefinition(
    { name, source: { ...timestampSource(name), ...options.source }, ...options.definition },
    options.list ?? name,
  );
  await h.define(input);
  if (options.tombstones) await installCursorFor(parseDefinition(input), h.db.pool);
}

/** defineProjects's table with rows 1 ('one', 10) and 2 ('two', 20), both created by a first push. */
export async function pushedTwoProjects(
  h: Harness,
  name: string,
  options: ProjectsOptions = {},
): Promise<void> {
  await defineProjects(h, name, options);
  await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10), (2, 'two', 20)`);
  expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ status: 'SUCCEEDED', created: 2 });
}

/** How many tombstones (recorded deletes not yet consumed) table `table` has. */
export async function tombstoneCount(h: Harness, table: string): Promise<number> {
  return Number((await h.db.pool.query(`SELECT count(*) AS n FROM ${tombstoneTableName(table)}`)).rows[0].n);
}

/** How many ledger rows definition `name` has, whatever their state. */
export async function ledgerCount(h: Harness, name: string): Promise<number> {
  const { rows } = await h.db.pool.query(
    `SELECT count(*) AS n FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
      WHERE d.name = $1`,
    [name],
  );
  return Number(rows[0].n);
}

/** The details run `runId` recorded (sync_runs.details). */
export async function runDetails(h: Harness, runId: string | null): Promise<Record<string, unknown>> {
  const { rows } = await h.db.pool.query<{ details: Record<string, unknown> }>(
    'SELECT details FROM arcore.sync_runs WHERE id = $1',
    [runId],
  );
  return rows[0].details;
}
