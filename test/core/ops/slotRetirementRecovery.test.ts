import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { runPush } from '../../../src/core/engine/push';
import { retireIdleSlots } from '../../../src/core/ops/slotMaintenance';
import { upsertDefinitions } from '../../../src/core/store/definitions';
import { parseDefinition } from '../../../src/core/definition/parse';
import { closeCapturing } from '../../support/capture';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/*
 * End to end with the capture engine and the emulator: a definition disabled too long loses its slot to the
 * push timer; changes made while it has none are not lost when it is enabled again, and no item is doubled.
 */
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  await h.db.pool.query('CREATE TABLE paused (id integer PRIMARY KEY, name text)');
  await h.db.pool.query("INSERT INTO paused SELECT g, 'row ' || g FROM generate_series(1, 6) g");
});
afterAll(() => closeCapturing(h));

function definition(enabled: boolean): SyncDefinitionInput {
  return {
    name: 'paused',
    enabled,
    source: { table: 'paused', key: ['id'], cursor: { type: 'LSN' } },
    target: { site: SITE, list: 'Paused' },
    fields: [{ source: 'name', target: 'Title' }],
  };
}

const titles = async () => (await h.items('Paused')).map((i) => String(i.fields.Title)).sort();

it('re-enabled after its slot was dropped, it re-reads the table and compares: changes kept, nothing doubled', async () => {
  await h.define(definition(true));
  expect((await runPush(h.ctx, 'paused', { trigger: 'test' })).created).toBe(6);

  await upsertDefinitions(h.db.pool, [parseDefinition(definition(false))]);
  const retired = await retireIdleSlots(
    h.ctx,
    { warnBytes: 1024 ** 3, dropAfterDisabledHours: 72 },
    new Date(Date.now() + 73 * 3_600_000),
  );
  expect(retired.map((r) => r.dropped.map((d) => d.kind))).toEqual([['slot', 'publication']]);

  // While no slot records them: an update, a delete and an insert.
  await h.db.pool.query("UPDATE paused SET name = 'row 2 edited' WHERE id = 2");
  await h.db.pool.query('DELETE FROM paused WHERE id = 5');
  await h.db.pool.query("INSERT INTO paused VALUES (7, 'row 7')");

  await upsertDefinitions(h.db.pool, [parseDefinition(definition(true))]);
  const summary = await runPush(h.ctx, 'paused', { trigger: 'test' });
  expect(summary.status).toBe('SUCCEEDED');
  expect({ created: summary.created, updated: summary.updated, deleted: summary.deleted }).toEqual({
    created: 1,
    updated: 1,
    deleted: 1,
  });
  expect(await titles()).toEqual(['row 1', 'row 2 edited', 'row 3', 'row 4', 'row 6', 'row 7']);
  // A new slot carries on: the next change arrives through it.
  await h.db.pool.query("UPDATE paused SET name = 'row 3 edited' WHERE id = 3");
  expect((await runPush(h.ctx, 'paused', { trigger: 'test' })).updated).toBe(1);
  expect(await titles()).toContain('row 3 edited');
});
