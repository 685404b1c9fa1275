import { identityOf } from '../../../../src/core/canonical';
import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * I8: the end of a full enumeration pages the pairs it did not see in identity order, 500 at a time
 * (src/core/engine/pull/deletes.ts). Pairs that stay (an open conflict holds them) fill the first pages whole:
 * the deletes behind them must still be found by the same enumeration's end, not left to the next one.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

describe('I8 deletes found behind 500 held pairs at the end of one full enumeration', () => {
  it('deletes every unseen pair past the first 500, which an open conflict holds, in the same pull', async () => {
    const name = 'unseen_paging';
    await h.db.pool.query(`CREATE TABLE ${name} (code text PRIMARY KEY, name text,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO ${name} (code, name) VALUES ('A', 'kept')`);
    await h.define({
      name,
      source: { table: name, key: ['code'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [{ source: 'name', target: 'Title' }],
      deletes: { push: 'PROPAGATE', pull: 'PROPAGATE' },
    });
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 1 });
    await runPull(h.ctx, name, { trigger: 'test' });

    // 600 more pairs, written straight into the table and the ledger (copies of A's entry), whose items were deleted
    // in SharePoint (they never existed): every one is unseen by the next full enumeration. The first 510 in
    // identity order are held by an open conflict; the 90 after them are deletes the pull must apply.
    const codes = Array.from({ length: 600 }, (_, i) => `k${String(i).padStart(3, '0')}`);
    const byHash = codes
      .map((code) => ({ code, hash: identityOf(['code'], { code }).hash }))
      .sort((a, b) => (a.hash < b.hash ? -1 : 1));
    const held = byHash.slice(0, 510);
    const deleted = byHash.slice(510);
    await h.db.pool.query(`INSERT INTO ${name} (code, name) SELECT c, c FROM unnest($1::text[]) c`, [codes]);
    const { rows: defs } = await h.db.pool.query<{ id: string }>(
      'SELECT id FROM arcore.sync_definitions WHERE name = $1',
      [name],
    );
    const definitionId = defs[0].id;
    await h.db.pool.query(
      `INSERT INTO arcore.sync_ledger (definition_id, source_identity_hash, source_identity, source_key_strategy,
         source_connection, sp_list_id, sp_item_id, sp_etag, synced_values, content_hash, provenance, state,
         last_sync_ts, seen_run)
       SELECT a.definition_id, p.hash, jsonb_build_object('code', p.code), a.source_key_strategy, a.source_connection,
              a.sp_list_id, (900000 + p.n)::text, '"gone,1"', jsonb_build_object('Title', p.code), NULL, 'PUSH',
              'SYNCED', now() - interval '1 hour', a.seen_run
         FROM arcore.sync_ledger a,
              unnest($2::text[], $3::text[]) WITH ORDINALITY AS p(code, hash, n)
        WHERE a.definition_id = $1`,
      [definitionId, byHash.map((p) => p.code), byHash.map((p) => p.hash)],
    );
    await h.db.pool.query(
      `INSERT INTO arcore.sync_conflicts (definition_id, source_identity_hash, source_identity, detected_by, policy,
         outcome, status, reason)
       SELECT $1, p.hash, jsonb_build_object('code', p.code), 'PULL', 'MANUAL', 'PARKED', 'OPEN', 'held by the test'
         FROM unnest($2::text[], $3::text[]) AS p(code, hash)`,
      [definitionId, held.map((p) => p.code), held.map((p) => p.hash)],
    );

    // The delta link expires: the pull enumerates the whole list again, seeing item A alone.
    h.emulator.control.expireDeltaTokens();
    const pull = await runPull(h.ctx, name, { trigger: 'test' });
    expect(pull).toMatchObject({ status: 'SUCCEEDED', deleted: deleted.length });

    const { rows } = await h.db.pool.query<{ code: string }>(`SELECT code FROM ${name} ORDER BY code`);
    expect(rows.map((r) => r.code)).toEqual(['A', ...held.map((p) => p.code).sort()]);
    const { rows: ledger } = await h.db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM arcore.sync_ledger WHERE definition_id = $1',
      [definitionId],
    );
    expect(ledger[0].n).toBe(1 + held.length);
  });
});
