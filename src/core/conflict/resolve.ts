import { canonicalEquals, changedFields } from './changes';
import { DEFAULT_TIE_BREAKER, type ConflictDetection, type ConflictPolicy, type TieBreaker } from './policy';
import { compareInstants, parseInstant, type Instant } from '../canonical/temporal';
import type { CanonicalRecord, CanonicalValue } from '../canonical/types';

export interface ConflictInput {
  policy: ConflictPolicy;
  /** FIELD (default): only fields changed on both sides are contested. ROW: a change on both sides contests the row. */
  detection?: ConflictDetection;
  /** Used by MERGE for fields edited on both sides and for a delete against an edit. Default SOURCE_WINS. */
  tieBreaker?: TieBreaker;
  /** The bidirectional fields; other fields flow one way and are not the resolver's business. */
  fields: string[];
  /** The synced values of the last sync (ledger); null when the pair was never synced. */
  base: CanonicalRecord | null;
  /** Current Postgres values; null = deleted (or absent). */
  postgres: CanonicalRecord | null;
  /** Current SharePoint values; null = deleted (or absent). */
  sharepoint: CanonicalRecord | null;
  /** ISO timestamp of the row's last change (its cursor column), for LAST_WRITER_WINS. */
  postgresModifiedAt?: string | null;
  /** ISO timestamp of the item's lastModifiedDateTime, for LAST_WRITER_WINS. */
  sharepointModifiedAt?: string | null;
}

export type ConflictOutcome = 'TAKE_POSTGRES' | 'TAKE_SHAREPOINT' | 'MERGED' | 'PARKED' | 'NO_CONFLICT';

export interface ConflictDecision {
  outcome: ConflictOutcome;
  /** The values (of `fields`) both sides must end with; null = deleted on both. Null for PARKED too. */
  values: CanonicalRecord | null;
  writePostgres: boolean;
  writeSharePoint: boolean;
  reason: string;
  /**
   * The fields in conflict, in `fields` order: under FIELD those changed on both sides to different values; under
   * ROW every field changed on either side; for a delete against an edit, the fields the surviving side edited.
   * Empty when there is no conflict.
   */
  fields: string[];
}

/** A timestamp given to LAST_WRITER_WINS that is not an ISO instant (I12). */
export class ConflictInputError extends Error {
  override readonly name = 'ConflictInputError';

  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(`${input}: ${reason}`);
  }
}

type Side = 'postgres' | 'sharepoint';

function project(values: CanonicalRecord | null, fields: string[]): CanonicalRecord | null {
  if (values === null) return null;
  const projected: CanonicalRecord = {};
  for (const field of fields) projected[field] = values[field] ?? null;
  return projected;
}

function sameState(a: CanonicalRecord | null, b: CanonicalRecord | null, fields: string[]): boolean {
  if (a === null || b === null) return a === b;
  return fields.every((field) => canonicalEquals(a[field], b[field]));
}

/** Whether a side changed since base: appeared, disappeared, or edited a field. */
function sideChanged(base: CanonicalRecord | null, side: CanonicalRecord | null, fields: string[]): boolean {
  if (base === null) return side !== null;
  if (side === null) return true;
  return changedFields(base, side, fields).length > 0;
}

function parseModifiedAt(label: string, value: string | null | undefined): Instant | null {
  if (value === null || value === undefined || value === '') return null;
  return parseInstant(value, (reason) => {
    throw new ConflictInputError(label, `not an ISO timestamp (${reason}): ${value.slice(0, 40)}`);
  });
}

/** LAST_WRITER_WINS: the later instant wins; a missing timestamp loses; an exact tie goes to the source. */
function lastWriter(input: ConflictInput): { winner: Side; why: string } {
  const postgresAt = parseModifiedAt('postgresModifiedAt', input.postgresModifiedAt);
  const sharepointAt = parseModifiedAt('sharepointModifiedAt', input.sharepointModifiedAt);
  if (postgresAt === null && sharepointAt === null) {
    return { winner: 'postgres', why: 'neither side has a modification time: source wins' };
  }
  if (sharepointAt === null) return { winner: 'postgres', why: 'SharePoint has no modification time' };
  if (postgresAt === null) return { winner: 'sharepoint', why: 'Postgres has no modification time' };
  const order = compareInstants(postgresAt, sharepointAt);
  if (order === 0) return { winner: 'postgres', why: 'both modified at the same instant: source wins' };
  return order > 0
    ? { winner: 'postgres', why: 'Postgres was modified last' }
    : { winner: 'sharepoint', why: 'SharePoint was modified last' };
}

function winnerBy(rule: TieBreaker, input: ConflictInput): { winner: Side; why: string } {
  switch (rule) {
    case 'SOURCE_WINS':
      return { winner: 'postgres', why: 'source (Postgres) wins' };
    case 'DESTINATION_WINS':
      return { winner: 'sharepoint', why: 'destination (SharePoint) wins' };
    case 'LAST_WRITER_WINS':
      return lastWriter(input);
    default: {
      const unknownRule: never = rule;
      throw new ConflictInputError('policy', `unknown rule ${String(unknownRule)}`);
    }
  }
}

