import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Pool } from 'pg';
import { parseDefinitionsText } from '../../core/definition/parse';
import type { SyncDefinition } from '../../core/definition/schema';
import { validateAgainstDatabase, type LiveProblem } from '../../core/definition/validateLive';
import type { SessionSettings } from '../../core/db/sessionSettings';
import { describeDeleteDetection, type DeleteDetectionReport } from '../../core/definition/deleteDetection';
import { applyDefinitions } from '../../core/engine/apply';
import { itemDeletedWarning } from '../../core/ops/heldRows';
import { describeRouteMoves } from '../../core/routing/moves';
import { lsnNames } from '../../core/capture/lsn/names';
import { listDefinitions, type StoredDefinition } from '../../core/store/definitions';
import { readInstallationId } from '../../core/store/installation';
import { migrate } from '../../core/store/migrate';
import { CliUsageError, DefinitionsRejectedError } from '../failures';
import { printJson } from '../output';
import type { CliRuntime } from '../runtime';

export interface DefinitionReport {
  name: string;
  errors: LiveProblem[];
  warnings: LiveProblem[];
  /** How push finds rows deleted in Postgres; null when the table does not exist. */
  deleteDetection: DeleteDetectionReport | null;
  /** The source session's DateStyle, IntervalStyle and extra_float_digits. */
  session: SessionSettings;
}

export interface ValidationReport {
  file: string;
  valid: boolean;
  definitions: DefinitionReport[];
}

export async function runMigrate(rt: CliRuntime, opts: { json?: boolean }): Promise<void> {
  const result = await migrate(await rt.metaPool());
  if (opts.json) {
    printJson(rt.io, result);
    return;
  }
  rt.io.out(
    result.applied.length === 0
      ? `metadata store is up to date (migrations ${result.alreadyApplied.join(', ') || 'none'} already applied)`
      : `applied migration${result.applied.length === 1 ? '' : 's'} ${result.applied.join(', ')}`,
  );
}

export function readDefinitionsFile(rt: CliRuntime, file: string): { path: string; defs: SyncDefinition[] } {
  const path = resolve(rt.deps.cwd, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliUsageError(`cannot read definitions file ${path}: ${(error as Error).message}`);
  }
  // DefinitionValidationError names the file (origin) and each path and problem.
  return { path, defs: parseDefinitionsText(text, path).definitions };
}

async function metadataStoreExists(pool: Pool): Promise<boolean> {
  const { rows } = await pool.query<{ exists: boolean }>(
    "SELECT to_regclass('arcore.sync_definitions') IS NOT NULL AS exists",
  );
  return rows[0].exists;
}

/** The publication of each saved LSN definition, by name (its name carries the saved id). */
async function savedLsnPublications(meta: Pool, stored: StoredDefinition[]): Promise<Map<string, string>> {
  const lsn = stored.filter((s) => s.definition.source.cursor.type === 'LSN');
  if (lsn.length === 0) return new Map();
  const installation = await readInstallationId(meta);
  return new Map(
    lsn.map((s) => [s.definition.name, lsnNames(installation, s.id, s.definition.name).publication]),
  );
}

/**
 * The schema check (parse) then the live check of every definition against its source database.
 * Stored definitions not in the file count as "others" (two definitions must not write one list).
 */
export async function validateFile(
  rt: CliRuntime,
  file: string,
): Promise<{ defs: SyncDefinition[]; report: ValidationReport }> {
  const { path, defs } = readDefinitionsFile(rt, file);
  const meta = await rt.metaPool();
  const storedRows = (await metadataStoreExists(meta)) ? await listDefinitions(meta) : [];
  const stored = storedRows.map((s) => s.definition);
  const inFile = new Set(defs.map((d) => d.name));
  const others = [...defs, ...stored.filter((d) => !inFile.has(d.name))];
  const publications = await savedLsnPublications(meta, storedRows);
  const definitions: DefinitionReport[] = [];
  for (const def of defs) {
    const pool = await rt.sourcePool(def.source.connection);
    const live = await validateAgainstDatabase(def, pool, others, publications.get(def.name));
    const deleteDetection = await describeDeleteDetection(def, pool);
    const stored = storedRows.find((s) => s.definition.name === def.name);
    const held = stored ? await itemDeletedWarning(meta, stored.id, def) : null;
    definitions.push({
      name: def.name,
      errors: live.errors,
      warnings: held ? [...live.warnings, held] : live.warnings,
      deleteDetection,
      session: live.session,
    });
  }
  return {
    defs,
    report: { file: path, valid: definitions.every((d) => d.errors.length === 0), definitions },
  };
}

