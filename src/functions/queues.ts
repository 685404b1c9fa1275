import './bootstrap';
import { output } from '@azure/functions';
import { z } from 'zod';

/**
 * The two work queues. Names come from app settings (PUSH_QUEUE_NAME, PULL_QUEUE_NAME), resolved by the
 * host in binding properties; `AzureWebJobsStorage` is the storage account the host already uses.
 * The host moves a message that failed maxDequeueCount times (host.json) to `<queue>-poison`.
 */
export const STORAGE_CONNECTION = 'AzureWebJobsStorage';
export const PUSH_QUEUE = '%PUSH_QUEUE_NAME%';
export const PULL_QUEUE = '%PULL_QUEUE_NAME%';
export const PUSH_POISON_QUEUE = '%PUSH_QUEUE_NAME%-poison';
export const PULL_POISON_QUEUE = '%PULL_QUEUE_NAME%-poison';

export const pushQueueOutput = output.storageQueue({ queueName: PUSH_QUEUE, connection: STORAGE_CONNECTION });
export const pullQueueOutput = output.storageQueue({ queueName: PULL_QUEUE, connection: STORAGE_CONNECTION });

const definitionName = z.string().min(1).max(63);
const definitionId = z.string().regex(/^[1-9][0-9]{0,18}$/, 'must be a definition id');

/**
 * Fields a worker adds when it sends a message on (I16): `notBefore` delays it (the queue output cannot
 * set a visibility delay, so the worker waits for it, a bounded slice per delivery), `hops` counts
 * re-sends of a message that found its definition busy, `continues` the runs of an unfinished load.
 */
const relayFields = {
  notBefore: z.iso.datetime({ offset: true }).optional(),
  hops: z.number().int().min(0).max(100_000).optional(),
  continues: z.number().int().min(0).max(1_000_000).optional(),
  /**
   * Asked for through the ops API (`importExistingItems`): a routed list the run binds may hold items made before the
   * sync, taken in rather than refused (engine/unclaimedItems.ts). Carried by the message's busy retries.
   */
  importExistingItems: z.literal(true).optional(),
};

/** "Run the push of this definition": one per due definition per timer tick, or from the ops API. */
export const pushMessageSchema = z.object({
  definition: definitionName,
  definitionId: definitionId.optional(),
  trigger: z.enum(['timer', 'ops', 'continuation']).default('timer'),
  enqueuedAt: z.string().max(40).optional(),
  ...relayFields,
});
export type PushMessage = z.output<typeof pushMessageSchema>;

/** "Pull this definition": written only by whoever inserted the definition's pending_pulls row. */
export const pullMessageSchema = z.object({
  definition: definitionName,
  definitionId,
  trigger: z.enum(['webhook', 'safety', 'ops', 'continuation']).default('webhook'),
  enqueuedAt: z.string().max(40).optional(),
  ...relayFields,
});
export type PullMessage = z.output<typeof pullMessageSchema>;

/**
 * Queue triggers hand over JSON messages already parsed; anything else arrives as a string (or bytes)
 * and is parsed here, so both paths meet the same schema.
 */
export function parseQueueMessage<T>(schema: z.ZodType<T>, raw: unknown): z.ZodSafeParseResult<T> {
  let value = raw;
  if (typeof raw === 'string' || Buffer.isBuffer(raw)) {
    try {
      value = JSON.parse(raw.toString());
    } catch {
      value = raw.toString();
    }
  }
  return schema.safeParse(value);
}
