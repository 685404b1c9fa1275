/**
 * 048: `sync_definitions.column_shape`: a fingerprint of the shape of the columns a definition reads (number, type,
 * enum labels; source/postgres/shape.ts), recorded by each run beside `column_types` (046). The push's idle probe
 * compares it with the catalog on every tick, so a retyped column, a renamed enum label or a mapped column dropped
 * and added again gets a run at once rather than at the hourly full push (engine/idle.ts, engine/columnTypes.ts).
 * Null until a run records it: the probe then lets the next push run, which does.
 */
export const name = 'column_shape';

export const sql = `
ALTER TABLE arcore.sync_definitions ADD COLUMN column_shape text;
`;