function printReport(rt: CliRuntime, report: ValidationReport): void {
  rt.io.out(
    `${report.file}: ${report.definitions.length} definition${report.definitions.length === 1 ? '' : 's'}`,
  );
  for (const d of report.definitions) {
    const counts = [
      d.errors.length > 0 ? `${d.errors.length} error${d.errors.length === 1 ? '' : 's'}` : 'ok',
      ...(d.warnings.length > 0 ? [`${d.warnings.length} warning${d.warnings.length === 1 ? '' : 's'}`] : []),
    ];
    rt.io.out(`  ${d.name}: ${counts.join(', ')}`);
    for (const e of d.errors) rt.io.out(`    error   ${e.path}: ${e.message}`);
    for (const w of d.warnings) rt.io.out(`    warning ${w.path}: ${w.message}`);
    if (d.deleteDetection) rt.io.out(`    deletes ${d.deleteDetection.message}`);
    rt.io.out(
      `    session DateStyle '${d.session.DateStyle}', IntervalStyle '${d.session.IntervalStyle}', ` +
        `extra_float_digits ${d.session.extra_float_digits}`,
    );
  }
}

export async function runValidate(rt: CliRuntime, file: string, opts: { json?: boolean }): Promise<void> {
  const { report } = await validateFile(rt, file);
  // With --json an invalid file's report goes out inside the one failure object.
  if (!opts.json) printReport(rt, report);
  else if (report.valid) printJson(rt.io, report);
  if (!report.valid) {
    throw new DefinitionsRejectedError(
      report.file,
      report.definitions.flatMap((d) => d.errors),
      { report },
    );
  }
}

export async function runApply(rt: CliRuntime, file: string, opts: { json?: boolean }): Promise<void> {
  const { defs, report } = await validateFile(rt, file);
  if (!report.valid) {
    if (!opts.json) printReport(rt, report);
    throw new DefinitionsRejectedError(
      report.file,
      report.definitions.flatMap((d) => d.errors),
      { report: { ...report, applied: null } },
    );
  }
  const meta = await rt.metaPool();
  if (!(await metadataStoreExists(meta))) {
    throw new CliUsageError('the metadata store has no tables yet: run "arcore-sync migrate" first');
  }
  const applied = await applyDefinitions(meta, defs, {
    previewRouteMoves: async (before, after, stored) => {
      const { ledgerListNames, previewRouteMoves } = await import('../../core/engine/routeMoves.js');
      const names = await ledgerListNames(await rt.engineContext(), stored.listId, before, after);
      return previewRouteMoves(meta, await rt.sourcePool(after.source.connection), stored, after, names);
    },
  });
  if (opts.json) {
    printJson(rt.io, { ...report, applied });
    return;
  }
  for (const d of report.definitions) {
    for (const w of d.warnings) rt.io.out(`warning ${d.name} ${w.path}: ${w.message}`);
  }
  const describe = (label: string, names: string[]) =>
    names.length > 0 ? [`${label} ${names.join(', ')}`] : [];
  rt.io.out(
    [
      ...describe('created', applied.created),
      ...describe('updated', applied.updated),
      ...describe('unchanged', applied.unchanged),
    ].join('; '),
  );
  // The schedule in effect, defaults included (they depend on the cursor type).
  rt.io.out(`push schedule: ${defs.map((d) => `${d.name} "${d.schedule}"`).join(', ')}`);
  for (const d of applied.definitions) {
    if (d.changes.length === 0) continue;
    rt.io.out(`${d.name}:`);
    for (const c of d.changes) {
      rt.io.out(`  ${c.change}`);
      rt.io.out(`    next runs: ${c.effect}`);
    }
    if (d.moves) for (const line of describeRouteMoves(d.moves)) rt.io.out(`    ${line}`);
  }
}
