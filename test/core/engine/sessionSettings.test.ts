import { Client } from 'pg';
import { loadSettings } from '../../../src/config/settings';
import { createEngineContext } from '../../../src/core/engine/context';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import type { EngineContext } from '../../../src/core/engine/types';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { validateAgainstDatabase } from '../../../src/core/definition/validateLive';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * A source database configured to print dates, intervals and floats in other styles than Postgres' defaults:
 * the engine's connections pin DateStyle, IntervalStyle and extra_float_digits, so every value reaches
 * SharePoint exactly, an edit comes back exactly, and a second push finds nothing to write.
 */
const STYLED: SyncDefinitionInput = {
  name: 'styled',
  source: {
    table: 'styled',
    key: ['id'],
    cursor: { type: 'TIMESTAMP', column: 'updated_at' },
    overlapSeconds: 0,
  },
  target: { site: SITE, list: 'Styled' },
  fields: ['day', 'at', 'local_at', 'ratio'].map((c) => ({ source: c, target: c })),
};

describe('session settings pinned on every engine connection', () => {
  let h: Harness;
  let ctx: EngineContext;
  let closeCtx: () => Promise<void>;

  beforeAll(async () => {
    h = await startHarness();
    await h.db.pool.query(`CREATE TABLE styled (
      id integer PRIMARY KEY, day date, at timestamptz, local_at timestamp, ratio double precision,
      updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await h.define(STYLED);
    const database = new URL(h.db.url).pathname.slice(1);
    await h.db.pool.query(`ALTER DATABASE "${database}" SET DateStyle = 'SQL, DMY'`);
    await h.db.pool.query(`ALTER DATABASE "${database}" SET IntervalStyle = 'sql_standard'`);
    await h.db.pool.query(`ALTER DATABASE "${database}" SET extra_float_digits = 0`);
    // The harness's pools connected before the ALTERs: an engine context of its own opens every connection
    // under the database's new defaults.
    const settings = loadSettings({
      DATABASE_URL: h.db.url,
      GRAPH_BASE_URL: h.emulator.baseUrl,
      GRAPH_TOKEN: h.emulator.appToken,
      GRAPH_RU_PER_MINUTE: '10000000',
    });
    ({ ctx, close: closeCtx } = await createEngineContext(settings, { caCert: h.emulator.caCert }));
  });
  afterAll(async () => {
    await closeCtx();
    await h.close();
  });

  it('a plain connection to the database prints the configured styles (the setup is real)', async () => {
    const plain = new Client({ connectionString: h.db.url });
    await plain.connect();
    try {
      const { rows } = await plain.query<{ day: string; ratio: string; span: string }>(
        "SELECT DATE '2026-12-06'::text AS day, (0.1::float8 + 0.2::float8)::text AS ratio, " +
          "interval '-1 day 2 hours'::text AS span",
      );
      expect(rows[0]).toEqual({ day: '06/12/2026', ratio: '0.3', span: '-1 2:00:00' });
    } finally {
      await plain.end();
    }
  });

  it('the engine pushes exact values, pulls an edit back exactly, and a second push writes nothing', async () => {
    await h.db.pool.query(
      `INSERT INTO styled (id, day, at, local_at, ratio) VALUES
         (1, '2026-12-06', '2026-12-06 07:08:09.123456+00', '2026-12-06 07:08:09', 0.1::float8 + 0.2::float8)`,
    );
    expect(await runPush(ctx, 'styled', { trigger: 'test' })).toMatchObject({ created: 1, failed: 0 });
    const [item] = await h.items('Styled');
    expect(item.fields).toMatchObject({
      day: '2026-12-06T00:00:00Z',
      at: '2026-12-06T07:08:09Z',
      local_at: '2026-12-06T07:08:09Z',
      ratio: 0.30000000000000004,
    });

    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Styled/items/${item.id}/fields`, {
      day: '2027-03-04T00:00:00Z',
      ratio: 1.0000000000000002,
    });
    expect(res.status).toBe(200);
    expect(await runPull(ctx, 'styled', { trigger: 'test' })).toMatchObject({ updated: 1 });
    const { rows } = await h.db.pool.query<{ exact: boolean }>(
      "SELECT day = DATE '2027-03-04' AND ratio = '1.0000000000000002'::float8 AS exact FROM styled WHERE id = 1",
    );
    expect(rows[0].exact).toBe(true);

    expect(await runPush(ctx, 'styled', { trigger: 'test' })).toMatchObject({ created: 0, updated: 0 });
  });

  it('validate reports the session settings the engine works under, and no problem with them', async () => {
    const report = await validateAgainstDatabase(parseDefinition(STYLED), ctx.meta);
    expect(report.session).toEqual({
      DateStyle: 'ISO, MDY',
      IntervalStyle: 'postgres',
      extra_float_digits: '3',
    });
    expect(report.errors).toEqual([]);
  });

  it('a source trigger that sets DateStyle for its own transaction does not stop a pull, and later queries print ISO', async () => {
    await h.db.pool.query(`CREATE FUNCTION styled_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM set_config('DateStyle', 'SQL, DMY', true); RETURN NEW; END $$`);
    await h.db.pool.query(
      'CREATE TRIGGER styled_audit BEFORE UPDATE ON styled FOR EACH ROW EXECUTE FUNCTION styled_audit()',
    );
    const [item] = await h.items('Styled');
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Styled/items/${item.id}/fields`, {
      ratio: 2.5,
    });
    expect(res.status).toBe(200);
    expect(await runPull(ctx, 'styled', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      updated: 1,
    });
    const { rows } = await h.db.pool.query<{ ratio: number }>('SELECT ratio FROM styled WHERE id = 1');
    expect(rows[0].ratio).toBe(2.5);
    const styles = await Promise.all(
      Array.from({ length: 3 }, () =>
        ctx.meta.query<{ d: string }>("SELECT current_setting('DateStyle') AS d").then((r) => r.rows[0].d),
      ),
    );
    expect(styles).toEqual(['ISO, MDY', 'ISO, MDY', 'ISO, MDY']);
  });
});
