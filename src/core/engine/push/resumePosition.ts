/**
 * What a TIMESTAMP push keeps beside its cursor between time-sliced runs (I5b, I16; sync_cursors.progress).
 *
 * Every push starts by re-reading the overlap window behind its stored cursor, for late commits. A run whose
 * budget is spent before it gets past that window (a bulk update put more rows there than one run reads, or pages
 * of rows sharing the cursor's timestamp) would leave its continuation only the cursor, so every continuation would
 * read the same window and stop again: stuck, every row after it never pushed. The position the stopped run reached
 * (`resume`) is kept beside the cursor value it belongs to; its continuation goes on after it.
 *
 * A row the stopped run found invisible (its transaction not committed yet) behind that position is read by no
 * continuation, and once one moves the cursor on, the window behind the new cursor may no longer reach it (review
 * C). So the window start the stopped run began with (`from`) is kept too, moved along with every cursor the
 * continuations commit, and the next run that does not continue starts there when it is earlier than its own
 * window: it reads everything since in one pass, as one long run would, and clears it by ending or by moving the
 * cursor on. Re-reading costs Postgres reads and hash comparisons (rows already synced are skipped, I3).
 */
import { z } from 'zod';
import type { Pool, PoolClient } from 'pg';
import type { KeysetPosition } from '../../cursor/timestampCursor';

const schema = z
  .object({
    v: z.literal(1),
    resume: z.object({ ts: z.string().min(1), key: z.array(z.unknown()).min(1) }).optional(),
    /** A window start, as Postgres prints a cursor value: the next run that does not continue reads from it. */
    from: z.string().min(1).optional(),
    /** The stored cursor value when it was kept: what is kept for another cursor is not used. */
    cursor: z.string(),
  })
  .refine((p) => p.resume !== undefined || p.from !== undefined);

/** What is kept beside a stored cursor. */
export interface Kept {
  /** Where a stopped run got to: its continuation goes on after it. */
  resume: KeysetPosition | null;
  /** The window start still owed a re-read (absent in what runs before `from` existed kept). */
  from: string | null;
}

/** What is kept for this cursor value, or null (nothing, unreadable, or kept for another cursor). */
export function keptFor(progress: string | null, cursorValue: string): Kept | null {
  if (!progress) return null;
  let json: unknown;
  try {
    json = JSON.parse(progress);
  } catch {
    return null; // unreadable: the run starts at the window's start
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success || parsed.data.cursor !== cursorValue) return null;
  const { resume, from } = parsed.data;
  return { resume: resume ? { ts: resume.ts, key: resume.key } : null, from: from ?? null };
}

/** The progress text that keeps window start `from` owed beside cursor value `cursorValue` (no position). */
export function owedWindow(cursorValue: string, from: string): string {
  return JSON.stringify({ v: 1, from, cursor: cursorValue });
}

/**
 * Keeps where a stopped run got to, and the window start it began with, after its pages are committed, and only
 * while the cursor is the value its last commit stored.
 */
export async function saveResumePosition(
  db: Pool | PoolClient,
  definitionId: string,
  cursorValue: string,
  position: KeysetPosition,
  from: string,
): Promise<void> {
  await keep(
    db,
    definitionId,
    cursorValue,
    JSON.stringify({ v: 1, resume: position, from, cursor: cursorValue }),
  );
}

/** A continuation that ended: the window start the stopped run began with is still owed a re-read. */
export async function keepOwedWindow(
  db: Pool | PoolClient,
  definitionId: string,
  cursorValue: string,
  from: string,
): Promise<void> {
  await keep(db, definitionId, cursorValue, owedWindow(cursorValue, from));
}

async function keep(db: Pool | PoolClient, definitionId: string, cursorValue: string, progress: string) {
  await db.query(
    `UPDATE arcore.sync_cursors SET progress = $3
      WHERE definition_id = $1 AND scope = 'SOURCE' AND value = $2`,
    [definitionId, cursorValue, progress],
  );
}

/** A run that read the whole window, from what was owed, and ended: nothing is kept any more. */
export async function clearResumePosition(
  db: Pool | PoolClient,
  definitionId: string,
  cursorValue: string,
): Promise<void> {
  await db.query(
    `UPDATE arcore.sync_cursors SET progress = NULL
      WHERE definition_id = $1 AND scope = 'SOURCE' AND value = $2 AND progress IS NOT NULL`,
    [definitionId, cursorValue],
  );
}
