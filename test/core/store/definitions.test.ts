import { parseDefinitionsFile } from '../../../src/core/definition/parse';
import {
  getDefinition,
  listDefinitions,
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
});
