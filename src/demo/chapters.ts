/** The chapters of the demo's story: edits in SharePoint through the webhook, a Postgres edit, a conflict, deletes both ways. */
import { runPush } from '../core/engine/push';
import type { Logger, RunSummary } from '../core/engine/types';
import { listRuns, type RunRecord } from '../core/ops';
import { startLocalHost } from '../serve';
import { Narrator, runLabel, runResult } from './narrator';
import { DEMO_DEFINITION_NAME, STATUSES } from './sampleData';
import {
  ROW,
  DEMO_BUSY_RETRY_MS,
  DemoStepError,
  DemoWorld,
  whenFree,
  itemIdOf,
  projectRow,
  settled,
  afterWebhook,
  requireSucceeded,
} from './world';

export function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)}s`;
}

export function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

export function writesOf(s: RunSummary): string {
  const writes = s.created + s.updated + s.deleted;
  return writes === 0 ? 'wrote nothing' : `wrote ${writes}`;
}

export function pullsLabel(runs: RunRecord[]): string {
  return runs.length === 0 ? 'pull' : runs.map((r) => `pull #${r.runId}`).join(', ');
}

export function pullsResult(runs: RunRecord[]): string {
  const sum = (k: 'updated' | 'created' | 'deleted' | 'skipped' | 'conflicts' | 'failed') =>
    runs.reduce((a, r) => a + r[k], 0);
  const parts = (['updated', 'created', 'deleted', 'skipped', 'conflicts', 'failed'] as const)
    .filter((k) => sum(k) > 0)
    .map((k) => `${k} ${sum(k)}`);
  return parts.length === 0 ? 'nothing to do' : parts.join(', ');
}

export function differentStatus(current: unknown): string {
  const index = STATUSES.indexOf(String(current) as (typeof STATUSES)[number]);
  return STATUSES[(index + 1) % STATUSES.length];
}

export function show(value: unknown): string {
  return JSON.stringify(value ?? null);
}

export async function aliceEditsThroughWebhook(
  world: DemoWorld,
  say: Narrator,
  hostLog: Logger,
): Promise<void> {
  say.heading('Alice edits three items in SharePoint; a webhook brings them into Postgres');
  world.host = await startLocalHost({
    ctx: world.ctx,
    port: 0,
    log: hostLog,
    pushIntervalMs: 3_600_000,
    busyRetryMs: DEMO_BUSY_RETRY_MS,
  });
  await world.host.idle();
  const { rows: subs } = await world.meta.query<{ subscription_id: string }>(
    'SELECT subscription_id FROM arcore.graph_subscriptions WHERE state = $1',
    ['ACTIVE'],
  );
  if (subs.length === 0) throw new DemoStepError('the local host created no Graph subscription for the list');
  say.line(
    `local host at ${world.host.url}; Graph subscription ${subs[0].subscription_id} → ${world.host.notificationUrl}`,
  );

  const alice = world.alice;
  const statusItem = await itemIdOf(world.meta, ROW.aliceStatus);
  const budgetItem = await itemIdOf(world.meta, ROW.aliceBudget);
  const tagsItem = await itemIdOf(world.meta, ROW.aliceTags);
  const before = {
    status: await alice.getItem(world.siteId, world.listId, statusItem),
    budget: await alice.getItem(world.siteId, world.listId, budgetItem),
    tags: await alice.getItem(world.siteId, world.listId, tagsItem),
  };
  const newStatus = differentStatus(before.status.fields.Status);
  const newBudget = 250000.5;
  const newDue = '2026-06-30T00:00:00Z';
  const currentTags = JSON.stringify([...((before.tags.fields.Tags as string[] | undefined) ?? [])].sort());
  const newTags =
    currentTags === JSON.stringify(['Customer', 'Research']) ? ['Finance'] : ['Research', 'Customer'];

  const since = await settled(world);
  await alice.updateFields(world.siteId, world.listId, statusItem, { Status: newStatus });
  await alice.updateFields(world.siteId, world.listId, budgetItem, { Budget: newBudget, DueDate: newDue });
  await alice.updateFields(world.siteId, world.listId, tagsItem, {
    'Tags@odata.type': 'Collection(Edm.String)',
    Tags: newTags,
  });
  say.line(
    `item ${statusItem} (row ${ROW.aliceStatus}): Status ${show(before.status.fields.Status)} → ${show(newStatus)}`,
  );
  say.line(
    `item ${budgetItem} (row ${ROW.aliceBudget}): Budget ${show(before.budget.fields.Budget)} → ${newBudget}, ` +
      `DueDate ${show(before.budget.fields.DueDate)} → ${show(newDue)}`,
  );
  say.line(
    `item ${tagsItem} (row ${ROW.aliceTags}): Tags ${show(before.tags.fields.Tags)} → ${show(newTags)}`,
  );

  const pulls = await afterWebhook(world, since, "Alice's edits reaching Postgres", async () => {
    const [a, b, c] = await Promise.all([
      projectRow(world.meta, ROW.aliceStatus),
      projectRow(world.meta, ROW.aliceBudget),
      projectRow(world.meta, ROW.aliceTags),
    ]);
    return (
      a?.status === newStatus &&
      Number(b?.budget) === newBudget &&
      b?.due === newDue.slice(0, 10) &&
      JSON.stringify([...(c?.tags ?? [])].sort()) === JSON.stringify([...newTags].sort())
    );
  });
  const rows = await Promise.all(
    [ROW.aliceStatus, ROW.aliceBudget, ROW.aliceTags].map((id) => projectRow(world.meta, id)),
  );
  say.line(`Graph notified the webhook; ${pullsLabel(pulls)} (trigger webhook): ${pullsResult(pulls)}`);
  say.line(
    `Postgres now: row ${ROW.aliceStatus} status ${show(rows[0]?.status)}; row ${ROW.aliceBudget} budget ${rows[1]?.budget}, ` +
      `due ${rows[1]?.due}; row ${ROW.aliceTags} tags ${show(rows[2]?.tags)}`,
  );
  say.record({
    step: "Alice's 3 edits via webhook",
    direction: 'SharePoint → Postgres',
    run: pullsLabel(pulls),
    result: pullsResult(pulls),
  });

  const echo = await whenFree(world, () => runPush(world.ctx, DEMO_DEFINITION_NAME, { trigger: 'demo' }));
  requireSucceeded(echo);
  say.line(
    `${runLabel(echo)}: ${runResult(echo)}. A push re-reads 5 minutes behind its cursor (the overlap that catches ` +
      'late commits), here every row, the 3 the pull wrote among them; each equals the values in the ledger, ' +
      'so it is an echo of a sync and nothing is written back: no loop',
  );
  say.record({
    step: 'Echo check',
    direction: 'Postgres → SharePoint',
    run: runLabel(echo),
    result: runResult(echo),
  });
}

