import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startLocalHost, type LocalHost } from '../../src/serve';
import type { Harness } from './engineHarness';

/**
 * The web console of a harness in a real headless Chromium (Debian's package, driven by playwright-core): the
 * local host on the harness's engine context, with its timers parked for an hour so that only what a test does
 * runs, and one page. `errors` collects what the page reported (script errors, console errors, HTTP ≥ 400).
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface ConsoleSession {
  host: LocalHost;
  browser: Browser;
  page: Page;
  errors: string[];
  /** Opens a console page by its hash (`#/conflicts`). */
  open(hash: string): Promise<void>;
  close(): Promise<void>;
}

/** `token`: the local host requires it, as `serve --token` does. */
export async function startConsole(h: Harness, options: { token?: string } = {}): Promise<ConsoleSession> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium), as .ci/run does, ` +
        'or set CHROMIUM_PATH',
    );
  }
  const host = await startLocalHost({
    ctx: h.ctx,
    port: 0,
    token: options.token,
    pushIntervalMs: 3_600_000,
    safetyIntervalMs: 3_600_000,
    subscriptionIntervalMs: 3_600_000,
    retryDelayMs: 200,
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) errors.push(msg.text());
  });
  page.on('response', (response) => {
    if (response.status() >= 400) errors.push(`${response.status()} ${response.url()}`);
  });
  return {
    host,
    browser,
    page,
    errors,
    open: async (hash) => {
      await page.goto(`${host.url}/console/${hash}`);
    },
    close: async () => {
      await browser.close();
      await host.stop();
    },
  };
}
