/**
 * The idle probe (docs/design.md, I18): when a push found nothing to do without running, shared by every
 * instance, so `status` can say when the definition was last checked without a run row per minute.
 */
export const name = 'idle_checks';

export const sql = `
ALTER TABLE arcore.sync_cursors ADD COLUMN idle_checked_at timestamptz;
`;
