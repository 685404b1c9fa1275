import { randomUUID } from 'node:crypto';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../../../src/emulator';
import { SharePointTarget, type GraphClientOptions } from '../../../../src/core/target/sharepoint';

export const SITE = 'contoso.sharepoint.com:/sites/demo';

/** An emulator over HTTPS plus SharePointTargets talking to it, closed together. */
export interface EmulatorHarness {
  emulator: RunningEmulator;
  siteId: string;
  /** A target with the app token, fast retry back-off and its own pacing/blocking state (app key). */
  target(overrides?: Partial<GraphClientOptions>): SharePointTarget;
  /** A target acting as a named user (edits "in SharePoint"). */
  userTarget(name: string): SharePointTarget;
  /** A target with an app token of given roles (`POST /_emulator/tokens`). */
  appTarget(roles: string[], sites?: Record<string, string>): SharePointTarget;
  /** A new list with the given columns plus an indexed text column `Key`. */
  newList(columns?: object[]): Promise<string>;
  /** Outer (non-inner) `$batch` requests in the emulator's log. */
  outerBatchCount(): number;
  close(): Promise<void>;
}

export async function startHarness(
  options: EmulatorOptions = { throttling: { enabled: false } },
): Promise<EmulatorHarness> {
  const emulator = await startEmulator(options);
  const siteId = emulator.control.getSiteId(SITE);
  const targets: SharePointTarget[] = [];
  const make = (token: string, overrides: Partial<GraphClientOptions>) => {
    const target = new SharePointTarget({
      baseUrl: emulator.baseUrl,
      auth: { kind: 'token', token },
      caCert: emulator.caCert,
      appKey: `test-${randomUUID()}`,
      retryBaseDelayMs: 20,
      retryMaxDelayMs: 200,
      ...overrides,
    });
    targets.push(target);
    return target;
  };
  const admin = make(emulator.appToken, {});
  return {
    emulator,
    siteId,
    target: (overrides = {}) => make(emulator.appToken, overrides),
    userTarget: (name) => make(emulator.userToken(name), {}),
    appTarget: (roles, sites) => make(emulator.control.issueAppToken({ roles, sites }), {}),
    async newList(columns = []) {
      const list = await admin.createList(siteId, `List ${randomUUID().slice(0, 8)}`, [
        { name: 'Key', text: {}, indexed: true },
        ...columns,
      ]);
      return list.id;
    },
    outerBatchCount: () =>
      emulator.control.requestLog().filter((entry) => entry.path === '/$batch' && !entry.batch).length,
    async close() {
      await Promise.all(targets.map((target) => target.close()));
      await emulator.stop();
    },
  };
}
