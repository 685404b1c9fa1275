import { describeDifferences, verifyDefinition } from '../../core/engine/verify';
import { SidesDifferError } from '../failures';
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
      report.softDeletedRows > 0 ? `${report.softDeletedRows} row(s) flagged deleted by the pull` : null,
    ].filter((s): s is string => s !== null);
    if (kept.length > 0) rt.io.out(`not counted as unpaired: ${kept.join(', ')}`);
    if (report.agree) rt.io.out(`${name}: both sides agree (fields compared: ${report.fields.join(', ')})`);
    else rt.io.out(describeDifferences(report).join('\n'));
  }
  if (!report.agree) throw new SidesDifferError(name, report.differences, report.unpaired);
}
