import type { Pool } from 'pg';
import { takeOwedPulls, type PullRequest } from '../core/subscriptions';
import type { PullMessage } from './queues';

/** The pull messages of `requests`, which the caller has armed (their pending rows say "sent"). */
export function pullMessagesFor(
  requests: readonly PullRequest[],
  trigger: PullMessage['trigger'],
): PullMessage[] {
  const enqueuedAt = new Date().toISOString();
  return requests.map((r) => ({
    definition: r.definition,
    definitionId: r.definitionId,
    trigger,
    enqueuedAt,
  }));
}

/**
 * Pulls owed with no message on its way (work that could not send one: a lifecycle notification finished after
 * its answer, a local host stopped with the message queued; or a message presumed lost), taken over by the
 * caller, which sends them. The push timer's tick (every minute by default) and the subscription timer call it, so
 * an owed pull waits at most one tick even when no notification of its list comes.
 */
export async function owedPullMessages(meta: Pool): Promise<PullMessage[]> {
  return pullMessagesFor(await takeOwedPulls(meta), 'webhook');
}
