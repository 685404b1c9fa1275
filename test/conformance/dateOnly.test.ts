/**
 * Conformance `roundTrip.dateOnly` on a New Zealand site (UTC+13 in January, UTC+12 in July): it writes the engine's
 * own form for the zone it is told and fails when the site keeps another day (review r11, finding 2), naming the
 * setting that keeps it; told the site's zone, it passes.
 */
import { runConformance } from '../../src/conformance';
import { DEMO_SITE, startTestEmulator, type TestEmulator } from '../emulator/support';

const ZONE = 'Pacific/Auckland';

describe('conformance roundTrip.dateOnly on a site at UTC+12/+13', () => {
  let t: TestEmulator;
  beforeAll(async () => {
    t = await startTestEmulator({ siteTimeZones: { [DEMO_SITE]: ZONE }, batchAmbiguous503Rate: 0 });
  });
  afterAll(() => t.stop());

  const dateOnlyCheck = async (siteTimeZone: string | undefined, suffix: string) => {
    const report = await runConformance({
      graph: {
        baseUrl: t.emulator.baseUrl,
        auth: { kind: 'token', token: t.emulator.appToken },
        caCert: t.emulator.caCert,
        // The emulator here does not throttle (startTestEmulator): the probe's own pacing at the default 1,250 RU a
        // minute would only wait (conformance.test.ts runs it paced against a throttling emulator).
        resourceUnitsPerMinute: 10_000_000,
      },
      site: DEMO_SITE,
      scratchSuffix: suffix,
      ...(siteTimeZone === undefined ? {} : { siteTimeZone }),
    });
    return report.checks.find((c) => c.name === 'roundTrip.dateOnly');
  };

  it('fails for an engine left at UTC, and says which setting keeps the day', async () => {
    const check = await dateOnlyCheck(undefined, 'tz-utc');
    expect(check?.status).toBe('failed');
    expect(check?.detail).toContain(
      '"2024-01-15T12:00:00Z" for 2024-01-15 is stored as 2024-01-15T11:00:00Z',
    );
    expect(check?.detail).toContain('2024-01-15 at UTC+13:00, 2024-07-15 at UTC+12:00');
    expect(check?.detail).toContain('set target.siteTimeZone');
  }, 120_000);

  it("passes for an engine told the site's zone", async () => {
    const check = await dateOnlyCheck(ZONE, 'tz-nz');
    expect(check?.status).toBe('passed');
    expect(check?.detail).toContain(`site time zone ${ZONE} keeps the day of 2024-01-15 and 2024-07-15`);
  }, 120_000);

  it('passes for an engine left at UTC on a site a few hours from it, and notes the offsets', async () => {
    t.emulator.control.setSiteTimeZone(DEMO_SITE, 'Europe/Berlin');
    const check = await dateOnlyCheck(undefined, 'tz-berlin');
    expect(check?.status).toBe('passed');
    expect(check?.detail).toContain('2024-01-15 at UTC+01:00, 2024-07-15 at UTC+02:00');
    expect(check?.detail).toContain('the day holds while the two stay less than 12 hours apart');
  }, 120_000);
});
