import type { TestDatabase } from '../support/db';
import { defineStored, metaDatabase } from '../functions/support/metaFixtures';
import { runCli, type CliEnv } from './cliHarness';

/** `conflicts NAME` and `conflicts show ID` against a metadata database holding one recorded conflict. */
describe('arcore-sync conflicts show', () => {
  let db: TestDatabase;
  let env: CliEnv;
  let conflictId: string;

  beforeAll(async () => {
    db = await metaDatabase();
    const definitionId = await defineStored(db.pool, 'orders');
    conflictId = (
      await db.pool.query<{ id: string }>(
        `INSERT INTO arcore.sync_conflicts (definition_id, source_identity_hash, source_identity, sp_item_id,
           detected_by, policy, outcome, status, fields, base_values, postgres_values, sharepoint_values, reason)
         VALUES ($1, 'h1', '{"id":7}', '12', 'PULL', 'MANUAL', 'PARKED', 'OPEN', '{Title}',
           '{"Title":"base title","Budget":10,"Done":false}',
           '{"Title":"pg title","Budget":25,"Done":false}',
           '{"Title":"sp title","Budget":10,"Done":false}', 'both sides changed Title')
         RETURNING id::text AS id`,
        [definitionId],
      )
    ).rows[0].id;
    env = { DATABASE_URL: db.url };
  }, 60_000);
  afterAll(async () => db?.drop());

  it('prints base, Postgres and SharePoint values of the fields that differ, and only those', async () => {
    const shown = await runCli(['conflicts', 'show', conflictId], env);
    expect(shown.stderr).toBe('');
    expect(shown.code).toBe(0);
    const lines = shown.stdout.split('\n');
    expect(lines[0]).toContain(`conflict ${conflictId} of orders: OPEN`);
    expect(lines.find((l) => l.startsWith('FIELD'))).toMatch(/^FIELD\s+BASE\s+POSTGRES\s+SHAREPOINT$/);
    expect(lines.find((l) => l.startsWith('Title'))).toMatch(/^Title\s+base title\s+pg title\s+sp title$/);
    expect(lines.find((l) => l.startsWith('Budget'))).toMatch(/^Budget\s+10\s+25\s+10$/);
    expect(shown.stdout).not.toMatch(/^Done/m);
  });

  it('--json prints the conflict record', async () => {
    const shown = await runCli(['conflicts', 'show', conflictId, '--json'], env);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      conflictId,
      definition: 'orders',
      fields: ['Title'],
      postgresValues: { Title: 'pg title', Budget: 25 },
    });
  });

  it('conflicts NAME names the differing fields of each conflict', async () => {
    const listed = await runCli(['conflicts', 'orders'], env);
    expect(listed.code).toBe(0);
    const row = listed.stdout.split('\n').find((l) => l.startsWith(conflictId));
    expect(row).toMatch(/\sTitle,Budget\s/);
  });

  it('an id that is not a number is exit 2; an unknown id fails naming it', async () => {
    const bad = await runCli(['conflicts', 'show', 'abc'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('conflict id must be a positive integer, got "abc"');
    const missing = await runCli(['conflicts', 'show', '999999'], env);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('999999');
  });
});
