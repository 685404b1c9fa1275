import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { runPush } from '../../../src/core/engine/push';
import { resetCursor } from '../../../src/core/ops/cursors';
import { definitionStatus } from '../../../src/core/ops/status';
import { installCursorFor } from '../../../src/core/ops';
import { DELETE_CHUNK_ROWS } from '../../../src/core/source/postgres/tombstones';
import { closeCapturing } from '../../support/capture';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

/**
 * The full comparison of ledger and table for deletes (after a switch from LSN, a load, a delete without key)
 * keeps the run's time budget and is owed until it completes (I8, I16).
 */
describe('I16 the forced delete comparison keeps the time budget and is never forgotten', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => closeCapturing(h));

  const push = (name: string, maxSeconds?: number) => runPush(h.ctx, name, { trigger: 'test', maxSeconds });
  const titles = async (list: string) => (await h.items(list)).map((i) => String(i.fields.Title)).sort();

  /** The ids of the definition's ledger rows in the order the comparison visits them (by identity hash). */
  async function idsInComparisonOrder(name: string): Promise<number[]> {
    const { rows } = await h.db.pool.query<{ id: number }>(
      `SELECT (l.source_identity->>'id')::int AS id FROM arcore.sync_ledger l
         JOIN arcore.sync_definitions d ON d.id = l.definition_id
        WHERE d.name = $1 ORDER BY l.source_identity_hash`,
      [name],
    );
    return rows.map((r) => r.id);
  }

  function definition(name: string, source: Partial<SyncDefinitionInput['source']>): SyncDefinitionInput {
    return projectsDefinition(
      {
        name,
        source: {
          table: name,
          key: ['id'],
          cursor: { type: 'TIMESTAMP', column: 'updated_at' },
          ...source,
        },
        fields: [{ source: 'name', target: 'Title' }],
        deletes: { checkIntervalSeconds: 3600 },
      },
      name,
    );
  }

  it('stops at the time budget after one committed chunk and resumes on the next push', async () => {
    const rows = DELETE_CHUNK_ROWS + 50;
    await createProjectsTable(h.db, 'wide');
    await h.db.pool.query(`INSERT INTO wide (id, name) SELECT g, 'r' || g FROM generate_series(1, $1) g`, [
      rows,
    ]);
    // No overlap window: the stopped push reads no page again, so its time is spent only on the comparison.
    const input = definition('wide', { overlapSeconds: 0 });
    await h.define(input);
    expect(await push('wide')).toMatchObject({ status: 'SUCCEEDED', created: rows });

    // The comparison visits the ledger in identity-hash order: delete rows of its first chunk and of its second.
    const ordered = await idsInComparisonOrder('wide');
    const firstChunk = [ordered[0], ordered[500], ordered[DELETE_CHUNK_ROWS - 1]];
    const secondChunk = [ordered[DELETE_CHUNK_ROWS], ordered[rows - 1]];
    await h.db.pool.query('DELETE FROM wide WHERE id = ANY($1)', [[...firstChunk, ...secondChunk]]);
    // Installing delete capture asks for one full comparison (a tombstone without key).
    await installCursorFor(parseDefinition(input), h.db.pool);

    const stopped = await push('wide', 0.001);
    expect(stopped).toMatchObject({ status: 'SUCCEEDED', complete: false, deleted: firstChunk.length });
    const remaining = await titles('wide');
    expect(remaining).toHaveLength(rows - firstChunk.length);
    for (const id of secondChunk) expect(remaining).toContain(`r${id}`);

    const owed = async () => (await definitionStatus(h.db.pool, 'wide'))[0].deletesComparisonOwed;
    expect(await owed()).toBe(true);
    // Resetting the push cursor re-reads the table, which finds no delete: the comparison stays owed.
    expect((await resetCursor(h.db.pool, 'wide', 'source')).removed).toEqual(['SOURCE']);
    expect(await owed()).toBe(true);
    const resumed = await push('wide');
    expect(resumed).toMatchObject({ status: 'SUCCEEDED', complete: true, deleted: secondChunk.length });
    expect(await h.items('wide')).toHaveLength(rows - firstChunk.length - secondChunk.length);
    expect(await owed()).toBe(false);
    // Done: a further push owes nothing.
    expect(await push('wide')).toMatchObject({ status: 'SUCCEEDED', complete: true, deleted: 0 });
  });

  it('after a switch from LSN, a push stopped by its time budget has compared before its pages; none is left owed', async () => {
    await createProjectsTable(h.db, 'back');
    await h.db.pool.query(`INSERT INTO back (id, name) SELECT g, 'r' || g FROM generate_series(1, 30) g`);
    const timestamp = definition('back', { pageSize: 10 });
    await h.define(timestamp);
    // The first push also runs the bounded sweep: the next one is not due for an hour (checkIntervalSeconds).
    expect(await push('back')).toMatchObject({ status: 'SUCCEEDED', created: 30 });
    await h.define({ ...timestamp, source: { ...timestamp.source, cursor: { type: 'LSN' } } });
    expect(await push('back')).toMatchObject({ status: 'SUCCEEDED', created: 0, updated: 0 });

    await h.db.pool.query('DELETE FROM back WHERE id = 7'); // captured by the slot, never pushed under LSN
    await h.define(timestamp);
    // The comparison the switch owes runs before the pages, within the deletes' share (one chunk here: the whole
    // ledger); the pages stop at the time budget. A comparison longer than its share stays owed (the case above).
    const stopped = await push('back', 0.001);
    expect(stopped).toMatchObject({ status: 'SUCCEEDED', complete: false, deleted: 1 });
    expect((await definitionStatus(h.db.pool, 'back'))[0].deletesComparisonOwed).toBe(false);

    const next = await push('back');
    expect(next).toMatchObject({ status: 'SUCCEEDED', complete: true, deleted: 0 });
    expect(await titles('back')).not.toContain('r7');
    expect(await h.items('back')).toHaveLength(29);
  });

  it('a change data capture load keeps the time budget for its comparison; later LSN pushes continue it', async () => {
    const rows = DELETE_CHUNK_ROWS + 50;
    await createProjectsTable(h.db, 'loaded');
    await h.db.pool.query(`INSERT INTO loaded (id, name) SELECT g, 'r' || g FROM generate_series(1, $1) g`, [
      rows,
    ]);
    const timestamp = definition('loaded', {});
    await h.define(timestamp);
    expect(await push('loaded')).toMatchObject({ status: 'SUCCEEDED', created: rows });
    const ordered = await idsInComparisonOrder('loaded');
    const first = ordered[10];
    const second = ordered[DELETE_CHUNK_ROWS + 10];
    // Deleted before the switch and never pushed: only the load's comparison can find them.
    await h.db.pool.query('DELETE FROM loaded WHERE id = ANY($1)', [[first, second]]);
    await h.define({ ...timestamp, source: { ...timestamp.source, cursor: { type: 'LSN' } } });

    // Each stopped push commits at least a page of the load, or a chunk of the comparison.
    const stopped = [];
    for (let i = 0; i < 5; i++) {
      const run = await push('loaded', 0.001);
      stopped.push(run);
      if (run.deleted > 0) break;
    }
    expect(stopped.at(-1)).toMatchObject({ status: 'SUCCEEDED', complete: false, deleted: 1 });
    expect(await titles('loaded')).toContain(`r${second}`);
    expect(await titles('loaded')).not.toContain(`r${first}`);

    const resumed = await push('loaded');
    expect(resumed).toMatchObject({ status: 'SUCCEEDED', complete: true, deleted: 1 });
    expect(await titles('loaded')).not.toContain(`r${second}`);
    expect(await push('loaded')).toMatchObject({ status: 'SUCCEEDED', complete: true, deleted: 0 });
  });
});
