/**
 * Replication slot safety (LSN definitions):
 * - `disabled_at`: when the definition was last disabled (null while enabled), kept by a trigger on every way a
 *   definition is saved, so that the push timer can drop the slot of one disabled longer than
 *   SLOT_DROP_AFTER_DISABLED_HOURS. Definitions already disabled count from their last change.
 * - `slot_dropped_at`: when that drop happened, shown by `status` until the definition is enabled again (its next
 *   push then re-reads the table and compares, since the drop also cleared its cursor).
 */
export const name = 'slot_retirement';

export const sql = `
ALTER TABLE arcore.sync_definitions
  ADD COLUMN disabled_at timestamptz,
  ADD COLUMN slot_dropped_at timestamptz;
UPDATE arcore.sync_definitions SET disabled_at = updated_at WHERE NOT enabled;

CREATE FUNCTION arcore.track_definition_disabled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.enabled THEN
    NEW.disabled_at := NULL;
    NEW.slot_dropped_at := NULL;
  ELSIF TG_OP = 'INSERT' OR OLD.enabled THEN
    NEW.disabled_at := now();
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER sync_definitions_disabled_at
  BEFORE INSERT OR UPDATE OF enabled ON arcore.sync_definitions
  FOR EACH ROW EXECUTE FUNCTION arcore.track_definition_disabled();
`;
