/**
 * The pull's idle probe (docs/design.md, I18) records when it last found every list's delta feed empty, as the
 * push's does in `sync_cursors.idle_checked_at` (migration 016), so `status` can say when the pull last checked
 * without a run row per minute. On the definition's row: a routed definition has no TARGET cursor row (its delta
 * links are per list), and a definition never pulled has none either.
 */
export const name = 'pull_idle_checks';

export const sql = `
ALTER TABLE arcore.sync_definitions ADD COLUMN pull_idle_checked_at timestamptz;
`;
