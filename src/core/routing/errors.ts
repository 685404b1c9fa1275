import type { ErrorKind } from '../errors/kind';

/**
 * A route condition that cannot be used: a syntax error, an unknown column or a type mismatch. `position` is the
 * 0-based offset in the condition text; the message names it 1-based ("at character 7"), as editors count.
 */
export class RouteConditionError extends Error {
  readonly errorKind: ErrorKind = 'invalid_definition';

  constructor(
    readonly problem: string,
    readonly position: number,
    readonly condition: string,
  ) {
    super(`${problem} at character ${position + 1} of "${condition}"`);
    this.name = 'RouteConditionError';
  }
}

/** A code path that handles exactly one list was given a routed definition (`target.routes`). */
export class RoutedDefinitionError extends Error {
  readonly errorKind: ErrorKind = 'invalid_definition';

  constructor(
    readonly definition: string,
    readonly operation: string,
  ) {
    super(
      `Definition "${definition}" routes rows to several lists (target.routes), but ${operation} handles a ` +
        'definition with one list (target.list) only',
    );
    this.name = 'RoutedDefinitionError';
  }
}

/** routeOf was given values without a column a condition reads: the caller built the values wrongly. */
export class RouteInputError extends Error {
  readonly errorKind: ErrorKind = 'internal';

  constructor(readonly column: string) {
    super(`route values lack column "${column}" that a route condition reads`);
    this.name = 'RouteInputError';
  }
}
