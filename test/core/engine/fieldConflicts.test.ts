import type { ConflictPolicy } from '../../../src/core/conflict';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

/**
 * I7 against Postgres and the emulator: by default (conflictDetection FIELD) edits to different fields of a row
 * on the two sides are both kept whatever the policy; only a field changed on both sides is a conflict, recorded
 * with its name, and the policy decides just that field. Under ROW any change on both sides is a conflict of the
 * whole row.
 */
describe('I7 per-field conflict detection', () => {
  let h: Harness;
  let n = 0;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  interface Pair {
    name: string;
    push: () => ReturnType<typeof runPush>;
    pull: () => ReturnType<typeof runPull>;
    row: () => Promise<Record<string, unknown>>;
    item: () => Promise<Record<string, unknown>>;
    spEdit: (fields: Record<string, unknown>) => Promise<void>;
    conflicts: () => Promise<{ fields: string[]; outcome: string; status: string; reason: string }[]>;
  }

  /** A fresh table and list, one row synced both ways ("T0", budget 10, not done). */
  async function pair(
    policy: ConflictPolicy,
    detection?: 'FIELD' | 'ROW',
    extra: Record<string, unknown> = {},
  ): Promise<Pair> {
    n++;
    const name = `fc${n}`;
    await createProjectsTable(h.db, name);
    await h.define({
      ...projectsDefinition(
        {
          name,
          source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
          conflictPolicy: policy,
          ...(detection ? { conflictDetection: detection } : {}),
          ...extra,
        },
        name,
      ),
    });
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget, done) VALUES (1, 'T0', 10, false)`);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    const pull = () => runPull(h.ctx, name, { trigger: 'test' });
    await push();
    await pull();
    const itemId = (await h.items(name))[0].id;
    return {
      name,
      push,
      pull,
      row: async () => (await h.db.pool.query(`SELECT name, budget, done FROM ${name} WHERE id = 1`)).rows[0],
      item: async () => (await h.items(name)).find((i) => i.id === itemId)!.fields,
      spEdit: async (fields) => {
        const res = await h.asUser(
          'PATCH',
          `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`,
          fields,
        );
        expect(res.status).toBe(200);
      },
      conflicts: async () =>
        (
          await h.db.pool.query(
            `SELECT c.fields, c.outcome, c.status, c.reason FROM arcore.sync_conflicts c
               JOIN arcore.sync_definitions d ON d.id = c.definition_id WHERE d.name = $1 ORDER BY c.id`,
            [name],
          )
        ).rows,
    };
  }

  const policies: ConflictPolicy[] = [
    'SOURCE_WINS',
    'DESTINATION_WINS',
    'LAST_WRITER_WINS',
    'MERGE',
    'MANUAL',
  ];

  describe.each([['pull first'], ['push first']])('edits to different fields, %s', (order) => {
    it.each(policies.map((p) => [p]))('%s keeps both edits and records no conflict', async (policy) => {
      const p = await pair(policy);
      await h.db.pool.query(`UPDATE ${p.name} SET budget = 20 WHERE id = 1`);
      await p.spEdit({ Title: 'renamed in SP', Done: true });
      const first = order === 'pull first' ? await p.pull() : await p.push();
      expect(first.conflicts).toBe(0);
      await p.pull();
      await p.push();
      expect(await p.row()).toEqual({ name: 'renamed in SP', budget: '20.00', done: true });
      expect(await p.item()).toMatchObject({ Title: 'renamed in SP', Budget: 20, Done: true });
      expect(await p.conflicts()).toEqual([]);
      // I4: settled.
      const again = [await p.push(), await p.pull()];
      expect(again.map((s) => s.created + s.updated + s.deleted)).toEqual([0, 0]);
    });
  });

  describe('the same field edited on both sides', () => {
    it.each<[ConflictPolicy, string]>([
      ['SOURCE_WINS', 'pg title'],
      ['DESTINATION_WINS', 'sp title'],
    ])(
      '%s decides only that field; the other edits of each side are kept; the record names it',
      async (policy, title) => {
        const p = await pair(policy);
        await h.db.pool.query(`UPDATE ${p.name} SET name = 'pg title', budget = 30 WHERE id = 1`);
        await p.spEdit({ Title: 'sp title', Done: true });
        expect((await p.pull()).conflicts).toBe(1);
        await p.push();
        expect(await p.row()).toEqual({ name: title, budget: '30.00', done: true });
        expect(await p.item()).toMatchObject({ Title: title, Budget: 30, Done: true });
        const [c] = await p.conflicts();
        expect(c).toMatchObject({ fields: ['Title'], status: 'RESOLVED' });
        expect(c.reason).toMatch(/^Title changed on both sides/);
      },
    );

    it('MANUAL parks the row, naming the field, and changes neither side', async () => {
      const p = await pair('MANUAL');
      await h.db.pool.query(`UPDATE ${p.name} SET name = 'pg title', budget = 30 WHERE id = 1`);
      await p.spEdit({ Title: 'sp title', Done: true });
      expect((await p.pull()).conflicts).toBe(1);
      await p.push();
      expect(await p.row()).toEqual({ name: 'pg title', budget: '30.00', done: false });
      expect(await p.item()).toMatchObject({ Title: 'sp title', Budget: 10, Done: true });
      expect(await p.conflicts()).toEqual([
        expect.objectContaining({ fields: ['Title'], status: 'OPEN', outcome: 'PARKED' }),
      ]);
    });
  });

  describe('conflictDetection ROW', () => {
    it('a change on both sides is a conflict of the whole row: SOURCE_WINS takes the Postgres row', async () => {
      const p = await pair('SOURCE_WINS', 'ROW');
      await h.db.pool.query(`UPDATE ${p.name} SET budget = 20 WHERE id = 1`);
      await p.spEdit({ Title: 'renamed in SP' });
      expect((await p.pull()).conflicts).toBe(1);
      await p.push();
      expect(await p.row()).toEqual({ name: 'T0', budget: '20.00', done: false });
      expect(await p.item()).toMatchObject({ Title: 'T0', Budget: 20 });
      expect(await p.conflicts()).toEqual([
        expect.objectContaining({ fields: ['Title', 'Budget'], outcome: 'TAKE_POSTGRES' }),
      ]);
    });

    it('DESTINATION_WINS takes the SharePoint row, push first too', async () => {
      const p = await pair('DESTINATION_WINS', 'ROW');
      await h.db.pool.query(`UPDATE ${p.name} SET budget = 20 WHERE id = 1`);
      await p.spEdit({ Title: 'renamed in SP' });
      expect((await p.push()).conflicts).toBe(1);
      await p.pull();
      await p.push();
      expect(await p.row()).toEqual({ name: 'renamed in SP', budget: '10.00', done: false });
      expect(await p.item()).toMatchObject({ Title: 'renamed in SP', Budget: 10 });
    });

    it('MERGE still merges field by field, and records the conflict', async () => {
      const p = await pair('MERGE', 'ROW');
      await h.db.pool.query(`UPDATE ${p.name} SET budget = 20 WHERE id = 1`);
      await p.spEdit({ Title: 'renamed in SP' });
      expect((await p.pull()).conflicts).toBe(1);
      await p.push();
      expect(await p.row()).toEqual({ name: 'renamed in SP', budget: '20.00', done: false });
      expect(await p.conflicts()).toEqual([expect.objectContaining({ outcome: 'MERGED' })]);
    });
  });
});
