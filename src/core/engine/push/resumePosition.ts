/**
 * Where a push stopped by its time budget goes on (I5b, I16). Every push starts by re-reading the overlap window
 * behind its stored cursor, for late commits. A run whose budget is spent before it gets past that window (a bulk
 * update put more rows there than one run reads, or pages of rows sharing the cursor's timestamp) would leave its
 * continuation only the cursor, so every continuation would read the same window and stop again: stuck, every row
 * after it never pushed. The position the stopped run reached is kept beside the cursor value it belongs to
 * (sync_cursors.progress); its continuation goes on after it, and the window is read again by the next run after
 * one that ended. Late commits behind that position are caught by that next run, as they are for one long run.
 */
import { z } from 'zod';
import type { Pool, PoolClient } from 'pg';
import type { KeysetPosition } from '../../cursor/timestampCursor';

const schema = z.object({
  v: z.literal(1),
  resume: z.object({ ts: z.string().min(1), key: z.array(z.unknown()).min(1) }),
  /** The stored cursor value when the run stopped: a position kept for another cursor is not used. */
  cursor: z.string(),
});

/** The position kept for this cursor value, or null (none, unreadable, or kept for another cursor). */
export function resumePositionFor(progress: string | null, cursorValue: string): KeysetPosition | null {
  if (!progress) return null;
  let json: unknown;
  try {
    json = JSON.parse(progress);
  } catch {
    return null; // unreadable: the run starts at the window's start, which is always safe
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success || parsed.data.cursor !== cursorValue) return null;
  return { ts: parsed.data.resume.ts, key: parsed.data.resume.key };
}

/**
 * Keeps where a stopped run got to, after its pages are committed, and only while the cursor is the value its
 * last commit stored (a page's cursor commit clears it: store/cursors.ts writeCursor).
 */
export async function saveResumePosition(
  db: Pool | PoolClient,
  definitionId: string,
  cursorValue: string,
  position: KeysetPosition,
): Promise<void> {
  await db.query(
    `UPDATE arcore.sync_cursors SET progress = $3
      WHERE definition_id = $1 AND scope = 'SOURCE' AND value = $2`,
    [definitionId, cursorValue, JSON.stringify({ v: 1, resume: position, cursor: cursorValue })],
  );
}

/** A run that went on from a kept position and ended: the next run reads the whole window again. */
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
