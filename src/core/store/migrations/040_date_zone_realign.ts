/**
 * 040: `sync_definitions.realign_date_only`: set by `apply` when `target.siteTimeZone` changes. The next run, which
 * knows from the list's columns which mapped fields are date-only, forgets the synced values of just those fields
 * (so each pair's date is compared afresh, I2) and clears the flag in the same statement. Forgetting every mapped
 * field instead would turn an unpulled SharePoint edit of any other field into a conflict that the policy could
 * settle against the edit.
 */
export const name = 'date_zone_realign';

export const sql = `
ALTER TABLE arcore.sync_definitions ADD COLUMN realign_date_only boolean NOT NULL DEFAULT false;
`;
