import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { applyDefinitions } from '../../../src/core/engine/apply';
import { provisionList } from '../../../src/core/engine/provision';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * I14 as a property: random definition edits (fields added and removed, directions changed) interleaved with
 * edits on both sides never null a value and always converge. Every edit writes a fresh non-empty value, so a
 * cell that ever held a value on a side must still hold one; after the last wave, every bidirectional field
 * agrees on both sides and a further push and pull write nothing (I4).
 * EVOLUTION_RUNS / EVOLUTION_SEED override the number of histories and the first seed.
 */
const RUNS = Number(process.env.EVOLUTION_RUNS ?? 6);
const FIRST_SEED = Number(process.env.EVOLUTION_SEED ?? 1);
const ROWS = 5;
const STEPS = 14;
const COLUMNS = ['c1', 'c2', 'c3'] as const;
type Column = (typeof COLUMNS)[number];
type Direction = 'BIDIRECTIONAL' | 'PUSH_ONLY' | 'PULL_ONLY';

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('I14 definitions evolve safely: random definition edits with edits on both sides', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  for (let run = 0; run < RUNS; run++) {
    const seed = FIRST_SEED + run;
    it(`history with seed ${seed}`, async () => {
      const random = prng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
      const table = `evo_${seed}`;
      const list = `Evo${seed}`;
      const name = `evo-${seed}`;
      await h.db.pool.query(`DROP TABLE IF EXISTS ${table}`);
      await h.db.pool
        .query(`CREATE TABLE ${table} (id integer PRIMARY KEY, name text, c1 text, c2 text, c3 text,
        updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
      await h.db.pool.query(`CREATE INDEX ON ${table} (updated_at, id)`);
      await h.db.pool.query(`CREATE TRIGGER touch BEFORE UPDATE ON ${table} FOR EACH ROW
        EXECUTE FUNCTION arcore_test_touch()`);
      let counter = 0;
      const fresh = (side: string) => `${side}-${seed}-${++counter}`;
      // Postgres starts with some cells empty, SharePoint with none of the extra columns filled.
      for (let id = 1; id <= ROWS; id++) {
        await h.db.pool.query(`INSERT INTO ${table} (id, name, c1, c2, c3) VALUES ($1, $2, $3, $4, $5)`, [
          id,
          `row ${id}`,
          random() < 0.6 ? fresh('pg') : null,
          random() < 0.6 ? fresh('pg') : null,
          random() < 0.6 ? fresh('pg') : null,
        ]);
      }
      const mapped = new Map<Column, Direction>();
      const definition = (): SyncDefinitionInput => ({
        name,
        source: { table, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
        target: { site: SITE, list },
        fields: [
          { source: 'name', target: 'Title' },
          ...[...mapped].map(([c, direction]) => ({ source: c, target: c.toUpperCase(), direction })),
        ],
      });
      const apply = async () => {
        await applyDefinitions(h.db.pool, [parseDefinition(definition())]);
        await provisionList(h.ctx, name);
      };
      // The list has every column from the start, so SharePoint users can fill unmapped ones too.
      mapped.set('c1', 'BIDIRECTIONAL');
      mapped.set('c2', 'BIDIRECTIONAL');
      mapped.set('c3', 'BIDIRECTIONAL');
      await apply();
      mapped.clear();
      await apply();
      const push = () => runPush(h.ctx, name, { trigger: 'test' });
      const pull = () => runPull(h.ctx, name, { trigger: 'test' });
      await push();
      await pull();

      const everFull = { pg: new Set<string>(), sp: new Set<string>() };
      const trace: string[] = [];
      const note = (side: 'pg' | 'sp', id: number, c: Column) => everFull[side].add(`${id}:${c}`);
      const pgRows = async () =>
        new Map(
          (await h.db.pool.query(`SELECT id, c1, c2, c3 FROM ${table}`)).rows.map((r) => [
            r.id as number,
            r as Record<Column, string | null>,
          ]),
        );
      const spItems = async () => {
        const pgIds = new Map<string, number>();
        const { rows } = await h.db.pool.query(
          `SELECT l.sp_item_id, (l.source_identity->>'id')::int AS id FROM arcore.sync_ledger l
            JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = $1`,
          [name],
        );
        for (const r of rows) pgIds.set(r.sp_item_id, r.id);
        const out = new Map<number, Record<Column, string | null>>();
        for (const item of await h.items(list)) {
          const id = pgIds.get(item.id);
          if (id === undefined) continue;
          const f = item.fields as Record<string, string | undefined>;
          out.set(id, { c1: f.C1 ?? null, c2: f.C2 ?? null, c3: f.C3 ?? null });
        }
        return out;
      };
      for (const [id, r] of await pgRows())
        for (const c of COLUMNS) {
          if (r[c] !== null) note('pg', id, c);
          trace.push(`initial row ${id} ${c} = ${r[c]}`);
        }

      for (let step = 0; step < STEPS; step++) {
        const roll = random();
        if (roll < 0.3) {
          const c = pick(COLUMNS);
          if (mapped.has(c) && random() < 0.4) mapped.delete(c);
          else mapped.set(c, pick(['BIDIRECTIONAL', 'BIDIRECTIONAL', 'PUSH_ONLY', 'PULL_ONLY'] as const));
          await apply();
          trace.push(`apply ${JSON.stringify(Object.fromEntries(mapped))}`);
        } else if (roll < 0.6) {
          const id = 1 + Math.floor(random() * ROWS);
          const c = pick(COLUMNS);
          const value = fresh('pg');
          await h.db.pool.query(`UPDATE ${table} SET ${c} = $2 WHERE id = $1`, [id, value]);
          note('pg', id, c);
          trace.push(`postgres row ${id} ${c} = ${value}`);
        } else if (roll < 0.85) {
          const items = await spItems();
          const id = 1 + Math.floor(random() * ROWS);
          const c = pick(COLUMNS);
          const itemId = (
            await h.db.pool.query(
              `SELECT l.sp_item_id FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
              WHERE d.name = $1 AND l.source_identity->>'id' = $2`,
              [name, String(id)],
            )
          ).rows[0]?.sp_item_id as string | undefined;
          if (itemId && items.has(id)) {
            const value = fresh('sp');
            const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${list}/items/${itemId}/fields`, {
              [c.toUpperCase()]: value,
            });
            expect(res.status).toBe(200);
            note('sp', id, c);
            trace.push(`sharepoint row ${id} ${c} = ${value}`);
          }
        } else if (roll < 0.93) {
          const r = await push();
          trace.push(`push ${r.status} c${r.created} u${r.updated} x${r.conflicts}`);
        } else {
          const r = await pull();
          trace.push(`pull ${r.status} c${r.created} u${r.updated} x${r.conflicts}`);
        }
      }
      // Settle: alternate until quiet.
      for (let round = 0; round < 3; round++) {
        await pull();
        await push();
      }
      const pg = await pgRows();
      const sp = await spItems();
      const problems: string[] = [];
      for (let id = 1; id <= ROWS; id++) {
        for (const c of COLUMNS) {
          const p = pg.get(id)?.[c] ?? null;
          const s = sp.get(id)?.[c] ?? null;
          if (everFull.pg.has(`${id}:${c}`) && p === null)
            problems.push(`row ${id} ${c}: nulled in Postgres`);
          if (everFull.sp.has(`${id}:${c}`) && s === null)
            problems.push(`row ${id} ${c}: nulled in SharePoint`);
          if (mapped.get(c) === 'BIDIRECTIONAL' && p !== s)
            problems.push(`row ${id} ${c}: Postgres ${p} vs SharePoint ${s}`);
        }
      }
      // On failure the history is printed whole, so it can be replayed by reading.
      expect({ seed, problems, history: problems.length ? trace : [] }).toEqual({
        seed,
        problems: [],
        history: [],
      });
      const quiet = [await push(), await pull()];
      expect(quiet.map((s) => s.created + s.updated + s.deleted)).toEqual([0, 0]);
    });
  }

  beforeAll(async () => {
    await h.db.pool.query(`CREATE OR REPLACE FUNCTION arcore_test_touch() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$`);
  });
});
