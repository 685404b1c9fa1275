import { parseDefinition } from '../../../../src/core/definition/parse';
import {
  BackfillDirectionError,
  resolveBackfillFields,
  UnknownBackfillFieldError,
} from '../../../../src/core/engine/backfill/fields';

/** docs/cli.md backfill `--fields`: each name is a SharePoint field (internal name) or a source column. */
describe('backfill --fields names', () => {
  const def = parseDefinition({
    name: 'bf_names',
    source: { table: 'projects', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
    target: { site: 'contoso.sharepoint.com:/sites/ops', list: 'Projects' },
    fields: [
      { source: 'name', target: 'Title' },
      { source: 'code', target: 'Code' },
      { source: 'code', target: 'CodeUpper', transform: 'UPPER', direction: 'PUSH_ONLY' },
      { source: 'budget', target: 'Budget' },
    ],
  });

  it('a source column feeding several fields backfills each of them, not the first alone', () => {
    expect(resolveBackfillFields(def, ['code'], 'push')).toEqual(['Code', 'CodeUpper']);
    expect(resolveBackfillFields(def, ['code', 'BUDGET'], 'push')).toEqual(['Code', 'CodeUpper', 'Budget']);
    // A target names that field only.
    expect(resolveBackfillFields(def, ['CodeUpper'], 'push')).toEqual(['CodeUpper']);
    expect(resolveBackfillFields(def, ['Code'], 'pull')).toEqual(['Code']);
  });

  it('one of them not flowing in the direction asked is refused, naming it', () => {
    const err = (() => {
      try {
        return resolveBackfillFields(def, ['code'], 'pull');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(BackfillDirectionError);
    expect((err as Error).message).toContain('"CodeUpper"');
    expect(() => resolveBackfillFields(def, ['nope'], 'push')).toThrow(UnknownBackfillFieldError);
  });
});
