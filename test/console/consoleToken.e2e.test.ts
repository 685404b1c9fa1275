import { startConsole, type ConsoleSession } from '../support/console';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../support/engineHarness';

/**
 * `arcore-sync serve --token T` guards the local ops API (docs/cli.md, docs/security.md), and the web console it
 * serves must work under it: the console sends the key its field holds as `x-functions-key` (as to a function app
 * with OPS_AUTH=key), which the local host now takes beside `Authorization: Bearer`. Before, every ops call of the
 * console was refused (401) and the console could do nothing (found by review). Real headless Chromium, local host.
 */
describe('web console under serve --token (headless Chromium, local host)', () => {
  const TOKEN = 'console-token-0123456789';
  let h: Harness;
  let session: ConsoleSession;

  beforeAll(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
    await h.define(projectsDefinition({ schedule: '0 0 0 1 1 *' }));
    session = await startConsole(h, { token: TOKEN });
  });

  afterAll(async () => {
    await session?.close();
    await h?.close();
  });

  it('asks for the token in its key field, and with it shows the definitions', async () => {
    const { page } = session;
    await session.open('#/');
    const alert = page.locator('[role=alert]').first();
    await alert.waitFor();
    await expect(alert.textContent()).resolves.toMatch(/serve --token.*key field/);
    await page.locator('#ops-key').fill(TOKEN);
    await page.locator('#ops-key').press('Tab');
    await page.reload();
    await page.locator('tr[data-definition="projects"]').waitFor();
    // Every ops call after the reload was served.
    const refusedBefore = session.errors.filter((e) => e.startsWith('401')).length;
    await session.open('#/runs');
    await page.locator('h1, h2').first().waitFor();
    expect(session.errors.filter((e) => e.startsWith('401')).length).toBe(refusedBefore);
  });

  it('a wrong key is refused as a wrong bearer token is', async () => {
    const wrong: Record<string, string>[] = [
      { 'x-functions-key': `${TOKEN}x` },
      { authorization: `Bearer ${TOKEN}x` },
    ];
    for (const headers of wrong) {
      const answer = await fetch(`${session.host.url}/api/ops/definitions`, { headers });
      expect(answer.status).toBe(401);
    }
    const right = await fetch(`${session.host.url}/api/ops/definitions`, {
      headers: { 'x-functions-key': TOKEN },
    });
    expect(right.status).toBe(200);
  });
});
