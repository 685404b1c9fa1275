/** The conformance probe's report: one entry per named check, with the documentation it comes from. */
export type CheckStatus = 'passed' | 'failed' | 'skipped';

export interface CheckResult {
  name: string;
  /** The documentation (or reported behaviour) the assumption comes from: a URL. */
  source: string;
  status: CheckStatus;
  detail: string;
}

export interface ConformanceReport {
  /** The Graph base URL and site probed. */
  target: string;
  checks: CheckResult[];
  passed: number;
  failed: number;
  skipped: number;
}

/** What a check answers; `skip` when a precondition (an earlier check, a setting) is missing. */
export interface CheckOutcome {
  status: CheckStatus;
  detail: string;
}

export const pass = (detail: string): CheckOutcome => ({ status: 'passed', detail });
export const fail = (detail: string): CheckOutcome => ({ status: 'failed', detail });
export const skip = (detail: string): CheckOutcome => ({ status: 'skipped', detail });
