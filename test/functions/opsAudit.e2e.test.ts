import { HttpRequest, HttpResponse } from '@azure/functions';
import { runPull } from '../../src/core/engine/pull';
import { runPush } from '../../src/core/engine/push';
import { disabledTelemetry } from '../../src/core/telemetry';
import { opsApi } from '../../src/functions/opsApi';
import { installRuntime } from '../../src/functions/runtime';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../support/engineHarness';
import { invocation } from './support/invocation';

/*
 * The audit of a conflict resolution through the ops API, end to end (real Postgres, the emulator):
 * with OPS_AUTH=entra the resolver recorded is the principal App Service Authentication validated, and a
 * forged x-ms-client-principal-name resolves nothing.
 */

const OID = 'http://schemas.microsoft.com/identity/claims/objectidentifier';
const NAME = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name';
const ROLE = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role';

function principal(name: string, oid: string, role: string): string {
  return Buffer.from(
    JSON.stringify({
      auth_typ: 'aad',
      name_typ: NAME,
      role_typ: ROLE,
      claims: [
        { typ: OID, val: oid },
        { typ: NAME, val: name },
        { typ: ROLE, val: role },
      ],
    }),
  ).toString('base64');
}

let h: Harness;
let uninstall: () => void;
const savedMode = process.env.OPS_AUTH;

beforeAll(async () => {
  process.env.OPS_AUTH = 'entra';
  h = await startHarness();
  await createProjectsTable(h.db);
  uninstall = installRuntime({ ctx: h.ctx, telemetry: disabledTelemetry, webhookUrls: {} });
});

afterAll(async () => {
  uninstall?.();
  await h?.close();
  if (savedMode === undefined) delete process.env.OPS_AUTH;
  else process.env.OPS_AUTH = savedMode;
});

async function resolveThroughOps(conflictId: string, headers: Record<string, string>) {
  const { context } = invocation('opsApi');
  const request = new HttpRequest({
    method: 'POST',
    url: `https://app.example/api/ops/conflicts/${conflictId}/resolve`,
    params: { path: `conflicts/${conflictId}/resolve` },
    headers: { 'content-type': 'application/json', ...headers },
    body: { string: JSON.stringify({ take: 'sharepoint' }) },
  });
  const response = new HttpResponse(await opsApi(request, context));
  return { status: response.status, body: await response.text() };
}

it('records the validated principal as the resolver; a forged name header resolves nothing', async () => {
  await h.define(projectsDefinition({ conflictPolicy: 'MANUAL' }));
  await h.db.pool.query("INSERT INTO projects (id, name, budget) VALUES (1, 'T0', 10)");
  await runPush(h.ctx, 'projects', { trigger: 'test' });
  await runPull(h.ctx, 'projects', { trigger: 'test' });
  const [item] = await h.items('Projects');
  await h.db.pool.query("UPDATE projects SET name = 'pg' WHERE id = 1");
  const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${item.id}/fields`, {
    Title: 'sp',
  });
  expect(edit.status).toBe(200);
  expect((await runPull(h.ctx, 'projects', { trigger: 'test' })).conflicts).toBe(1);
  const { rows } = await h.db.pool.query<{ id: string }>(
    "SELECT id::text AS id FROM arcore.sync_conflicts WHERE status = 'OPEN'",
  );
  const conflictId = rows[0].id;

  const forged = await resolveThroughOps(conflictId, { 'x-ms-client-principal-name': 'boss@contoso.test' });
  expect(forged.status).toBe(401);
  const reader = await resolveThroughOps(conflictId, {
    'x-ms-client-principal': principal('rita@contoso.test', 'oid-r', 'Ops.Read'),
  });
  expect(reader.status).toBe(403);
  const stillOpen = await h.db.pool.query(
    'SELECT status, resolved_by FROM arcore.sync_conflicts WHERE id = $1',
    [conflictId],
  );
  expect(stillOpen.rows[0]).toEqual({ status: 'OPEN', resolved_by: null });

  const operator = await resolveThroughOps(conflictId, {
    'x-ms-client-principal': principal('otto@contoso.test', 'oid-o', 'Ops.Write'),
    // Ignored: only the validated principal counts.
    'x-ms-client-principal-name': 'boss@contoso.test',
  });
  expect(operator.status).toBe(200);
  // The answer says what the resolution did (docs/functions.md).
  expect(JSON.parse(operator.body)).toMatchObject({
    conflictId,
    status: 'RESOLVED',
    effect: 'values-written',
    itemId: item.id,
    summary: 'the SharePoint values are now on both sides',
  });
  const resolved = await h.db.pool.query(
    'SELECT status, resolved_by FROM arcore.sync_conflicts WHERE id = $1',
    [conflictId],
  );
  expect(resolved.rows[0]).toEqual({ status: 'RESOLVED', resolved_by: 'otto@contoso.test (oid-o)' });
  expect((await h.db.pool.query('SELECT name FROM projects WHERE id = 1')).rows[0].name).toBe('sp');
}, 60_000);
