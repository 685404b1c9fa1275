/**
 * Conflict records name the fields in conflict (I7), and record items that carry the hidden key of a row
 * already paired with another live item (a copy, a flow, an import): kind COPY. A COPY conflict does not park
 * the row (the pair keeps syncing); at most one is open per item.
 */
export const name = 'conflict_fields';

export const sql = `
ALTER TABLE arcore.sync_conflicts
  ADD COLUMN fields text[] NOT NULL DEFAULT '{}',
  ADD COLUMN kind text NOT NULL DEFAULT 'CHANGE' CHECK (kind IN ('CHANGE', 'COPY'));

DROP INDEX arcore.sync_conflicts_open;
CREATE UNIQUE INDEX sync_conflicts_open ON arcore.sync_conflicts (definition_id, source_identity_hash)
  WHERE status = 'OPEN' AND kind = 'CHANGE';
CREATE UNIQUE INDEX sync_conflicts_open_copy ON arcore.sync_conflicts (definition_id, sp_item_id)
  WHERE status = 'OPEN' AND kind = 'COPY';
`;
