import { DefinitionValidationError, parseDefinitionsFile } from '../../../src/core/definition/parse';
import type { SyncDefinition } from '../../../src/core/definition/schema';
import { RoutedDefinitionError, singleListOf, targetListLabel, targetLists } from '../../../src/core/routing';

const SITE = 'contoso.sharepoint.com:/sites/ops';

function file(target: Record<string, unknown>): unknown {
  return {
    definitions: [
      {
        name: 'projects',
        source: { table: 'projects', key: ['id'], cursor: { column: 'updated_at' } },
        target: { site: SITE, ...target },
        fields: [
          { source: 'name', target: 'Title' },
          { source: 'status', target: 'Status' },
          { source: 'amount', target: 'Amount' },
        ],
      },
    ],
  };
}

function problemsOf(target: Record<string, unknown>): string[] {
  try {
    parseDefinitionsFile(file(target));
  } catch (err) {
    if (err instanceof DefinitionValidationError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

function definitionOf(target: Record<string, unknown>): SyncDefinition {
  return parseDefinitionsFile(file(target)).definitions[0];
}

describe('target.routes in a definition', () => {
  it('accepts ordered routes with a final default, and lists every list once', () => {
    const def = definitionOf({
      routes: [
        { when: "status == 'ACTIVE'", list: 'Active' },
        { when: "status == 'PAUSED'", list: 'Active' },
        { when: 'hash(id) % 4 == 0', list: 'Shard' },
        { list: 'Archive' },
      ],
    });
    expect(targetLists(def)).toEqual(['Active', 'Shard', 'Archive']);
    expect(targetListLabel(def)).toBe('Active, Shard, Archive');
    expect(() => singleListOf(def, 'subscribing')).toThrow(RoutedDefinitionError);
    expect(() => singleListOf(def, 'subscribing')).toThrow(
      'Definition "projects" routes rows to several lists (target.routes), but subscribing handles a definition ' +
        'with one list (target.list) only',
    );
  });

  it('keeps a single-list definition as it was', () => {
    const def = definitionOf({ list: 'Projects' });
    expect(targetLists(def)).toEqual(['Projects']);
    expect(singleListOf(def, 'anything')).toBe('Projects');
  });

  it('wants exactly one of list and routes', () => {
    expect(problemsOf({})).toEqual([
      'definitions[0].target.list: is required: name the list, or give routes to send rows to several lists',
    ]);
    expect(problemsOf({ list: 'P', routes: [{ list: 'A' }] })).toEqual([
      'definitions[0].target.routes: and list are alternatives: give list for one list, or routes (with a final ' +
        'default route) for several',
    ]);
    expect(problemsOf({ routes: [] })).toEqual([
      'definitions[0].target.routes: must name at least one route',
    ]);
  });

  it('refuses a default route before the last, an empty when, and one list spelled two ways', () => {
    expect(
      problemsOf({
        routes: [
          { list: 'Active' },
          { when: '', list: 'B' },
          { when: "status == 'X'", list: 'ACTIVE' },
          { list: 'Rest' },
        ],
      }),
    ).toEqual([
      'definitions[0].target.routes[1].when: must not be empty: leave when out for the default route',
      'definitions[0].target.routes[0].when: is missing, which makes this the default route, but only the last ' +
        'route may be the default: routes[1..3] could never match',
      'definitions[0].target.routes[2].list: "ACTIVE" is list "Active" of routes[0] written differently (list ' +
        'names are case-insensitive): spell it the same way in every route',
    ]);
  });

  it('reports a syntax error and an unmapped column at the JSON path with the character', () => {
    expect(
      problemsOf({
        routes: [
          { when: "status == 'ACTIVE'", list: 'Active' },
          { when: "region in ('EU', 'UK') and amount >= 1000", list: 'Big' },
          { when: "status = 'X'", list: 'X' },
          { list: 'Rest' },
        ],
      }),
    ).toEqual([
      `definitions[0].target.routes[2].when: "=" is not an operator: write == for equality at character 8 of "status = 'X'"`,
      'definitions[0].target.routes[1].when: unknown column "region": conditions read mapped source columns ' +
        '(fields[].source) and key columns (source.key): "name", "status", "amount", "id" at character 1 of ' +
        `"region in ('EU', 'UK') and amount >= 1000"`,
    ]);
  });

  it('refuses two spellings of a list but keeps routes to the same list', () => {
    expect(problemsOf({ routes: [{ when: "status == 'A'", list: 'Active' }, { list: 'Active' }] })).toEqual(
      [],
    );
  });
});
