import { loadSettings } from '../../../src/config/settings';
import { parseDefinition } from '../../../src/core/definition/parse';
import { createEngineContext } from '../../../src/core/engine/context';
import { provisionList } from '../../../src/core/engine/provision';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import type { EngineContext } from '../../../src/core/engine/types';
import { upsertDefinitions } from '../../../src/core/store/definitions';
import { freshDatabase, type TestDatabase } from '../../support/db';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * Review r1: the pull's one-item path (applyPage.ts `alone`) records a conflict in the metadata database, then writes
 * the winner into Postgres inside the item's savepoint, which exists only on the source connection. When the source
 * is another database than the metadata store and Postgres refuses the write, the savepoint undoes the write but not
 * the conflict record: a conflict stays on record as RESOLVED ("SharePoint wins") although nothing was applied and
 * the item is parked; every retry records one more. With one database the same savepoint undoes both.
 */
describe('I7 a conflict whose winner Postgres refuses (source in another database)', () => {
  let h: Harness;
  let src: TestDatabase;
  let ctx: EngineContext;
  let closeCtx: () => Promise<void>;

  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
    src = await freshDatabase();
    const settings = loadSettings({
      DATABASE_URL: h.db.url,
      GRAPH_BASE_URL: h.emulator.baseUrl,
      GRAPH_TOKEN: h.emulator.appToken,
      GRAPH_RU_PER_MINUTE: '10000000',
      GRAPH_MAX_CONCURRENCY: '8',
    });
    ({ ctx, close: closeCtx } = await createEngineContext(settings, {
      caCert: h.emulator.caCert,
      env: { ARCORE_CONNECTION_SRC: src.url },
      log: { info() {}, warn() {}, error() {} },
    }));
  });
  afterAll(async () => {
    await closeCtx();
    await src.drop();
    await h.close();
  });

  it('records no resolved conflict for a write that never happened', async () => {
    await src.pool.query(`CREATE TABLE refused (id integer PRIMARY KEY, name text,
      budget numeric(12,2) CHECK (budget >= 0), updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO refused (id, name, budget) VALUES (1, 'one', 10)`);
    const def = parseDefinition({
      name: 'refused',
      source: {
        table: 'refused',
        key: ['id'],
        cursor: { type: 'TIMESTAMP', column: 'updated_at' },
        connection: 'SRC',
      },
      target: { site: SITE, list: 'refused' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'budget', target: 'Budget' },
      ],
      conflictPolicy: 'DESTINATION_WINS',
    });
    await upsertDefinitions(h.db.pool, [def]);
    await provisionList(ctx, def.name);
    await runPush(ctx, 'refused', { trigger: 'test' });
    await runPull(ctx, 'refused', { trigger: 'test' });
    const [item] = await h.items('refused');

    // Budget edited on both sides; SharePoint wins, and Postgres refuses its value.
    await src.pool.query('UPDATE refused SET budget = 20');
    const fields = `/sites/${h.siteId}/lists/refused/items/${item.id}/fields`;
    expect((await h.asUser('PATCH', fields, { Budget: -5 })).status).toBe(200);
    expect(await runPull(ctx, 'refused', { trigger: 'test' })).toMatchObject({ failed: 1, conflicts: 0 });
    expect(await runPull(ctx, 'refused', { trigger: 'test' })).toMatchObject({ failed: 1, conflicts: 0 });

    const { rows } = await h.db.pool.query('SELECT status, outcome FROM arcore.sync_conflicts ORDER BY id');
    expect({
      budget: (await src.pool.query('SELECT budget FROM refused')).rows[0].budget,
      conflicts: rows,
    }).toEqual({ budget: '20.00', conflicts: [] });
  });
});