function decide(
  outcome: ConflictOutcome,
  values: CanonicalRecord | null,
  postgres: CanonicalRecord | null,
  sharepoint: CanonicalRecord | null,
  fields: string[],
  reason: string,
  conflicting: string[] = [],
): ConflictDecision {
  return {
    outcome,
    values,
    writePostgres: !sameState(values, postgres, fields),
    writeSharePoint: !sameState(values, sharepoint, fields),
    reason,
    fields: conflicting,
  };
}

function take(
  winner: Side,
  postgres: CanonicalRecord | null,
  sharepoint: CanonicalRecord | null,
  fields: string[],
  reason: string,
  conflicting: string[],
): ConflictDecision {
  return winner === 'postgres'
    ? decide('TAKE_POSTGRES', postgres, postgres, sharepoint, fields, reason, conflicting)
    : decide('TAKE_SHAREPOINT', sharepoint, postgres, sharepoint, fields, reason, conflicting);
}

/** Fields changed on both sides since base to different values: the only ones a per-field policy must decide. */
function contestedFields(
  base: CanonicalRecord | null,
  postgres: CanonicalRecord,
  sharepoint: CanonicalRecord,
  fields: string[],
): string[] {
  const sharepointEdits = new Set(changedFields(base, sharepoint, fields));
  return changedFields(base, postgres, fields).filter(
    (field) => sharepointEdits.has(field) && !canonicalEquals(postgres[field], sharepoint[field]),
  );
}

/**
 * Three-way per field against base (I7): a field changed on one side takes that side; a field changed on both
 * sides to different values takes the side `rule` picks (asked once, only when there is such a field).
 */
function perField(
  input: ConflictInput,
  base: CanonicalRecord | null,
  postgres: CanonicalRecord,
  sharepoint: CanonicalRecord,
  rule: TieBreaker,
): { merged: CanonicalRecord; contested: string[]; tie: { winner: Side; why: string } | undefined } {
  const contested = contestedFields(base, postgres, sharepoint, input.fields);
  const sharepointEdits = new Set(changedFields(base, sharepoint, input.fields));
  const tie = contested.length ? winnerBy(rule, input) : undefined;
  const merged: CanonicalRecord = {};
  for (const field of input.fields) {
    const fromPostgres: CanonicalValue = postgres[field] ?? null;
    const fromSharePoint: CanonicalValue = sharepoint[field] ?? null;
    if (contested.includes(field))
      merged[field] = tie?.winner === 'sharepoint' ? fromSharePoint : fromPostgres;
    else merged[field] = sharepointEdits.has(field) ? fromSharePoint : fromPostgres;
  }
  return { merged, contested, tie };
}

/** MERGE of two surviving versions: three-way per field against base, the tie-breaker for same-field edits (I7). */
function mergeFields(
  input: ConflictInput,
  base: CanonicalRecord | null,
  postgres: CanonicalRecord,
  sharepoint: CanonicalRecord,
  tieBreaker: TieBreaker,
  conflicting: string[],
): ConflictDecision {
  const { merged, contested, tie } = perField(input, base, postgres, sharepoint, tieBreaker);
  const reason =
    contested.length === 0
      ? 'edits to different fields merged'
      : `edits merged; ${contested.join(', ')} edited on both sides: ${tie?.why ?? ''} (tie-breaker ${tieBreaker})`;
  return decide('MERGED', merged, postgres, sharepoint, input.fields, reason, conflicting);
}

/**
 * Decides what both sides must end with when a row/item may have changed on both sides since the last sync
 * (I7). Pure: no I/O. Only `fields` (the bidirectional ones) are considered, and `values` carries exactly
 * those fields.
 *  - Nothing changed, only one side changed, or both changed to equal values: NO_CONFLICT, the changed side's
 *    values win (also under MANUAL: there is nothing to decide).
 *  - FIELD detection (the default), both sides still exist: edits to different fields are NO_CONFLICT and all
 *    kept. Only fields changed on both sides to different values are contested, and the policy decides just
 *    those: SOURCE_WINS / DESTINATION_WINS take Postgres's / SharePoint's value, LAST_WRITER_WINS the later
 *    side's, MERGE its tie-breaker's (so under FIELD, MERGE and the tie-breaker's policy decide alike), MANUAL
 *    parks the row. Every other field takes the side that changed it.
 *  - ROW detection, or a delete against an edit (under either detection): the whole row is contested.
 *    SOURCE_WINS / DESTINATION_WINS: Postgres / SharePoint wins whole. LAST_WRITER_WINS: the later modification
 *    time wins (missing time loses, exact tie → Postgres). MERGE: per field three-way against base; fields
 *    edited on one side take that side, fields edited on both sides to different values follow the tie-breaker
 *    (default SOURCE_WINS); a delete against an edit cannot be merged: the tie-breaker decides the whole row.
 *    MANUAL: PARKED, values null, no writes; both versions wait for an operator.
 */
