import { parseDefinition } from '../../../src/core/definition/parse';
import { getDefinition, upsertDefinitions } from '../../../src/core/store/definitions';
import { LedgerStore, SAVE_ROWS_PER_STATEMENT, type LedgerEntry } from '../../../src/core/store/ledger';
import { migrate } from '../../../src/core/store/migrate';
import { inTransaction } from '../../../src/core/db/transaction';
import { freshDatabase, type TestDatabase } from '../../support/db';
import { projectsDefinition } from '../../support/engineHarness';

let db: TestDatabase;
let ledger: LedgerStore;

beforeAll(async () => {
  db = await freshDatabase();
  await migrate(db.pool);
  await upsertDefinitions(db.pool, [parseDefinition(projectsDefinition())]);
  ledger = new LedgerStore((await getDefinition(db.pool, 'projects')).id, 'PRIMARY_KEY', 'default');
});

afterAll(async () => db.drop());

const entry = (n: number, title: string): LedgerEntry => ({
  identityHash: `h${n}`,
  identity: { id: n },
  listId: 'list',
  itemId: String(n),
  eTag: `"e${n}"`,
  syncedValues: { Title: title },
  contentHash: `c${n}`,
  provenance: 'PUSH',
  state: 'SYNCED',
  lastSourceTs: '2026-12-06 10:00:00+00',
  spModifiedAt: null,
});

describe('the ledger saves a page in statements of a bounded size (docs/design.md, I5c)', () => {
  it('saves every entry of a page larger than one statement, in the caller transaction', async () => {
    const count = SAVE_ROWS_PER_STATEMENT * 2 + 7;
    const entries = Array.from({ length: count }, (_, n) => entry(n, `first ${n}`));
    await inTransaction(db.pool, (client) => ledger.save(client, entries));
    const saved = await ledger.byIdentities(
      db.pool,
      entries.map((e) => e.identityHash),
    );
    expect(saved.size).toBe(count);
    expect(saved.get(`h${count - 1}`)).toMatchObject({
      itemId: String(count - 1),
      syncedValues: { Title: `first ${count - 1}` },
    });
  });

  it('keeps none of a page whose transaction fails after its first statements', async () => {
    const count = SAVE_ROWS_PER_STATEMENT + 1;
    const entries = Array.from({ length: count }, (_, n) => entry(10_000 + n, 'lost'));
    await expect(
      inTransaction(db.pool, async (client) => {
        await ledger.save(client, entries);
        throw new Error('the commit failed');
      }),
    ).rejects.toThrow('the commit failed');
    const saved = await ledger.byIdentities(
      db.pool,
      entries.map((e) => e.identityHash),
    );
    expect(saved.size).toBe(0);
  });
});

describe('a created item confirms its pending entry without sending its values again (I6, issue 23.3)', () => {
  const pending = (n: number, title: string): LedgerEntry => ({
    ...entry(n, title),
    itemId: null,
    eTag: null,
    contentHash: null,
    state: 'PENDING_CREATE',
  });

  it('completes pending entries and saves whole those it cannot confirm, in order with the rest', async () => {
    // 20,001: pending as sent; 20,002: pending of another source version; 20,003: no entry at all.
    await ledger.save(db.pool, [pending(20_001, 'sent'), { ...pending(20_002, 'sent'), lastSourceTs: null }]);
    // The confirmation carries no values: 20,001 keeps those its pending entry recorded ('not sent' proves it).
    const created = [entry(20_001, 'not sent'), entry(20_002, 'newer'), entry(20_003, 'new')];
    // A later entry of the same row in the same save (a conflict settled after the create) comes last.
    const later = { ...entry(20_003, 'decided later'), eTag: '"e-later"' };
    await inTransaction(db.pool, (client) => ledger.save(client, [...created, later], new Set(created)));
    const saved = await ledger.byIdentities(db.pool, ['h20001', 'h20002', 'h20003']);
    expect(saved.get('h20001')).toMatchObject({
      state: 'SYNCED',
      itemId: '20001',
      eTag: '"e20001"',
      contentHash: 'c20001',
      syncedValues: { Title: 'sent' },
    });
    // Not the pending entry of this version: saved whole, with the values it carries.
    expect(saved.get('h20002')).toMatchObject({
      state: 'SYNCED',
      itemId: '20002',
      syncedValues: { Title: 'newer' },
    });
    expect(saved.get('h20003')).toMatchObject({
      state: 'SYNCED',
      eTag: '"e-later"',
      syncedValues: { Title: 'decided later' },
    });
  });
});
