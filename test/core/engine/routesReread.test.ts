import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { applyDefinitions, DefinitionBusyForApplyError } from '../../../src/core/engine/apply';
import { runPush } from '../../../src/core/engine/push';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { tryLockDefinition } from '../../../src/core/store/locks';
import { closeCapturing } from '../../support/capture';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import { expectBalanced } from '../../support/routed';

/**
 * A routes change moves every synced row whose list changes, as `apply` says, not only the rows a push reads
 * again because they changed (issue 23's closing note): `apply` makes the next push read every row once more,
 * bounded by the time budget and continued by the runs after it, for a TIMESTAMP and an LSN cursor alike.
 */
describe('a routes change re-reads every row: all rows whose route changed move', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => closeCapturing(h));

  const OLD = (p: string) => [{ when: "status == 'OPEN'", list: `${p}Open` }, { list: `${p}Closed` }];
  // Every row's list changes: the open ones go to Closed, the others to Open.
  const NEW = (p: string) => [{ when: "status == 'OPEN'", list: `${p}Closed` }, { list: `${p}Open` }];

  function definition(
    name: string,
    cursor: SyncDefinitionInput['source']['cursor'],
    routes: { when?: string; list: string }[],
  ): SyncDefinitionInput {
    return {
      name,
      source: { table: name, key: ['id'], cursor, pageSize: 2 },
      target: { site: SITE, routes },
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'status', target: 'Status' },
      ],
    };
  }

  async function setUp(name: string, cursor: SyncDefinitionInput['source']['cursor']): Promise<void> {
    await h.db.pool.query(`CREATE TABLE ${name} (
      id integer PRIMARY KEY, title text, status text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    // Both lists provisioned: each list's routes in turn, then the old routes stored.
    await h.define(definition(name, cursor, [{ list: `${name}Open` }]));
    await h.define(definition(name, cursor, [{ list: `${name}Closed` }]));
    await h.define(definition(name, cursor, OLD(name)));
    await h.db.pool.query(
      `INSERT INTO ${name} (id, title, status)
       SELECT i, 't' || i, CASE WHEN i % 2 = 0 THEN 'OPEN' ELSE 'CLOSED' END FROM generate_series(1, 6) i`,
    );
    // Older than the overlap window (I5b), which would read them again anyway.
    await h.db.pool.query(`ALTER TABLE ${name} DISABLE TRIGGER USER`);
    await h.db.pool.query(
      `UPDATE ${name} SET updated_at = now() - interval '1 hour' - (7 - id) * interval '10 minutes'`,
    );
    await h.db.pool.query(`ALTER TABLE ${name} ENABLE TRIGGER USER`);
    const first = await runPush(h.ctx, name, { trigger: 'test' });
    expect(first).toMatchObject({ status: 'SUCCEEDED', created: 6, complete: true });
    expect(await titles(`${name}Open`)).toEqual(['t2', 't4', 't6']);
    expect(await titles(`${name}Closed`)).toEqual(['t1', 't3', 't5']);
  }

  const titles = async (list: string) => (await h.items(list)).map((i) => String(i.fields.Title)).sort();
  const apply = (input: SyncDefinitionInput) => applyDefinitions(h.db.pool, [parseDefinition(input)]);

  async function expectAllMovedAcrossRuns(name: string, alsoClosed: string[] = []): Promise<void> {
    // A time budget spent after the first page: the push stops there and the next one goes on.
    const stopped = await runPush(h.ctx, name, { trigger: 'test', maxSeconds: 0.001 });
    expectBalanced(stopped);
    expect(stopped).toMatchObject({ complete: false, error: null });
    expect(stopped.moved).toBeGreaterThan(0);
    expect(stopped.moved).toBeLessThan(6);
    let moved = stopped.moved;
    for (let i = 0; i < 5 && moved < 6; i++) {
      const s = await runPush(h.ctx, name, { trigger: 'test' });
      expectBalanced(s);
      expect(s.error).toBeNull();
      moved += s.moved;
      if (s.complete) break;
    }
    expect(moved).toBe(6);
    expect(await titles(`${name}Open`)).toEqual(['t1', 't3', 't5']);
    expect(await titles(`${name}Closed`)).toEqual(['t2', 't4', 't6', ...alsoClosed]);
    // Done: the next push moves nothing more and creates nothing.
    const after = await runPush(h.ctx, name, { trigger: 'test', full: true });
    expect(after).toMatchObject({ moved: 0, created: 0, error: null });
  }

  it('TIMESTAMP: no row changed, yet every row whose route changed moves, across runs when the budget stops one', async () => {
    await setUp('tcases', { type: 'TIMESTAMP', column: 'updated_at' });
    const applied = await apply(
      definition('tcases', { type: 'TIMESTAMP', column: 'updated_at' }, NEW('tcases')),
    );
    const change = applied.definitions[0].changes.find((c) => c.kind === 'routes-changed');
    expect(change?.effect).toMatch(/^the next push reads every row again .* and moves every synced row/);
    await expectAllMovedAcrossRuns('tcases');
  });

  it('LSN: the table is loaded again for the new routes while the slot keeps what changes meanwhile', async () => {
    await setUp('lcases', { type: 'LSN' });
    await apply(definition('lcases', { type: 'LSN' }, NEW('lcases')));
    // A change after apply, kept by the slot and applied after the load: t7 (OPEN) goes to Closed.
    await h.db.pool.query("INSERT INTO lcases (id, title, status) VALUES (7, 't7', 'OPEN')");
    await expectAllMovedAcrossRuns('lcases', ['t7']);
  });

  it('apply of a routes change waits for a run in progress: nothing is saved while it holds the lock', async () => {
    const { rows } = await h.db.pool.query<{ id: string }>(
      "SELECT id::text AS id FROM arcore.sync_definitions WHERE name = 'tcases'",
    );
    const lock = await tryLockDefinition(h.db.pool, rows[0].id);
    expect(lock).not.toBeNull();
    try {
      await expect(
        apply(definition('tcases', { type: 'TIMESTAMP', column: 'updated_at' }, OLD('tcases'))),
      ).rejects.toThrow(DefinitionBusyForApplyError);
      await expect(
        apply(definition('tcases', { type: 'TIMESTAMP', column: 'updated_at' }, OLD('tcases'))),
      ).rejects.toThrow(/read every row again for its route; nothing was saved/);
    } finally {
      await lock?.release();
    }
    const { rows: stored } = await h.db.pool.query<{ routes: unknown }>(
      "SELECT document -> 'target' -> 'routes' AS routes FROM arcore.sync_definitions WHERE name = 'tcases'",
    );
    expect(stored[0].routes).toEqual(NEW('tcases'));
  });
});
