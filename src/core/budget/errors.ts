/**
 * A wait imposed on a run (a 429 block) ends after the run's time budget: the run stops here, before
 * sending, commits what it did and is continued after `resumeAt` (I16). Not a failure.
 */
export class RunTimeBudgetError extends Error {
  override readonly name = 'RunTimeBudgetError';

  constructor(
    readonly resumeAt: number,
    readonly reason: string,
  ) {
    super(
      `${reason}: waiting until ${new Date(resumeAt).toISOString()} would exceed this run's time budget; ` +
        `the run stops here and continues after that`,
    );
  }
}
