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
