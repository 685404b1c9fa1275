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

  it('a deletes.pull change says a delete not pulled yet is decided by the new policy, and how to avoid it', () => {
    expect(
      effectOf(
        { deletes: { pull: 'IGNORE' } as never },
        { deletes: { pull: 'PROPAGATE' } as never },
        'deletes',
      ),
    ).toMatch(/also one made before this change that no pull has read yet .*run a pull before applying/);
  });

  it('a route to a new list says its items made before the sync are refused until imported', () => {
    const site = 'contoso.sharepoint.com:/sites/demo';
    const routes = [{ when: "name == 'x'", list: 'Projects' }, { list: 'Archive' }];
    expect(effectOf({}, { target: { site, routes } }, 'target.routes')).toMatch(
      /; "Archive" is routed to for the first time: .*pull projects --import-existing-items/,
    );
  });

  it('other policy changes apply from the next run', () => {
    expect(effectOf({ conflictPolicy: 'SOURCE_WINS' }, { conflictPolicy: 'MANUAL' }, 'conflictPolicy')).toBe(
      'applies from the next run',
    );
  });
});

describe('apply: a changed site time zone', () => {
  const input = (siteTimeZone?: string): SyncDefinitionInput => ({
    name: 'projects',
    source: { table: 'projects', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
    target: {
      site: 'contoso.sharepoint.com:/sites/demo',
      list: 'Projects',
      ...(siteTimeZone === undefined ? {} : { siteTimeZone }),
    },
    fields: [
      { source: 'name', target: 'Title' },
      { source: 'due', target: 'Due' },
    ],
  });
  const changes = (before?: string, after?: string) =>
    describeDefinitionChanges(parseDefinition(input(before)), parseDefinition(input(after)));

  it('compares the date-only fields of every pair afresh (a day the old zone moved reads differently) and says how to settle it', () => {
    const [change] = changes(undefined, 'Pacific/Auckland');
    expect(change).toMatchObject({
      kind: 'setting-changed',
      path: 'target.siteTimeZone',
      change: 'site time zone "UTC" → "Pacific/Auckland"',
      // Not the mapped fields: the next run forgets the synced values of the date-only ones only (040).
      realign: [],
    });
    expect(change.effect).toContain('npx arcore-sync backfill projects --fields FIELD --direction push');
  });

  it('is no change when UTC is spelled out where it was left to the default', () => {
    expect(changes(undefined, 'UTC')).toEqual([]);
  });
});
