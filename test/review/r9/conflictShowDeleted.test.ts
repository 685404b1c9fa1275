import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../../src/cli/index';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import { tempDir } from '../../cli/cliHarness';

/**
 * Review r9: a MANUAL conflict of a delete against an edit (here the item deleted in SharePoint, the row edited in
 * Postgres) is recorded with the reason "both sides changed: parked for manual resolution" (conflict/resolve.ts,
 * MANUAL case), and `conflicts show ID` prints the deleted side's values as "-", as it prints a NULL value. Nothing
 * the operator sees says that one side was deleted, although the choice means deleting or re-creating (docs/cli.md
 * resolve: "--take postgres on a conflict whose item is gone re-creates the item"; for a row gone, "--take postgres
 * confirms the delete").
 */
describe('conflicts show of a delete-against-edit conflict', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  it('says which side deleted the row or item', async () => {
    await h.db.pool.query(`CREATE TABLE cshow (id integer PRIMARY KEY, name text,
      updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO cshow (id, name) VALUES (1, 'one')`);
    await h.define({
      name: 'cshow',
      source: { table: 'cshow', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'cshow' },
      fields: [{ source: 'name', target: 'Title' }],
      conflictPolicy: 'MANUAL',
    });
    await runPush(h.ctx, 'cshow', { trigger: 'test' });
    await runPull(h.ctx, 'cshow', { trigger: 'test' });
    const [item] = await h.items('cshow');
    await h.db.pool.query("UPDATE cshow SET name = 'pg edit', updated_at = now()");
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/cshow/items/${item.id}`)).status).toBe(204);
    await runPull(h.ctx, 'cshow', { trigger: 'test' });
    const { rows } = await h.db.pool.query<{ id: string }>(
      "SELECT id::text AS id FROM arcore.sync_conflicts WHERE status = 'OPEN'",
    );
    expect(rows).toHaveLength(1);

    const dir = tempDir('arcore-r9-show-');
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, h.emulator.caCert);
    let out = '';
    const code = await runCli(['conflicts', 'show', rows[0].id], {
      io: { out: (s: string) => (out += `${s}\n`), err: (s: string) => (out += `${s}\n`) },
      env: {
        DATABASE_URL: h.db.url,
        GRAPH_BASE_URL: h.emulator.baseUrl,
        GRAPH_TOKEN: h.emulator.appToken,
        GRAPH_CA_CERT_FILE: caFile,
      },
      cwd: dir,
      interactive: false,
      progressStream: process.stderr,
    });
    expect(code).toBe(0);
    expect(out).toMatch(/deleted/i);
  });
});
