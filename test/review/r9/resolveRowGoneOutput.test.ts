import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../../src/cli/index';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import { tempDir } from '../../cli/cliHarness';

/**
 * Review r9: `resolve ID --take postgres` of a conflict whose Postgres row is gone confirms the delete: the item
 * gets the push delete policy (docs/cli.md: PROPAGATE deletes it, SOFT flags it, IGNORE keeps it). The CLI prints
 * the same line as for any resolution, "the Postgres values are now on both sides", whatever happened: under
 * deletes.push IGNORE the item is kept in SharePoint with its values and Postgres has no row, so the line is false
 * and the operator is not told the item stays (nor, under PROPAGATE, that it was deleted).
 */
describe('resolve --take postgres of a conflict whose row is gone', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  it('says what happened to the item instead of "the Postgres values are now on both sides"', async () => {
    await h.db.pool.query(`CREATE TABLE rgone (id integer PRIMARY KEY, name text,
      updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO rgone (id, name) VALUES (1, 'one')`);
    await h.define({
      name: 'rgone',
      source: { table: 'rgone', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'rgone' },
      fields: [{ source: 'name', target: 'Title' }],
      conflictPolicy: 'MANUAL',
      deletes: { push: 'IGNORE', pull: 'PROPAGATE' },
    });
    await runPush(h.ctx, 'rgone', { trigger: 'test' });
    await runPull(h.ctx, 'rgone', { trigger: 'test' });
    const [item] = await h.items('rgone');
    // Both sides edit the title: the pull parks an open MANUAL conflict.
    await h.db.pool.query("UPDATE rgone SET name = 'pg edit', updated_at = now()");
    expect(
      (
        await h.asUser('PATCH', `/sites/${h.siteId}/lists/rgone/items/${item.id}/fields`, {
          Title: 'sp edit',
        })
      ).status,
    ).toBe(200);
    await runPull(h.ctx, 'rgone', { trigger: 'test' });
    const { rows } = await h.db.pool.query<{ id: string }>(
      "SELECT id::text AS id FROM arcore.sync_conflicts WHERE status = 'OPEN'",
    );
    expect(rows).toHaveLength(1);
    // The row is deleted while its conflict is open.
    await h.db.pool.query('DELETE FROM rgone');

    const dir = tempDir('arcore-r9-resolve-');
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, h.emulator.caCert);
    let out = '';
    let err = '';
    const code = await runCli(['resolve', rows[0].id, '--take', 'postgres', '--by', 'r9'], {
      io: { out: (s: string) => (out += `${s}\n`), err: (s: string) => (err += `${s}\n`) },
      env: {
        DATABASE_URL: h.db.url,
        GRAPH_BASE_URL: h.emulator.baseUrl,
        GRAPH_TOKEN: h.emulator.appToken,
        GRAPH_CA_CERT_FILE: caFile,
        GRAPH_RU_PER_MINUTE: '1000000',
      },
      cwd: dir,
      interactive: false,
      progressStream: process.stderr,
    });
    expect({ code, err }).toEqual({ code: 0, err: '' });
    // What the engine did: the row stays deleted, the item stays in SharePoint with its values (push IGNORE).
    expect((await h.db.pool.query('SELECT 1 FROM rgone')).rows).toEqual([]);
    expect((await h.items('rgone')).map((i) => i.fields.Title)).toEqual(['sp edit']);
    // What the operator is told.
    expect(out).not.toContain('the Postgres values are now on both sides');
  });
});
