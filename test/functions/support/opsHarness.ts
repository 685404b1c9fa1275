import { HttpRequest, HttpResponse, type HttpHandler } from '@azure/functions';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { disabledTelemetry } from '../../../src/core/telemetry';
import { opsApi } from '../../../src/functions/opsApi';
import { installRuntime } from '../../../src/functions/runtime';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';
import { invocation } from './invocation';

/** Calls the ops API function in process, with the request the Functions host builds for `api/ops/{*path}`. */
export function ops(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return callOps(opsApi, method, path, body);
}

/** The same with another ops API (`createOpsApi` with other options). */
export async function callOps(
  api: HttpHandler,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const request = new HttpRequest({
    method,
    url: `http://127.0.0.1:7071/api/ops/${path}`,
    params: { path },
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : { string: JSON.stringify(body) },
  });
  const response = new HttpResponse(await api(request, invocation('opsApi').context));
  const text = await response.text();
  return { status: response.status, json: (text ? JSON.parse(text) : null) as Record<string, unknown> };
}

export interface OpsHarness {
  h: Harness;
  /** Uninstalls the Functions runtime, then closes the harness. */
  close(): Promise<void>;
}

/**
 * A harness whose `projects` definition has `rows` rows, pushed and pulled once (so ledger and list agree),
 * with the Functions runtime installed on it so that `ops` reaches it.
 */
export async function startOpsHarness(rows: number): Promise<OpsHarness> {
  const h = await startHarness();
  await createProjectsTable(h.db);
  await h.define(projectsDefinition());
  await h.db.pool.query(
    "INSERT INTO projects (id, name) SELECT i, 'p' || i FROM generate_series(1, $1::int) i",
    [rows],
  );
  await runPush(h.ctx, 'projects', { trigger: 'test' });
  await runPull(h.ctx, 'projects', { trigger: 'test' });
  const uninstall = installRuntime({ ctx: h.ctx, telemetry: disabledTelemetry, webhookUrls: {} });
  return {
    h,
    close: async () => {
      uninstall();
      await h.close();
    },
  };
}
