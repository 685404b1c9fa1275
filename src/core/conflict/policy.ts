/** How a conflict (a change on both sides since the last sync, I7) is decided for a sync definition. */
export type ConflictPolicy = 'SOURCE_WINS' | 'DESTINATION_WINS' | 'LAST_WRITER_WINS' | 'MERGE' | 'MANUAL';

/** What decides a field MERGE cannot merge (edited on both sides) or a delete against an edit. */
export type TieBreaker = 'SOURCE_WINS' | 'DESTINATION_WINS' | 'LAST_WRITER_WINS';

/** Postgres is the source (push reads it), SharePoint the destination. */
export const DEFAULT_TIE_BREAKER: TieBreaker = 'SOURCE_WINS';

/**
 * FIELD: a conflict is a field changed on both sides (or a delete against an edit); other edits are all kept.
 * ROW: any change on both sides is a conflict of the whole row.
 */
export type ConflictDetection = 'FIELD' | 'ROW';
