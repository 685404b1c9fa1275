import { tmpdir } from 'node:os';
import { runCli as runCliInProcess } from '../../src/cli/index';
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

  /**
   * Review r9: a delete against an edit showed the deleted side as "-" (as a NULL) under "both sides changed", and
   * suggested either --take alike. It says which side deleted, and what each --take does under the delete policy.
   */
  it('a delete against an edit says which side deleted and what each --take does', async () => {
    const definitionId = await defineStored(db.pool, 'orders_del', { deletes: { push: 'IGNORE' } as never });
    const insert = async (pg: string | null, sp: string | null) =>
      (
        await db.pool.query<{ id: string }>(
          `INSERT INTO arcore.sync_conflicts (definition_id, source_identity_hash, source_identity, sp_item_id,
             detected_by, policy, outcome, status, fields, base_values, postgres_values, sharepoint_values, reason)
           VALUES ($1, $4, '{"id":8}', '13', 'PULL', 'MANUAL', 'PARKED', 'OPEN', '{Title}', '{"Title":"base"}',
             $2, $3, 'both sides changed: parked for manual resolution')
           RETURNING id::text AS id`,
          [definitionId, pg, sp, pg ? 'h2' : 'h3'],
        )
      ).rows[0].id;
    const show = async (id: string) => {
      let out = '';
      const code = await runCliInProcess(['conflicts', 'show', id], {
        io: { out: (t: string) => (out += `${t}\n`), err: (t: string) => (out += `${t}\n`) },
        env,
        cwd: tmpdir(),
        interactive: false,
        progressStream: process.stderr,
      });
      expect(code).toBe(0);
      return out;
    };
    const itemGone = await show(await insert('{"Title":"pg"}', null));
    expect(itemGone).toContain('item 13 was deleted in SharePoint; the row was edited in Postgres');
    expect(itemGone).toMatch(/^Title\s+base\s+pg\s+\(deleted\)$/m);
    expect(itemGone).toContain(
      '--take sharepoint: the delete stands: the row is deleted in Postgres (deletes.pull PROPAGATE)',
    );
    expect(itemGone).toContain(
      "--take postgres (or --values JSON): the item is created again with the row's values",
    );
    const rowGone = await show(await insert(null, '{"Title":"sp"}'));
    expect(rowGone).toContain('the row was deleted in Postgres; item 13 was edited in SharePoint');
    expect(rowGone).toMatch(/^Title\s+base\s+\(deleted\)\s+sp$/m);
    expect(rowGone).toContain(
      '--take postgres: the delete stands: item 13 stays in SharePoint with its values (deletes.push IGNORE)',
    );
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
