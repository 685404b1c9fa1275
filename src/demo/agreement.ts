import { describeDifferences, verifyDefinition, type VerifyReport } from '../core/engine/verify';
import type { EngineContext } from '../core/engine/types';

/**
 * The demo's final check is the engine's `verify`: every Postgres row and every SharePoint item paired one
 * to one through the ledger, each flowing field compared by what it means (numbers as numbers, dates as
 * calendar days, multi-choice as sets), exactly as `arcore-sync verify` does for any definition.
 */
export type AgreementReport = VerifyReport;

export function compareSides(ctx: EngineContext, definitionName: string): Promise<AgreementReport> {
  return verifyDefinition(ctx, definitionName, { sampleSize: 5 });
}

/** A few lines naming what disagrees (first differences, unpaired rows and items). */
export function describeDisagreement(report: AgreementReport): string[] {
  return describeDifferences(report);
}
