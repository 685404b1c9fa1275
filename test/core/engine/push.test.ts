import { runPush } from '../../../src/core/engine/push';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../../support/engineHarness';

/** Push tests: docs/design.md invariants I1–I11 on a real Postgres and the emulator over HTTPS. */
describe('push', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
  });
  afterEach(async () => h.close());

  const push = () => runPush(h.ctx, 'projects', { trigger: 'test' });
  const writes = () =>
    h.emulator.control
      .requestLog()
      .filter(
        (r) =>
          ['POST', 'PATCH', 'DELETE'].includes(r.method) &&
          !r.path.includes('$batch') &&
          /\/items/.test(r.path),
      );

  describe('I5 cursor safety', () => {
    it('a: 2,500 rows sharing one updated_at with page size 1,000 are all pushed, once each', async () => {
      await h.define(projectsDefinition({ source: timestampSource('projects', 1000) }));
      await h.db.pool.query('ALTER TABLE projects DISABLE TRIGGER USER');
      await h.db.pool.query(
        `INSERT INTO projects (id, name, updated_at) SELECT g, 'p' || g, '2026-01-01T00:00:00Z' FROM generate_series(1, 2500) g`,
      );
      const summary = await push();
      expect(summary).toMatchObject({ status: 'SUCCEEDED', created: 2500, failed: 0 });
      const items = await h.items('Projects');
      expect(items).toHaveLength(2500);
      expect(new Set(items.map((i) => i.fields.Title)).size).toBe(2500);
      const again = await push();
      expect(again.created + again.updated).toBe(0);
    });

    it('b: a row committed late with an older timestamp is pushed by the next run', async () => {
      await h.define(projectsDefinition());
      await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'first')");
      await push();
      await h.db.pool.query('ALTER TABLE projects DISABLE TRIGGER USER');
      await h.db.pool.query(
        "INSERT INTO projects (id, name, updated_at) VALUES (2, 'late', now() - interval '1 minute')",
      );
      const summary = await push();
      expect(summary.created).toBe(1);
      expect((await h.items('Projects')).map((i) => i.fields.Title).sort()).toEqual(['first', 'late']);
    });

    it('c: a failed write is parked, the cursor moves on, and the next run writes it', async () => {
      await h.define(projectsDefinition());
      await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'a'), (2, 'b')");
      h.emulator.control.injectFault({ method: 'POST', pathPattern: '/items$', count: 1, status: 400 });
      const first = await push();
      expect(first).toMatchObject({ created: 1, failed: 1, status: 'PARTIAL', parkedFailures: 1 });
      const { rows } = await h.db.pool.query(
        'SELECT last_error FROM arcore.sync_failures WHERE status = $1',
        ['PARKED'],
      );
      expect(rows[0].last_error).toMatch(/SharePoint rejected the write \(400/);
      const second = await push();
      expect(second).toMatchObject({ created: 1, failed: 0, parkedFailures: 0 });
      expect(await h.items('Projects')).toHaveLength(2);
    });
  });

  describe('I3 echo suppression and I10 throttle discipline', () => {
    it('a second push with no changes writes nothing; touching updated_at without changing values writes nothing', async () => {
      await h.define(projectsDefinition());
      await h.db.pool.query(
        "INSERT INTO projects (id, name, budget, due, done, tags) VALUES (1, 'a', 12.5, '2026-03-10', true, '{x,y}'), (2, 'b', null, null, null, null)",
      );
      await push();
      h.emulator.control.clearRequestLog();
      const idle = await push();
      expect(idle).toMatchObject({ created: 0, updated: 0, skipped: 2 });
      await h.db.pool.query('UPDATE projects SET name = name');
      const touched = await push();
      expect(touched).toMatchObject({ created: 0, updated: 0 });
      expect(writes()).toEqual([]);
      await h.db.pool.query('UPDATE projects SET budget = 99 WHERE id = 1');
      const changed = await push();
      expect(changed.updated).toBe(1);
    });
  });

  describe('I9 direction and system fields', () => {
    it('never sends a PULL_ONLY field nor a system field mapped BIDIRECTIONAL', async () => {
      await h.db.pool.query('ALTER TABLE projects ADD COLUMN sp_modified timestamptz, ADD COLUMN note text');
      const def = projectsDefinition();
      def.fields = [
        { source: 'name', target: 'Title' },
        { source: 'note', target: 'Note', direction: 'PULL_ONLY' },
        { source: 'sp_modified', target: 'Modified', direction: 'BIDIRECTIONAL' },
      ];
      await h.db.pool.query('ALTER TABLE projects ADD COLUMN x int');
      await h.define(def);
      await h.db.pool.query(
        "INSERT INTO projects (id, name, note, sp_modified) VALUES (1, 'a', 'not for SP', '2020-01-01Z')",
      );
      const summary = await push();
      expect(summary.created).toBe(1);
      const sent = h.emulator.control
        .requestLog()
        .filter((r) => r.method === 'POST' && /\/items$/.test(r.path));
      expect(sent.length).toBeGreaterThan(0);
      for (const r of sent) {
        const fields = (r.body as { fields: Record<string, unknown> }).fields;
        expect(fields).not.toHaveProperty('Note');
        expect(fields).not.toHaveProperty('Modified');
        expect(fields.Title).toBe('a');
      }
    });
  });

  describe('I1 identity', () => {
    it('composite keys work end to end; reset cursor re-syncs without duplicates', async () => {
      await h.db.pool
        .query(`CREATE TABLE lines (order_id int, line int, name text, updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (order_id, line))`);
      await h.define({
        name: 'lines',
        source: {
          table: 'lines',
          key: ['order_id', 'line'],
          cursor: { type: 'TIMESTAMP', column: 'updated_at' },
        },
        target: { site: 'contoso.sharepoint.com:/sites/demo', list: 'Lines' },
        fields: [{ source: 'name', target: 'Title' }],
      });
      await h.db.pool.query("INSERT INTO lines VALUES (1, 1, 'a'), (1, 2, 'b'), (2, 1, 'c')");
      expect((await runPush(h.ctx, 'lines', { trigger: 'test' })).created).toBe(3);
      await h.db.pool.query('DELETE FROM arcore.sync_cursors');
      await h.db.pool.query("UPDATE lines SET name = 'b2' WHERE order_id = 1 AND line = 2");
      const again = await runPush(h.ctx, 'lines', { trigger: 'test' });
      expect(again).toMatchObject({ created: 0, updated: 1 });
      expect((await h.items('Lines')).map((i) => i.fields.Title).sort()).toEqual(['a', 'b2', 'c']);
    });
  });

  describe('I8 deletes', () => {
    it('a deleted row removes its item under PROPAGATE', async () => {
      await h.define(projectsDefinition());
      await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'a'), (2, 'b')");
      await push();
      await h.db.pool.query('DELETE FROM projects WHERE id = 1');
      expect((await push()).deleted).toBe(1);
      expect((await h.items('Projects')).map((i) => i.fields.Title)).toEqual(['b']);
    });

    it('a deleted row keeps its item under IGNORE', async () => {
      await h.define(projectsDefinition({ deletes: { push: 'IGNORE', pull: 'PROPAGATE' } }));
      await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'a'), (2, 'b')");
      await push();
      await h.db.pool.query('DELETE FROM projects WHERE id = 1');
      expect((await push()).deleted).toBe(0);
      expect(await h.items('Projects')).toHaveLength(2);
      expect((await push()).deleted).toBe(0);
    });
  });

  describe('I6 crash safety', () => {
    it('a connection dropped after the emulator applied the creates leaves exactly one item per row', async () => {
      await h.define(projectsDefinition());
      await h.db.pool.query(
        "INSERT INTO projects (id, name) SELECT g, 'p' || g FROM generate_series(1, 30) g",
      );
      h.emulator.control.injectFault({ method: 'POST', pathPattern: '\\$batch', count: 1, drop: 'after' });
      const summary = await push();
      expect(summary.failed).toBe(0);
      await push();
      const items = await h.items('Projects');
      expect(items).toHaveLength(30);
    });
  });

  describe('I7 conflicts on push', () => {
    it('a 412 under SOURCE_WINS records the conflict and writes Postgres values', async () => {
      await h.define(projectsDefinition());
      await h.db.pool.query("INSERT INTO projects (id, name, budget) VALUES (1, 'a', 1)");
      await push();
      const [item] = await h.items('Projects');
      const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${item.id}/fields`, {
        Title: 'from SP',
      });
      expect(res.status).toBe(200);
      await h.db.pool.query("UPDATE projects SET name = 'from PG' WHERE id = 1");
      const summary = await push();
      // One outcome per row: the row counts as a conflict; its resolving write is not counted again.
      expect(summary).toMatchObject({ processed: 1, conflicts: 1, updated: 0 });
      expect((await h.items('Projects'))[0].fields.Title).toBe('from PG');
      const { rows } = await h.db.pool.query(
        'SELECT outcome, status, postgres_values, sharepoint_values FROM arcore.sync_conflicts',
      );
      expect(rows[0]).toMatchObject({ outcome: 'TAKE_POSTGRES', status: 'RESOLVED' });
      expect(rows[0].sharepoint_values.Title).toBe('from SP');
    });
  });

  describe('I10 throttling', () => {
    it('a throttled run completes with nothing lost: throttled batch items are retried after Retry-After', async () => {
      await h.define(projectsDefinition());
      await h.db.pool.query(
        "INSERT INTO projects (id, name) SELECT g, 'p' || g FROM generate_series(1, 60) g",
      );
      h.emulator.control.injectFault({
        method: 'POST',
        pathPattern: '/items$',
        count: 15,
        status: 429,
        retryAfterSeconds: 1,
      });
      const summary = await push();
      expect(summary).toMatchObject({ created: 60, failed: 0 });
      expect(await h.items('Projects')).toHaveLength(60);
    });
  });
});
