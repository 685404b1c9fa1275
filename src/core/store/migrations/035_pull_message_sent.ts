/**
 * 035: a pending pull may be owed with no queue message carrying it. `message_sent` false says so: the work that
 * asked for the pull could not send its message (a lifecycle notification finished after its answer, a local host
 * stopped with the message still queued). The next notification of the definition, the next timer tick or the next
 * local host start sends one at once, instead of taking the row for "a message is on its way" for
 * STALE_PENDING_PULL_SECONDS.
 */
export const name = 'pull_message_sent';

export const sql = `
ALTER TABLE arcore.pending_pulls ADD COLUMN message_sent boolean NOT NULL DEFAULT true;
`;
