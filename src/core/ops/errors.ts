import type { ErrorKind } from '../errors/kind';
/** A conflict id that does not exist (or is not a number). */
export class UnknownConflictError extends Error {
  override readonly name = 'UnknownConflictError';
  readonly errorKind: ErrorKind = 'not_found';

  constructor(readonly conflictId: string) {
    super(`No conflict with id "${conflictId}"`);
  }
}

/** Ids passed to retry/discard that are not parked failures of the definition. */
export class UnknownFailureError extends Error {
  override readonly name = 'UnknownFailureError';
  readonly errorKind: ErrorKind = 'not_found';

  constructor(
    readonly definition: string,
    readonly failureIds: string[],
  ) {
    super(`Definition "${definition}" has no parked failure with id ${failureIds.join(', ')}`);
  }
}

/**
 * Ids passed to discard that name held moves: rows waiting for a user to delete one of two edited items, not
 * failures. Discarding one would change nothing (the next push holds the row again while its move stands).
 */
export class HeldMoveNotDiscardedError extends Error {
  override readonly name = 'HeldMoveNotDiscardedError';
  readonly errorKind: ErrorKind = 'invalid_input';
  readonly hint: string;

  constructor(
    readonly definition: string,
    readonly failureIds: string[],
    nextStep: string,
  ) {
    super(
      `Definition "${definition}": ${failureIds.length === 1 ? 'id' : 'ids'} ${failureIds.join(', ')} ` +
        `${failureIds.length === 1 ? 'is a held move, not a failure' : 'are held moves, not failures'}: nothing was discarded ` +
        '(the next push would hold the row again while its move stands). To release a held move: ' +
        nextStep,
    );
    this.hint = nextStep;
  }
}

/** A run of the definition holds its lock (I11); the operation would race with it. Try again later. */
export class DefinitionBusyError extends Error {
  override readonly name = 'DefinitionBusyError';
  readonly errorKind: ErrorKind = 'busy';
  readonly hint = "wait for the run to finish (the definition's status shows it), then try again";

  constructor(
    readonly definition: string,
    readonly operation: string,
  ) {
    super(
      `Definition "${definition}" is running a push or pull; ${operation} needs it idle: try again shortly`,
    );
  }
}

/** `install-cursor` cannot set up the definition's table (a view, a missing table, a column of another type). */
export class CursorSetupError extends Error {
  override readonly name = 'CursorSetupError';

  constructor(
    readonly definition: string,
    problem: string,
  ) {
    super(`Definition "${definition}": ${problem}`);
  }
}
