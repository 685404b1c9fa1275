import { describeDefinitionChanges } from '../../../src/core/definition/changes';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';

/** docs/cli.md, `apply`: every change says what it does to rows already synced. */
describe('apply: what a settings change does', () => {
  const input = (over: Partial<SyncDefinitionInput>): SyncDefinitionInput => ({
    name: 'projects',
    source: { table: 'projects', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
    target: { site: 'contoso.sharepoint.com:/sites/demo', list: 'Projects' },
    fields: [{ source: 'name', target: 'Title' }],
    ...over,
  });
  const effectOf = (
    before: Partial<SyncDefinitionInput>,
    after: Partial<SyncDefinitionInput>,
    path: string,
  ) =>
    describeDefinitionChanges(parseDefinition(input(before)), parseDefinition(input(after))).find(
      (c) => c.path === path,
    )?.effect;

  it('leaving MANUAL says that conflicts already open stay parked until resolve', () => {
    expect(
      effectOf({ conflictPolicy: 'MANUAL' }, { conflictPolicy: 'SOURCE_WINS' }, 'conflictPolicy'),
    ).toMatch(/OPEN stay parked until `arcore-sync resolve`/);
  });

  it('other policy changes apply from the next run', () => {
    expect(effectOf({ conflictPolicy: 'SOURCE_WINS' }, { conflictPolicy: 'MANUAL' }, 'conflictPolicy')).toBe(
      'applies from the next run',
    );
  });
});
