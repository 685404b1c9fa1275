import { z } from 'zod';

/**
 * The push cursor: a keyset position (cursor column value, key values), never a bare timestamp, so rows
 * that share a timestamp across a page boundary are all read (I5a). Values are kept exactly as Postgres
 * renders them as text (microseconds included) and are compared by Postgres, never as JS strings or Dates.
 */
export interface KeysetPosition {
  /** The cursor column's value, as Postgres text. */
  ts: string;
  /** Key column values in definition order, as read. */
  key: unknown[];
}

const positionSchema = z.object({ v: z.literal(1), ts: z.string().min(1), key: z.array(z.unknown()).min(1) });

export class CursorFormatError extends Error {
  constructor(
    readonly definition: string,
    readonly raw: string,
    reason: string,
  ) {
    super(
      `Stored SOURCE cursor of "${definition}" is unreadable (${reason}); reset it with arcore-sync reset-cursor`,
    );
    this.name = 'CursorFormatError';
  }
}

export const keysetCursor = {
  serialize(position: KeysetPosition): string {
    return JSON.stringify({ v: 1, ts: position.ts, key: position.key });
  },
  parse(definition: string, raw: string): KeysetPosition {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new CursorFormatError(definition, raw, 'not JSON');
    }
    const parsed = positionSchema.safeParse(json);
    if (!parsed.success)
      throw new CursorFormatError(definition, raw, parsed.error.issues[0]?.message ?? 'bad shape');
    return { ts: parsed.data.ts, key: parsed.data.key };
  },
};
