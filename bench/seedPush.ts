/**
 * The seed's push algorithm, for scenario 9: every source row in key order, one ledger query for it, then one
 * Graph request (create, or update when its hash changed), strictly one after another. No batching, no
 * concurrency, no pacing. Its ledger is a simple table of its own (`seed_ledger`).
 */
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import type { Agent } from 'undici';
import { z } from 'zod';
import { LIST, TABLE } from './dataset';

export class SeedPushError extends Error {
  constructor(
    message: string,
    readonly rowId: number,
    readonly httpStatus: number,
  ) {
    super(`seed push, row ${rowId}: ${message} (HTTP ${httpStatus})`);
    this.name = 'SeedPushError';
  }
}

export interface SeedTarget {
  baseUrl: string;
  token: string;
  siteId: string;
  dispatcher: Agent;
}

export interface SeedPushResult {
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  graphRequests: number;
  ledgerQueries: number;
}

const sourceRowSchema = z.object({
  id: z.number().int(),
  title: z.string().nullable(),
  amount: z.number().nullable(),
  quantity: z.number().nullable(),
  ratio: z.number().nullable(),
  due: z.string().nullable(),
  happened_at: z.string().nullable(),
  done: z.boolean().nullable(),
  ref: z.string().nullable(),
  tags: z.array(z.string()).nullable(),
  meta: z.string().nullable(),
});
type SourceRow = z.infer<typeof sourceRowSchema>;

const createdItemSchema = z.object({ id: z.string() });
const ledgerRowSchema = z.object({ item_id: z.string(), content_hash: z.string() });

function toFields(row: SourceRow): Record<string, unknown> {
  return {
    Title: row.title,
    Amount: row.amount,
    Quantity: row.quantity,
    Ratio: row.ratio,
    Due: row.due === null ? null : `${row.due}T00:00:00Z`,
    HappenedAt: row.happened_at,
    Done: row.done,
    Ref: row.ref,
    'Tags@odata.type': 'Collection(Edm.String)',
    Tags: row.tags ?? [],
    Meta: row.meta,
  };
}

export async function createSeedLedger(pool: Pool): Promise<void> {
  await pool.query(
    'CREATE TABLE IF NOT EXISTS seed_ledger (row_key text PRIMARY KEY, item_id text NOT NULL, content_hash text NOT NULL)',
  );
}

/** Pushes rows with `firstId <= id <= lastId` the seed's way. */
export async function seedPush(
  pool: Pool,
  target: SeedTarget,
  firstId: number,
  lastId: number,
): Promise<SeedPushResult> {
  const { rows } = await pool.query(
    `SELECT id, title, amount::float8 AS amount, quantity, ratio, due::text AS due,
            to_char(happened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS happened_at,
            done, ref::text AS ref, tags, meta::text AS meta
     FROM ${TABLE} WHERE id BETWEEN $1 AND $2 ORDER BY id`,
    [firstId, lastId],
  );
  const result: SeedPushResult = {
    rows: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    graphRequests: 0,
    ledgerQueries: 0,
  };
  const itemsUrl = `${target.baseUrl}/sites/${target.siteId}/lists/${LIST}/items`;
  const send = async (
    method: string,
    url: string,
    body: unknown,
  ): Promise<{ status: number; json: unknown }> => {
    result.graphRequests++;
    const response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      dispatcher: target.dispatcher,
    } as RequestInit);
    const text = await response.text();
    return { status: response.status, json: text ? (JSON.parse(text) as unknown) : null };
  };
  for (const raw of rows) {
    const row = sourceRowSchema.parse(raw);
    result.rows++;
    const key = String(row.id);
    const fields = toFields(row);
    const hash = createHash('sha256').update(JSON.stringify(fields)).digest('hex');
    result.ledgerQueries++;
    const ledger = await pool.query('SELECT item_id, content_hash FROM seed_ledger WHERE row_key = $1', [
      key,
    ]);
    const entry = ledger.rows.length ? ledgerRowSchema.parse(ledger.rows[0]) : null;
    if (!entry) {
      const answer = await send('POST', itemsUrl, { fields });
      if (answer.status !== 201)
        throw new SeedPushError(`create failed: ${JSON.stringify(answer.json)}`, row.id, answer.status);
      const item = createdItemSchema.parse(answer.json);
      await pool.query('INSERT INTO seed_ledger (row_key, item_id, content_hash) VALUES ($1, $2, $3)', [
        key,
        item.id,
        hash,
      ]);
      result.created++;
    } else if (entry.content_hash !== hash) {
      const answer = await send('PATCH', `${itemsUrl}/${entry.item_id}/fields`, fields);
      if (answer.status !== 200)
        throw new SeedPushError(`update failed: ${JSON.stringify(answer.json)}`, row.id, answer.status);
      await pool.query('UPDATE seed_ledger SET content_hash = $2 WHERE row_key = $1', [key, hash]);
      result.updated++;
    } else {
      result.unchanged++;
    }
  }
  return result;
}
