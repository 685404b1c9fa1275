import { parseDefinitionsFile } from '../../../src/core/definition/parse';
import {
  bindListId,
  getDefinition,
  listDefinitions,
  otherDefinitionsOfList,
  UnknownDefinitionError,
  upsertDefinitions,
} from '../../../src/core/store/definitions';
import { migrate } from '../../../src/core/store/migrate';
import { freshDatabase, type TestDatabase } from '../../support/db';
import { exampleFile } from '../definition/schema.test';

describe('definition store', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
    await migrate(db.pool);
  });
  afterAll(async () => db.drop());

  it('upserts by name idempotently and keeps field mappings in step', async () => {
    const defs = parseDefinitionsFile(exampleFile).definitions;
    expect(await upsertDefinitions(db.pool, defs)).toEqual({
      created: ['projects'],
      updated: [],
      unchanged: [],
    });
    expect(await upsertDefinitions(db.pool, defs)).toEqual({
      created: [],
      updated: [],
      unchanged: ['projects'],
    });
    const changed = structuredClone(exampleFile);
    changed.definitions[0].fields.pop();
    expect(await upsertDefinitions(db.pool, parseDefinitionsFile(changed).definitions)).toEqual({
      created: [],
      updated: ['projects'],
      unchanged: [],
    });
    const { rows } = await db.pool.query(
      'SELECT target_column, is_system_field FROM arcore.field_mappings ORDER BY position',
    );
    expect(rows).toEqual([
      { target_column: 'Title', is_system_field: false },
      { target_column: 'Budget', is_system_field: false },
    ]);
    expect((await listDefinitions(db.pool)).map((d) => d.definition.name)).toEqual(['projects']);
    expect((await getDefinition(db.pool, 'projects')).definition.fields).toHaveLength(2);
  });

  it('an unknown name is a clear error', async () => {
    await expect(getDefinition(db.pool, 'nope')).rejects.toThrow(UnknownDefinitionError);
    await expect(getDefinition(db.pool, 'nope')).rejects.toThrow('No sync definition named "nope"');
  });

  it('a list is held by the bindings a definition still has: not by one its routes dropped or it was relinked from', async () => {
    const base = exampleFile.definitions[0];
    const file = {
      definitions: [
        { ...base, name: 'single', source: { ...base.source, table: 'single' } },
        {
          ...base,
          name: 'routed',
          source: { ...base.source, table: 'routed' },
          target: {
            site: base.target.site,
            routes: [{ when: "name == 'x'", list: 'Open' }, { list: 'Closed' }],
          },
        },
        { ...base, name: 'asker', source: { ...base.source, table: 'asker' } },
      ],
    };
    await upsertDefinitions(db.pool, parseDefinitionsFile(file).definitions);
    const id = async (name: string) => (await getDefinition(db.pool, name)).id;
    const asker = await id('asker');
    const holders = async (listId: string) => otherDefinitionsOfList(db.pool, listId, asker);
    // A first run bound them, no ledger row yet: the bindings alone hold the lists.
    await bindListId(db.pool, await id('single'), 'list-s');
    await db.pool.query(
      `INSERT INTO arcore.sync_definition_lists (definition_id, list_name, list_id)
       VALUES ($1, 'open', 'list-o'), ($1, 'Dropped', 'list-d')`,
      [await id('routed')],
    );
    expect(await holders('list-s')).toEqual(['single']);
    // Route names are matched case-insensitively; a binding whose name the routes no longer give holds nothing.
    expect(await holders('list-o')).toEqual(['routed']);
    expect(await holders('list-d')).toEqual([]);
    // Relinked to another list: the former one is free.
    await bindListId(db.pool, await id('single'), 'list-s2');
    expect(await holders('list-s')).toEqual([]);
    // Not the asking definition's own binding.
    expect(await otherDefinitionsOfList(db.pool, 'list-s2', await id('single'))).toEqual([]);
  });
});
