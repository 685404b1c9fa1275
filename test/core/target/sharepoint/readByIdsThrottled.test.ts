import type { DeltaPage, WriteOp } from '../../../../src/core/target/sharepoint';
import { ResyncRequiredError } from '../../../../src/core/target/sharepoint';
import { startHarness, type EmulatorHarness } from './emulatorSupport';

let h: EmulatorHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const creates = (count: number, prefix: string): WriteOp[] =>
  Array.from({ length: count }, (_, i) => ({
    kind: 'create',
    ref: `${prefix}${i}`,
    fields: { Title: `${prefix} ${i}`, Key: `${prefix}${i}` },
    adoptBy: { field: 'Key', value: `${prefix}${i}` },
  }));

async function collect(pages: AsyncGenerator<DeltaPage>): Promise<DeltaPage[]> {
  const all: DeltaPage[] = [];
  for await (const page of pages) all.push(page);
  return all;
}

/**
 * I10 (docs/design.md): items read again by id (a delta page whose entries came without fields, a re-enumeration
 * after a 410, lists past the lookup threshold) are single-item GETs inside a \$batch, and SharePoint throttles each
 * inner request on its own. An inner 429 (or a throttling 503) or an inner 5xx failed the whole read, so the pull run
 * FAILED under throttling and the Retry-After reached no other worker (found by review). Now throttled reads wait out
 * the shared block and are sent again; other 5xx reads are retried with back-off, as any read is.
 */
describe('reads by id inside a $batch: throttled and transient inner answers', () => {
  it('an inner 429 on a single-item read inside the read-again $batch is waited out and retried, not a failed read', async () => {
    const target = h.target();
    const listId = await h.newList();
    await target.writeItems(h.siteId, listId, creates(2, 'f'));
    const link = await target.latestDeltaLink(h.siteId, listId, ['Title', 'Key']);
    const gone: unknown = await collect(
      target.deltaPages(h.siteId, listId, { deltaLink: link.replace(/token=[^&]*/, 'token=unreadable') }),
    ).catch((e: unknown) => e);
    const location = (gone as ResyncRequiredError).location;
    expect(location).toBeDefined();
    // SharePoint throttles each inner request on its own: one of the single-item reads answers 429 + Retry-After.
    h.emulator.control.injectFault({
      method: 'GET',
      pathPattern: `/lists/${listId}/items/\\d+$`,
      count: 1,
      status: 429,
      retryAfterSeconds: 1,
    });
    const result = await collect(
      target.deltaPages(h.siteId, listId, { deltaLink: location, select: ['Title', 'Key'] }),
    ).then(
      (pages) => ({ ok: true as const, pages }),
      (error: unknown) => ({ ok: false as const, error: String(error) }),
    );
    expect(result).toEqual({ ok: true, pages: expect.anything() });
    const entries = result.ok ? result.pages.flatMap((p) => p.entries) : [];
    expect(entries.map((e) => (e.kind === 'upsert' ? e.item.fields.Key : e.id)).sort()).toEqual(['f0', 'f1']);
    // The Retry-After was honoured (the app's block recorded), as for any other 429.
    expect(target.stats().throttled429).toBe(1);
  });

  it('an inner 503 on one single-item read is retried like any other read', async () => {
    const target = h.target();
    const listId = await h.newList();
    await target.writeItems(h.siteId, listId, creates(2, 'g'));
    const link = await target.latestDeltaLink(h.siteId, listId, ['Title', 'Key']);
    const gone: unknown = await collect(
      target.deltaPages(h.siteId, listId, { deltaLink: link.replace(/token=[^&]*/, 'token=unreadable') }),
    ).catch((e: unknown) => e);
    const location = (gone as ResyncRequiredError).location;
    h.emulator.control.injectFault({
      method: 'GET',
      pathPattern: `/lists/${listId}/items/\\d+$`,
      count: 1,
      status: 503,
    });
    const result = await collect(
      target.deltaPages(h.siteId, listId, { deltaLink: location, select: ['Title', 'Key'] }),
    ).then(
      (pages) => ({ ok: true as const, pages }),
      (error: unknown) => ({ ok: false as const, error: String(error) }),
    );
    expect(result).toEqual({ ok: true, pages: expect.anything() });
    expect(target.stats().transientRetries).toBeGreaterThanOrEqual(1);
  });
});
