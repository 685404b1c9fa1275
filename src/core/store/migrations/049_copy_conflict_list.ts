/**
 * 049: `sync_conflicts.sp_list_id`: the list of a COPY conflict's item. Item ids are only unique within a list, and
 * a routed definition pulls several: one OPEN COPY conflict per item id let the copy of one row in one list replace
 * the record of another row's copy holding the same id in another list (one copy went unreported, the record mixed
 * the two), and an ordinary item of that id settled in one list closed the other list's copy conflict. Open COPY
 * records made before take the list their pull retry is parked under (routed: "<list id>/<item id>"), or the
 * definition's one list.
 */
export const name = 'copy_conflict_list';

export const sql = `
ALTER TABLE arcore.sync_conflicts ADD COLUMN sp_list_id text;

UPDATE arcore.sync_conflicts c SET sp_list_id = COALESCE(
    (SELECT split_part(f.item_key, '/', 1) FROM arcore.sync_failures f
      WHERE f.definition_id = c.definition_id AND f.direction = 'PULL' AND f.status = 'PARKED'
        AND f.sp_item_id = c.sp_item_id AND f.source_identity = c.source_identity AND f.item_key LIKE '%/%'
      ORDER BY f.id LIMIT 1),
    (SELECT d.list_id FROM arcore.sync_definitions d WHERE d.id = c.definition_id))
 WHERE c.kind = 'COPY' AND c.status = 'OPEN';

DROP INDEX arcore.sync_conflicts_open_copy;
CREATE UNIQUE INDEX sync_conflicts_open_copy ON arcore.sync_conflicts (definition_id, sp_list_id, sp_item_id)
  WHERE status = 'OPEN' AND kind = 'COPY';
`;
