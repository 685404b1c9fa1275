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
      { source: 'notes', target: 'Notes', transform: 'REGEX(s/Project/Initiative/g)' },
      { source: 'label', target: 'Label', pullTransform: 'DATE' },
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

  it('a two-way field one way by a pipeline that cannot be undone is refused the other way, saying why, before any run', () => {
    expect(() => resolveBackfillFields(def, ['Notes'], 'pull')).toThrow(
      'field "Notes" cannot be backfilled by pull: its transform cannot be undone (step 1 REGEX), so it flows from Postgres only',
    );
    expect(() => resolveBackfillFields(def, ['Label'], 'push')).toThrow(
      'field "Label" cannot be backfilled by push: its pullTransform cannot be undone (step 1 DATE), so it flows from SharePoint only',
    );
    expect(resolveBackfillFields(def, ['Notes'], 'push')).toEqual(['Notes']);
    expect(resolveBackfillFields(def, ['Label'], 'pull')).toEqual(['Label']);
  });
});
