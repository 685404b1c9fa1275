/**
 * `arcore-sync conformance --site host:/path [--json] [--notification-url URL] [--lifecycle-url URL] [--site-time-zone ZONE]`: runs the conformance probe against the configured
 * Graph endpoint (GRAPH_BASE_URL, GRAPH_AUTH / GRAPH_TOKEN…, as every command) and prints one line per
 * check, or the report as JSON. Exit 0 when no check failed, 1 otherwise.
 */
import { Option, type Command } from 'commander';
import { ChecksFailedError, CliUsageError } from '../failures';
import type { CliRuntime } from '../runtime';

export interface ConformanceCommandOptions {
  site: string;
  json?: boolean;
  notificationUrl?: string;
  lifecycleUrl?: string;
  siteTimeZone?: string;
}

type Act = (
  action: (rt: CliRuntime, opts: ConformanceCommandOptions) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;

const SITE = /^[a-z0-9.-]+:\/[^:]*$/i;

export async function runConformanceCommand(rt: CliRuntime, opts: ConformanceCommandOptions): Promise<void> {
  if (!SITE.test(opts.site))
    throw new CliUsageError(
      `--site must be "host:/server-relative-path" (e.g. contoso.sharepoint.com:/sites/ops), got "${opts.site}"`,
    );
  const { isKnownTimeZone } = await import('../../core/canonical/siteTimeZone.js');
  if (opts.siteTimeZone !== undefined && !isKnownTimeZone(opts.siteTimeZone))
    throw new CliUsageError(
      `--site-time-zone must be an IANA time zone name (the site's Regional settings, e.g. Pacific/Auckland) or ` +
        `UTC, got "${opts.siteTimeZone}"`,
    );
  // The probe needs no database: DATABASE_URL is required by the shared settings only.
  const { loadSettings } = await import('../../config/settings.js');
  const env = rt.env();
  const settings = loadSettings({ DATABASE_URL: 'postgres://conformance.invalid/unused', ...env });
  const { graphOptionsFromSettings } = await import('../../core/target/sharepoint/index.js');
  const { runConformance } = await import('../../conformance/index.js');
  const notificationUrl = opts.notificationUrl ?? settings.WEBHOOK_NOTIFICATION_URL;
  const lifecycleNotificationUrl = opts.lifecycleUrl ?? settings.WEBHOOK_LIFECYCLE_URL;
  const report = await runConformance({
    graph: graphOptionsFromSettings(settings),
    site: opts.site,
    ...(notificationUrl ? { notificationUrl } : {}),
    ...(lifecycleNotificationUrl ? { lifecycleNotificationUrl } : {}),
    ...(opts.siteTimeZone ? { siteTimeZone: opts.siteTimeZone } : {}),
  });
  if (opts.json) rt.io.out(JSON.stringify(report, null, 2));
  else {
    rt.io.out(`Conformance of ${report.target}`);
    for (const check of report.checks)
      rt.io.out(`${check.status.toUpperCase().padEnd(7)} ${check.name}: ${check.detail}  [${check.source}]`);
    rt.io.out(`${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped`);
  }
  if (report.failed > 0) throw new ChecksFailedError(report.failed);
}

/** Registers the `conformance` command on the program (inheriting its output and exit settings). */
export function conformanceCommand(program: Command, act: Act): Command {
  return program
    .command('conformance')
    .description(
      'Probe a Graph endpoint (the emulator or a real tenant) for every behaviour the engine relies on: ' +
        'permissions, eTags, field values, delta, $batch, throttling, subscriptions. Works in a scratch list ' +
        'it creates and deletes; exit 0 when no check failed, 1 otherwise.',
    )
    .addOption(
      new Option(
        '--site <host:/path>',
        'the site to probe, e.g. contoso.sharepoint.com:/sites/ops',
      ).makeOptionMandatory(),
    )
    .option(
      '--json',
      'print {"target", "checks": [{"name", "source", "status", "detail"}], "passed", "failed", "skipped"}',
    )
    .option(
      '--notification-url <url>',
      'endpoint answering the subscription validation handshake (default WEBHOOK_NOTIFICATION_URL)',
    )
    .option(
      '--lifecycle-url <url>',
      "the subscriptions' lifecycleNotificationUrl, which Graph validates as it does the notification URL " +
        '(default WEBHOOK_LIFECYCLE_URL); subscription.engineForm creates a subscription with it',
    )
    .option(
      '--site-time-zone <zone>',
      "the site's regional time zone as the definitions give it (target.siteTimeZone, e.g. Pacific/Auckland; " +
        'default UTC): roundTrip.dateOnly checks that date-only values keep their day in it',
    )
    .action(act(async (rt, opts) => runConformanceCommand(rt, opts)));
}
