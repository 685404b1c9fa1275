import { describeDifferences, verifyDefinition } from '../../core/engine/verify';
import { installCursor, installCursorFor, type InstallCursorResult } from '../../core/ops/installCursor';
import { removeDefinition } from '../../core/ops/remove';
import { describeRetirement } from '../../core/ops/deleteCapture';
import { CliUsageError, SidesDifferError } from '../failures';
import { formatTable, printJson } from '../output';
import type { CliRuntime } from '../runtime';

interface JsonOption {
  json?: boolean;
}

/** `verify NAME`: exit 0 when both sides agree, 1 (after printing the report) when they differ. */
export async function runVerifyCommand(rt: CliRuntime, name: string, opts: JsonOption): Promise<void> {
  const ctx = await rt.engineContext();
  const report = await verifyDefinition(ctx, name);
  if (opts.json) {
    printJson(rt.io, report);
  } else {
    rt.io.out(
      formatTable(
        ['POSTGRES ROWS', 'SHAREPOINT ITEMS', 'PAIRED', 'FIELDS COMPARED', 'DIFFERENCES', 'UNPAIRED'],
        [
          [
            report.rows,
            report.items,
            report.paired,
            report.fieldsCompared,
            report.differences,
            report.unpaired,
          ],
        ],
      ),
    );
    const kept = [
      report.orphanedItems > 0 ? `${report.orphanedItems} item(s) kept by the push delete policy` : null,
      report.softDeletedRows > 0 ? `${report.softDeletedRows} row(s) kept by the pull delete policy` : null,
    ].filter((s): s is string => s !== null);
    if (kept.length > 0) rt.io.out(`not counted as unpaired: ${kept.join(', ')}`);
    if (report.notCompared)
      rt.io.out(
        `not compared: ${report.notCompared.join(', ')} ("Append changes to existing text": SharePoint reads it empty)`,
      );
    if (report.agree) rt.io.out(`${name}: both sides agree (fields compared: ${report.fields.join(', ')})`);
    else rt.io.out(describeDifferences(report).join('\n'));
  }
  if (!report.agree) throw new SidesDifferError(name, report.differences, report.unpaired);
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** `remove NAME`: the definition and its metadata go; both sides' data stay. */
export async function runRemoveCommand(rt: CliRuntime, name: string, opts: JsonOption): Promise<void> {
  const ctx = await rt.engineContext();
  const result = await removeDefinition(ctx, name);
  for (const left of result.subscriptionsLeft) {
    rt.reporter.log(
      `warning: Graph subscription ${left.subscriptionId} could not be deleted (${left.error}); its ` +
        `notifications are ignored, the subscription timer deletes it, and it expires at ${left.expiration} at the latest`,
    );
  }
  for (const left of result.replication?.left ?? []) {
    rt.reporter.log(
      `warning: ${left.kind} ${left.name} could not be dropped on the source server (${left.error}); ` +
        `${left.kind === 'slot' ? 'it keeps WAL until it is dropped: ' : ''}run there: ${left.sql}`,
    );
  }
  if (result.deleteCapture.status === 'failed')
    rt.reporter.log(`warning: ${describeRetirement(result.deleteCapture)}`);
  if (opts.json) {
    printJson(rt.io, result);
    return;
  }
  const r = result.removed;
  const dropped = result.replication?.dropped ?? [];
  rt.io.out(
    `${name}: removed (ledger ${r.ledger}, cursors ${r.cursors}, runs ${r.runs}, conflicts ${r.conflicts}, ` +
      `failures ${r.failures}, pending pulls ${r.pendingPulls}, subscriptions ${r.subscriptions}; ` +
      `${result.subscriptionsDeleted.length} subscription(s) deleted at Graph). ` +
      (dropped.length > 0
        ? `Dropped on the source server: ${dropped.map((d) => `${d.kind} ${d.name}`).join(', ')}. `
        : '') +
      (['dropped', 'kept'].includes(result.deleteCapture.status)
        ? `${capitalize(describeRetirement(result.deleteCapture))}. `
        : '') +
      'The table rows and list items are untouched.',
  );
}

/** `install-cursor NAME [--print-sql]`: column, trigger and index for a TIMESTAMP cursor. */
export async function runInstallCursorCommand(
  rt: CliRuntime,
  name: string,
  opts: JsonOption & { printSql?: boolean; file?: string },
): Promise<void> {
  let result: InstallCursorResult;
  const printSql = Boolean(opts.printSql);
  if (opts.file) {
    const { readDefinitionsFile } = await import('./definitions.js');
    const { path, defs } = readDefinitionsFile(rt, opts.file);
    const def = defs.find((d) => d.name === name);
    if (!def) {
      throw new CliUsageError(
        `${path} has no definition named "${name}" (it has ${defs.map((d) => d.name).join(', ') || 'none'})`,
      );
    }
    result = await installCursorFor(def, await rt.sourcePool(def.source.connection), { printSql });
  } else {
    result = await installCursor(await rt.metaPool(), (c) => rt.sourcePool(c), name, { printSql });
  }
  for (const note of result.notes) rt.reporter.log(`note: ${note}`);
  if (opts.json) {
    printJson(rt.io, result);
    return;
  }
  if (opts.printSql) {
    rt.io.out(
      result.sql.length === 0
        ? `-- ${result.table}: column "${result.column}", its trigger, index and delete capture are already there; nothing to do`
        : result.sql.map((statement) => `${statement};`).join('\n'),
    );
    return;
  }
  rt.io.out(
    `${name}: ${result.table} cursor "${result.column}": ` +
      result.parts
        .map(
          (p) =>
            `${p.part === 'deletes' ? 'delete capture' : p.part} ${p.status === 'added' ? 'added' : 'already there'}`,
        )
        .join(', '),
  );
}