export async function postgresEditPushed(world: DemoWorld, say: Narrator): Promise<void> {
  say.heading('A Postgres edit is pushed to SharePoint');
  const before = await projectRow(world.meta, ROW.postgresEdit);
  const newOwner = before?.owner === 'Grace Kim' ? 'Dev Patel' : 'Grace Kim';
  await world.meta.query('UPDATE public.projects SET owner = $2, budget = budget + 1000 WHERE id = $1', [
    ROW.postgresEdit,
    newOwner,
  ]);
  const after = await projectRow(world.meta, ROW.postgresEdit);
  say.line(
    `UPDATE projects SET owner = '${newOwner}', budget = budget + 1000 WHERE id = ${ROW.postgresEdit}: ` +
      `owner ${show(before?.owner)} → ${show(after?.owner)}, budget ${before?.budget} → ${after?.budget}`,
  );
  const since = await settled(world);
  const push = await whenFree(world, () => runPush(world.ctx, DEMO_DEFINITION_NAME, { trigger: 'demo' }));
  requireSucceeded(push);
  const itemId = await itemIdOf(world.meta, ROW.postgresEdit);
  const item = await world.app.getItem(world.siteId, world.listId, itemId);
  say.line(
    `${runLabel(push)}: ${runResult(push)}; item ${itemId} now has Owner ${show(item.fields.Owner)}, Budget ${show(item.fields.Budget)}`,
  );
  if (item.fields.Owner !== newOwner) throw new DemoStepError(`item ${itemId} did not receive the new owner`);
  say.record({
    step: 'Postgres edit (row 7)',
    direction: 'Postgres → SharePoint',
    run: runLabel(push),
    result: runResult(push),
  });

  // Graph notifies us of our own write too: the pull it starts must recognise it and write nothing.
  const pulls = await afterWebhook(world, since, 'the notification of our own write', async () => {
    const runs = await listRuns(world.meta, DEMO_DEFINITION_NAME, 10);
    return runs.some((r) => r.runType === 'PULL' && r.status !== 'RUNNING' && new Date(r.startedAt) >= since);
  });
  say.line(
    `our write came back as a notification; ${pullsLabel(pulls)}: ${pullsResult(pulls)}: ` +
      'the item equals the ledger, so it is an echo (loop prevention)',
  );
  say.record({
    step: 'Own write notified back',
    direction: 'SharePoint → Postgres',
    run: pullsLabel(pulls),
    result: pullsResult(pulls),
  });
}