export function resolveConflict(input: ConflictInput): ConflictDecision {
  const { fields } = input;
  const base = project(input.base, fields);
  const postgres = project(input.postgres, fields);
  const sharepoint = project(input.sharepoint, fields);
  const tieBreaker = input.tieBreaker ?? DEFAULT_TIE_BREAKER;
  const detection = input.detection ?? 'FIELD';
  const postgresChanged = sideChanged(base, postgres, fields);
  const sharepointChanged = sideChanged(base, sharepoint, fields);

  if (!postgresChanged && !sharepointChanged) {
    return decide(
      'NO_CONFLICT',
      postgres,
      postgres,
      sharepoint,
      fields,
      'neither side changed since the last sync',
    );
  }
  if (!sharepointChanged) {
    return decide(
      'NO_CONFLICT',
      postgres,
      postgres,
      sharepoint,
      fields,
      'only Postgres changed since the last sync',
    );
  }
  if (!postgresChanged) {
    return decide(
      'NO_CONFLICT',
      sharepoint,
      postgres,
      sharepoint,
      fields,
      'only SharePoint changed since the last sync',
    );
  }
  if (sameState(postgres, sharepoint, fields)) {
    const what = postgres === null ? 'both sides deleted' : 'both sides changed to the same values';
    return decide('NO_CONFLICT', postgres, postgres, sharepoint, fields, what);
  }

  if (postgres !== null && sharepoint !== null && detection === 'FIELD') {
    return decideFields(input, base, postgres, sharepoint, tieBreaker);
  }
  const survivor = postgres ?? sharepoint;
  const conflicting =
    postgres !== null && sharepoint !== null
      ? fields.filter(
          (f) =>
            changedFields(base, postgres, [f]).length > 0 || changedFields(base, sharepoint, [f]).length > 0,
        )
      : changedFields(base, survivor as CanonicalRecord, fields);

  // A delete against an edit says which side deleted: the operator's choice then deletes or re-creates.
  const changed =
    postgres === null
      ? 'deleted in Postgres, edited in SharePoint'
      : sharepoint === null
        ? 'deleted in SharePoint, edited in Postgres'
        : 'both sides changed';
  switch (input.policy) {
    case 'MANUAL':
      return {
        outcome: 'PARKED',
        values: null,
        writePostgres: false,
        writeSharePoint: false,
        reason: `${changed}: parked for manual resolution`,
        fields: conflicting,
      };
    case 'SOURCE_WINS':
    case 'DESTINATION_WINS':
    case 'LAST_WRITER_WINS': {
      const { winner, why } = winnerBy(input.policy, input);
      return take(winner, postgres, sharepoint, fields, `${changed}: ${why}`, conflicting);
    }
    case 'MERGE': {
      if (postgres === null || sharepoint === null) {
        const { winner, why } = winnerBy(tieBreaker, input);
        const deleted = postgres === null ? 'Postgres' : 'SharePoint';
        return take(
          winner,
          postgres,
          sharepoint,
          fields,
          `deleted in ${deleted} and edited on the other side, which cannot be merged: ${why} (tie-breaker ${tieBreaker})`,
          conflicting,
        );
      }
      return mergeFields(input, base, postgres, sharepoint, tieBreaker, conflicting);
    }
    default: {
      const unknownPolicy: never = input.policy;
      throw new ConflictInputError('policy', `unknown conflict policy ${String(unknownPolicy)}`);
    }
  }
}

/** FIELD detection of two surviving versions: the policy decides only the fields changed on both sides. */
function decideFields(
  input: ConflictInput,
  base: CanonicalRecord | null,
  postgres: CanonicalRecord,
  sharepoint: CanonicalRecord,
  tieBreaker: TieBreaker,
): ConflictDecision {
  const { fields } = input;
  const contested = contestedFields(base, postgres, sharepoint, fields);
  if (contested.length === 0) {
    const { merged } = perField(input, base, postgres, sharepoint, tieBreaker);
    return decide(
      'NO_CONFLICT',
      merged,
      postgres,
      sharepoint,
      fields,
      'both sides changed different fields: every edit kept',
    );
  }
  const named = contested.join(', ');
  switch (input.policy) {
    case 'MANUAL':
      return {
        outcome: 'PARKED',
        values: null,
        writePostgres: false,
        writeSharePoint: false,
        reason: `${named} changed on both sides: parked for manual resolution`,
        fields: contested,
      };
    case 'MERGE':
      return mergeFields(input, base, postgres, sharepoint, tieBreaker, contested);
    case 'SOURCE_WINS':
    case 'DESTINATION_WINS':
    case 'LAST_WRITER_WINS': {
      const { merged, tie } = perField(input, base, postgres, sharepoint, input.policy);
      const winner = tie?.winner ?? 'postgres';
      const others = fields.length > contested.length ? '; edits to other fields kept' : '';
      return decide(
        winner === 'postgres' ? 'TAKE_POSTGRES' : 'TAKE_SHAREPOINT',
        merged,
        postgres,
        sharepoint,
        fields,
        `${named} changed on both sides: ${tie?.why ?? ''}${others}`,
        contested,
      );
    }
    default: {
      const unknownPolicy: never = input.policy;
      throw new ConflictInputError('policy', `unknown conflict policy ${String(unknownPolicy)}`);
    }
  }
}