export async function conflictUnderPolicy(world: DemoWorld, say: Narrator): Promise<void> {
  say.heading(`A conflict: row ${ROW.conflict} edited in both places before they sync`);
  const before = await projectRow(world.meta, ROW.conflict);
  const itemId = await itemIdOf(world.meta, ROW.conflict);
  const item = await world.alice.getItem(world.siteId, world.listId, itemId);
  const newBudget = Number(before?.budget ?? 0) + 7777;
  const newStatus = differentStatus(item.fields.Status);
  // Conflicts are detected per field: only Title, edited on both sides, is one; budget and Status are kept.
  const pgTitle = `${before?.name ?? ''} (budget review)`;
  const spTitle = `${String(item.fields.Title ?? '')} (Alice)`;
  const since = await settled(world);
  await world.meta.query('UPDATE public.projects SET budget = $2, name = $3 WHERE id = $1', [
    ROW.conflict,
    newBudget,
    pgTitle,
  ]);
  await world.alice.updateFields(world.siteId, world.listId, itemId, { Status: newStatus, Title: spTitle });
  say.line(`in Postgres: budget ${before?.budget} → ${newBudget.toFixed(2)}, name → ${show(pgTitle)}`);
  say.line(
    `in SharePoint, Alice: Status ${show(item.fields.Status)} → ${show(newStatus)}, Title → ${show(spTitle)} (item ${itemId})`,
  );

  const conflictQuery = `SELECT c.id::text AS id, c.policy, c.outcome, c.status, c.detected_by
      FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
     WHERE d.name = $1 AND c.source_identity->>'id' = $2 AND c.created_at >= $3 ORDER BY c.id DESC LIMIT 1`;
  const found = () =>
    world.meta.query<{ id: string; policy: string; outcome: string; status: string; detected_by: string }>(
      conflictQuery,
      [DEMO_DEFINITION_NAME, String(ROW.conflict), since],
    );
  const pulls = await afterWebhook(
    world,
    since,
    'the conflict being detected',
    async () => (await found()).rows.length > 0,
  );
  const conflict = (await found()).rows[0];
  say.line(
    `${pullsLabel(pulls)} (webhook) found Title changed on both sides since the last sync: conflict ${conflict.id}, ` +
      `policy ${conflict.policy}, outcome ${conflict.outcome}, ${conflict.status}`,
  );
  const push = await whenFree(world, () => runPush(world.ctx, DEMO_DEFINITION_NAME, { trigger: 'demo' }));
  requireSucceeded(push);
  await world.host?.idle();
  const row = await projectRow(world.meta, ROW.conflict);
  const after = await world.app.getItem(world.siteId, world.listId, itemId);
  say.line(`${runLabel(push)}: ${runResult(push)}`);
  say.line(
    `the edits to different fields are both kept: Postgres budget ${row?.budget}, status ${show(row?.status)}; ` +
      `SharePoint Budget ${show(after.fields.Budget)}, Status ${show(after.fields.Status)}`,
  );
  say.line(`Title, edited on both sides, went to MERGE's tie-breaker (the later edit): ${show(row?.name)}`);
  if (
    row?.status !== newStatus ||
    Number(after.fields.Budget) !== newBudget ||
    row?.name !== after.fields.Title ||
    (row?.name !== pgTitle && row?.name !== spTitle)
  ) {
    throw new DemoStepError(`conflict ${conflict.id} did not end with both edits on both sides`);
  }
  say.record({
    step: `Conflict on row ${ROW.conflict}`,
    direction: 'both',
    run: `${pullsLabel(pulls)}, ${runLabel(push)}`,
    result: `${conflict.policy}: ${conflict.outcome}, ${conflict.status.toLowerCase()}`,
  });
}

export async function deletesBothWays(world: DemoWorld, say: Narrator): Promise<void> {
  say.heading('Deletes in each direction');
  const pgDeletedItem = await itemIdOf(world.meta, ROW.pgDelete);
  await world.meta.query('DELETE FROM public.projects WHERE id = $1', [ROW.pgDelete]);
  say.line(`DELETE FROM projects WHERE id = ${ROW.pgDelete} (item ${pgDeletedItem})`);
  const push = await whenFree(world, () => runPush(world.ctx, DEMO_DEFINITION_NAME, { trigger: 'demo' }));
  requireSucceeded(push);
  const gone = await world.app
    .getItem(world.siteId, world.listId, pgDeletedItem)
    .then(() => false)
    .catch(() => true);
  say.line(
    `${runLabel(push)}: ${runResult(push)}; item ${pgDeletedItem} ${gone ? 'is gone from the list' : 'STILL EXISTS'}`,
  );
  if (!gone) throw new DemoStepError(`item ${pgDeletedItem} was not deleted`);
  say.record({
    step: `Delete row ${ROW.pgDelete}`,
    direction: 'Postgres → SharePoint',
    run: runLabel(push),
    result: runResult(push),
  });

  const spDeletedItem = await itemIdOf(world.meta, ROW.spDelete);
  const since = await settled(world);
  await world.alice.deleteItem(world.siteId, world.listId, spDeletedItem);
  say.line(`Alice deletes item ${spDeletedItem} (row ${ROW.spDelete}) in SharePoint`);
  const pulls = await afterWebhook(
    world,
    since,
    `row ${ROW.spDelete} being deleted`,
    async () => (await projectRow(world.meta, ROW.spDelete)) === null,
  );
  say.line(
    `${pullsLabel(pulls)} (webhook): ${pullsResult(pulls)}; row ${ROW.spDelete} is gone from Postgres`,
  );
  say.record({
    step: `Delete item of row ${ROW.spDelete}`,
    direction: 'SharePoint → Postgres',
    run: pullsLabel(pulls),
    result: pullsResult(pulls),
  });
}
