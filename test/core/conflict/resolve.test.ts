import fc from 'fast-check';
import {
  ConflictInputError,
  resolveConflict,
  type ConflictDecision,
  type ConflictInput,
  type ConflictPolicy,
  type TieBreaker,
} from '../../../src/core/conflict';
import type { CanonicalRecord, CanonicalValue } from '../../../src/core/canonical';

const FIELDS = ['Title', 'Amount', 'Tags'];
const BASE: CanonicalRecord = { Title: 'base', Amount: 1, Tags: ['a'] };
const EARLY = '2024-05-01T10:00:00Z';
const LATE = '2024-05-01T10:00:01Z';

/** Row-level detection unless a case says otherwise: FIELD detection has its own table below. */
function input(overrides: Partial<ConflictInput>): ConflictInput {
  return {
    policy: 'SOURCE_WINS',
    detection: 'ROW',
    fields: FIELDS,
    base: BASE,
    postgres: BASE,
    sharepoint: BASE,
    ...overrides,
  };
}

type Expected = Pick<ConflictDecision, 'outcome' | 'values' | 'writePostgres' | 'writeSharePoint'>;

const pgEdit = { ...BASE, Title: 'pg' };
const spEdit = { ...BASE, Amount: 2 };
const spTitle = { ...BASE, Title: 'sp' };
/** pgEdit decided over the other side: written to SharePoint. */
const pgEditWins: Expected = {
  outcome: 'TAKE_POSTGRES',
  values: pgEdit,
  writePostgres: false,
  writeSharePoint: true,
};
/** spEdit decided over the other side: written to Postgres. */
const spEditWins: Expected = {
  outcome: 'TAKE_SHAREPOINT',
  values: spEdit,
  writePostgres: true,
  writeSharePoint: false,
};

/** pgEdit against spEdit under LAST_WRITER_WINS, each side modified at the time given. */
function lastWriter(
  postgresModifiedAt: string | null,
  sharepointModifiedAt: string | null,
): Partial<ConflictInput> {
  return {
    policy: 'LAST_WRITER_WINS',
    postgres: pgEdit,
    sharepoint: spEdit,
    postgresModifiedAt,
    sharepointModifiedAt,
  };
}

describe('I7 conflicts: resolveConflict decisions (ROW detection, and deletes under either)', () => {
  it.each<[string, Partial<ConflictInput>, Expected]>([
    [
      'nothing changed',
      { policy: 'MANUAL' },
      { outcome: 'NO_CONFLICT', values: BASE, writePostgres: false, writeSharePoint: false },
    ],
    [
      'only Postgres changed (even under DESTINATION_WINS)',
      { policy: 'DESTINATION_WINS', postgres: pgEdit },
      { outcome: 'NO_CONFLICT', values: pgEdit, writePostgres: false, writeSharePoint: true },
    ],
    [
      'only SharePoint changed (even under MANUAL)',
      { policy: 'MANUAL', sharepoint: spEdit },
      { outcome: 'NO_CONFLICT', values: spEdit, writePostgres: true, writeSharePoint: false },
    ],
    [
      'both changed to the same values',
      { policy: 'MANUAL', postgres: pgEdit, sharepoint: pgEdit },
      { outcome: 'NO_CONFLICT', values: pgEdit, writePostgres: false, writeSharePoint: false },
    ],
    [
      'only Postgres deleted',
      { policy: 'MERGE', postgres: null },
      { outcome: 'NO_CONFLICT', values: null, writePostgres: false, writeSharePoint: true },
    ],
    [
      'both deleted',
      { policy: 'MANUAL', postgres: null, sharepoint: null },
      { outcome: 'NO_CONFLICT', values: null, writePostgres: false, writeSharePoint: false },
    ],
    [
      'never synced, exists only in SharePoint',
      { base: null, postgres: null, sharepoint: spEdit },
      { outcome: 'NO_CONFLICT', values: spEdit, writePostgres: true, writeSharePoint: false },
    ],
    [
      'SOURCE_WINS on edits to different fields',
      { policy: 'SOURCE_WINS', postgres: pgEdit, sharepoint: spEdit },
      pgEditWins,
    ],
    [
      'DESTINATION_WINS on edits to different fields',
      { policy: 'DESTINATION_WINS', postgres: pgEdit, sharepoint: spEdit },
      spEditWins,
    ],
    [
      'SOURCE_WINS: Postgres edit against a SharePoint delete recreates the item',
      { policy: 'SOURCE_WINS', postgres: pgEdit, sharepoint: null },
      pgEditWins,
    ],
    [
      'DESTINATION_WINS: SharePoint delete against a Postgres edit deletes the row',
      { policy: 'DESTINATION_WINS', postgres: pgEdit, sharepoint: null },
      { outcome: 'TAKE_SHAREPOINT', values: null, writePostgres: true, writeSharePoint: false },
    ],
    ['LAST_WRITER_WINS: SharePoint later', lastWriter(EARLY, LATE), spEditWins],
    [
      'LAST_WRITER_WINS: Postgres later, compared as instants across offsets',
      lastWriter('2024-05-01 12:00:00.000001+02', EARLY),
      pgEditWins,
    ],
    [
      'LAST_WRITER_WINS: microseconds decide',
      lastWriter('2024-05-01 10:00:00.000001', '2024-05-01T10:00:00.000002Z'),
      spEditWins,
    ],
    [
      'LAST_WRITER_WINS: exact tie goes to the source',
      lastWriter(EARLY, '2024-05-01 12:00:00+02'),
      pgEditWins,
    ],
    ['LAST_WRITER_WINS: a missing timestamp loses', lastWriter(null, EARLY), spEditWins],
    [
      'LAST_WRITER_WINS: both missing goes to the source',
      { policy: 'LAST_WRITER_WINS', postgres: pgEdit, sharepoint: spEdit },
      pgEditWins,
    ],
    [
      'MERGE: disjoint edits both survive',
      { policy: 'MERGE', postgres: pgEdit, sharepoint: spEdit },
      {
        outcome: 'MERGED',
        values: { Title: 'pg', Amount: 2, Tags: ['a'] },
        writePostgres: true,
        writeSharePoint: true,
      },
    ],
    [
      'MERGE: overlapping edit, default tie-breaker SOURCE_WINS',
      { policy: 'MERGE', postgres: { ...pgEdit, Tags: ['a', 'b'] }, sharepoint: { ...spTitle, Amount: 3 } },
      {
        outcome: 'MERGED',
        values: { Title: 'pg', Amount: 3, Tags: ['a', 'b'] },
        writePostgres: true,
        writeSharePoint: true,
      },
    ],
    [
      'MERGE: overlapping edit, tie-breaker DESTINATION_WINS',
      {
        policy: 'MERGE',
        tieBreaker: 'DESTINATION_WINS',
        postgres: { ...pgEdit, Tags: ['a', 'b'] },
        sharepoint: spTitle,
      },
      {
        outcome: 'MERGED',
        values: { Title: 'sp', Amount: 1, Tags: ['a', 'b'] },
        writePostgres: true,
        writeSharePoint: true,
      },
    ],
    [
      'MERGE: overlapping edit, tie-breaker LAST_WRITER_WINS',
      {
        policy: 'MERGE',
        tieBreaker: 'LAST_WRITER_WINS',
        postgres: pgEdit,
        sharepoint: spTitle,
        postgresModifiedAt: LATE,
        sharepointModifiedAt: EARLY,
      },
      { outcome: 'MERGED', values: pgEdit, writePostgres: false, writeSharePoint: true },
    ],
    [
      'MERGE: same field edited to the same value on both sides, other fields one-sided',
      { policy: 'MERGE', postgres: { ...pgEdit, Amount: 5 }, sharepoint: { ...pgEdit, Tags: null } },
      {
        outcome: 'MERGED',
        values: { Title: 'pg', Amount: 5, Tags: null },
        writePostgres: true,
        writeSharePoint: true,
      },
    ],
    [
      'MERGE: a delete against an edit is not mergeable, tie-breaker SOURCE_WINS keeps the delete',
      { policy: 'MERGE', postgres: null, sharepoint: spEdit },
      { outcome: 'TAKE_POSTGRES', values: null, writePostgres: false, writeSharePoint: true },
    ],
    [
      'MERGE: a delete against an edit, tie-breaker DESTINATION_WINS restores the row',
      { policy: 'MERGE', tieBreaker: 'DESTINATION_WINS', postgres: null, sharepoint: spEdit },
      spEditWins,
    ],
    [
      'MERGE: never synced, both sides hold values',
      {
        policy: 'MERGE',
        base: null,
        postgres: { Title: 'pg', Amount: null, Tags: null },
        sharepoint: { Title: 'sp', Amount: 4, Tags: null },
      },
      {
        outcome: 'MERGED',
        values: { Title: 'pg', Amount: 4, Tags: null },
        writePostgres: true,
        writeSharePoint: true,
      },
    ],
    [
      'MANUAL parks a real conflict',
      { policy: 'MANUAL', postgres: pgEdit, sharepoint: spEdit },
      { outcome: 'PARKED', values: null, writePostgres: false, writeSharePoint: false },
    ],
    [
      'MANUAL parks a delete against an edit',
      { policy: 'MANUAL', postgres: null, sharepoint: spEdit },
      { outcome: 'PARKED', values: null, writePostgres: false, writeSharePoint: false },
    ],
  ])('%s', (_name, overrides, expected) => {
    const decision = resolveConflict(input(overrides));
    expect(decision).toMatchObject(expected);
    expect(decision.reason.length).toBeGreaterThan(0);
  });

  /** Review r9: a parked delete against an edit said only "both sides changed", hiding that a side was deleted. */
  it.each([
    [null, spEdit, 'MANUAL', 'deleted in Postgres, edited in SharePoint: parked for manual resolution'],
    [pgEdit, null, 'MANUAL', 'deleted in SharePoint, edited in Postgres: parked for manual resolution'],
    [pgEdit, spEdit, 'MANUAL', 'both sides changed: parked for manual resolution'],
    [pgEdit, null, 'SOURCE_WINS', /^deleted in SharePoint, edited in Postgres: /],
  ] as const)('the reason says which side deleted (%#)', (postgres, sharepoint, policy, reason) => {
    expect(resolveConflict(input({ policy, postgres, sharepoint })).reason).toMatch(reason);
  });

  it('considers only the bidirectional fields and returns exactly those', () => {
    const decision = resolveConflict(
      input({
        policy: 'MANUAL',
        fields: ['Title'],
        postgres: { ...BASE, Amount: 99 },
        sharepoint: { ...BASE, Tags: ['z'], Extra: 'x' },
      }),
    );
    expect(decision).toMatchObject({ outcome: 'NO_CONFLICT', values: { Title: 'base' } });
    expect(decision.writePostgres || decision.writeSharePoint).toBe(false);
  });

  it('rejects a timestamp that is not ISO, naming it', () => {
    expect(() =>
      resolveConflict(
        input({
          policy: 'LAST_WRITER_WINS',
          postgres: pgEdit,
          sharepoint: spEdit,
          postgresModifiedAt: 'last Tuesday',
        }),
      ),
    ).toThrow(ConflictInputError);
    expect(() =>
      resolveConflict(
        input({
          policy: 'LAST_WRITER_WINS',
          postgres: pgEdit,
          sharepoint: spEdit,
          sharepointModifiedAt: '2024-13-01',
        }),
      ),
    ).toThrow(/sharepointModifiedAt/);
  });
});

describe('I7 conflicts: FIELD detection (the default) decides only fields changed on both sides', () => {
  const both = { ...BASE, Title: 'pg', Amount: 5 };
  const theirs = { ...BASE, Title: 'sp', Tags: ['b'] };
  /** A decision that writes both sides: each gets the fields the other changed. */
  const writesBoth = (
    outcome: ConflictDecision['outcome'],
    values: CanonicalRecord,
    fields: string[],
  ): Expected & { fields: string[] } => ({
    outcome,
    values,
    writePostgres: true,
    writeSharePoint: true,
    fields,
  });
  it.each<[string, Partial<ConflictInput>, Expected & { fields: string[] }]>([
    [
      'edits to different fields are both kept under SOURCE_WINS, without a conflict',
      { policy: 'SOURCE_WINS', postgres: pgEdit, sharepoint: spEdit },
      writesBoth('NO_CONFLICT', { Title: 'pg', Amount: 2, Tags: ['a'] }, []),
    ],
    [
      'edits to different fields are both kept under MANUAL: nothing is parked',
      { policy: 'MANUAL', postgres: pgEdit, sharepoint: spEdit },
      writesBoth('NO_CONFLICT', { Title: 'pg', Amount: 2, Tags: ['a'] }, []),
    ],
    [
      'SOURCE_WINS decides only the field edited on both sides',
      { policy: 'SOURCE_WINS', postgres: both, sharepoint: theirs },
      writesBoth('TAKE_POSTGRES', { Title: 'pg', Amount: 5, Tags: ['b'] }, ['Title']),
    ],
    [
      'DESTINATION_WINS decides only the field edited on both sides',
      { policy: 'DESTINATION_WINS', postgres: both, sharepoint: theirs },
      writesBoth('TAKE_SHAREPOINT', { Title: 'sp', Amount: 5, Tags: ['b'] }, ['Title']),
    ],
    [
      'LAST_WRITER_WINS decides only the field edited on both sides',
      {
        policy: 'LAST_WRITER_WINS',
        postgres: both,
        sharepoint: theirs,
        postgresModifiedAt: EARLY,
        sharepointModifiedAt: LATE,
      },
      writesBoth('TAKE_SHAREPOINT', { Title: 'sp', Amount: 5, Tags: ['b'] }, ['Title']),
    ],
    [
      'MERGE decides alike: the tie-breaker for the field edited on both sides',
      { policy: 'MERGE', tieBreaker: 'DESTINATION_WINS', postgres: both, sharepoint: theirs },
      writesBoth('MERGED', { Title: 'sp', Amount: 5, Tags: ['b'] }, ['Title']),
    ],
    [
      'MANUAL parks a field edited on both sides',
      { policy: 'MANUAL', postgres: both, sharepoint: theirs },
      { outcome: 'PARKED', values: null, writePostgres: false, writeSharePoint: false, fields: ['Title'] },
    ],
    [
      'the same field edited to the same value is not a conflict',
      { policy: 'MANUAL', postgres: { ...pgEdit, Amount: 7 }, sharepoint: pgEdit },
      {
        outcome: 'NO_CONFLICT',
        values: { Title: 'pg', Amount: 7, Tags: ['a'] },
        writePostgres: false,
        writeSharePoint: true,
        fields: [],
      },
    ],
    [
      'a delete against an edit is still a conflict of the row, naming the edited fields',
      { policy: 'SOURCE_WINS', postgres: null, sharepoint: spEdit },
      {
        outcome: 'TAKE_POSTGRES',
        values: null,
        writePostgres: false,
        writeSharePoint: true,
        fields: ['Amount'],
      },
    ],
  ])('%s', (_name, overrides, expected) => {
    const decision = resolveConflict(input({ detection: 'FIELD', ...overrides }));
    expect(decision).toMatchObject(expected);
    expect(decision.reason.length).toBeGreaterThan(0);
  });

  it('is the default when the input names no detection', () => {
    const { detection: _row, ...rest } = input({ postgres: pgEdit, sharepoint: spEdit });
    expect(resolveConflict(rest)).toMatchObject({ outcome: 'NO_CONFLICT', fields: [] });
  });

  it('ROW names every field changed on either side', () => {
    expect(resolveConflict(input({ postgres: both, sharepoint: theirs }))).toMatchObject({
      outcome: 'TAKE_POSTGRES',
      values: both,
      fields: ['Title', 'Amount', 'Tags'],
    });
  });

  it('the reason names the contested field and what decided it', () => {
    const decision = resolveConflict(
      input({ detection: 'FIELD', policy: 'SOURCE_WINS', postgres: both, sharepoint: theirs }),
    );
    expect(decision.reason).toMatch(/^Title changed on both sides: source \(Postgres\) wins/);
  });
});

const fieldValue: fc.Arbitrary<CanonicalValue> = fc.oneof(
  fc.constant(null),
  fc.constantFrom('a', 'b', 'c'),
  fc.integer({ min: 0, max: 3 }),
  fc.constantFrom<string[]>(['x'], ['x', 'y'], ['y', 'x']).map((tags) => [...tags]),
);
const record: fc.Arbitrary<CanonicalRecord> = fc.record({
  Title: fieldValue,
  Amount: fieldValue,
  Tags: fieldValue,
});
const policy = fc.constantFrom<ConflictPolicy>(
  'SOURCE_WINS',
  'DESTINATION_WINS',
  'LAST_WRITER_WINS',
  'MERGE',
  'MANUAL',
);
const tieBreaker = fc.constantFrom<TieBreaker>('SOURCE_WINS', 'DESTINATION_WINS', 'LAST_WRITER_WINS');
const timestamp = fc.option(fc.constantFrom(EARLY, LATE, '2024-05-01 12:00:00.5+02'), { nil: null });

/** A side: unchanged (base), edited per field (each field kept or replaced), or deleted. */
function sideOf(base: CanonicalRecord | null): fc.Arbitrary<CanonicalRecord | null> {
  const edited = fc
    .tuple(record, fc.array(fc.boolean(), { minLength: FIELDS.length, maxLength: FIELDS.length }))
    .map(([replacement, keep]) => {
      const result: CanonicalRecord = {};
      FIELDS.forEach((field, index) => {
        result[field] = keep[index] && base !== null ? base[field] : replacement[field];
      });
      return result;
    });
  return fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 4, arbitrary: edited });
}

const scenario = fc.option(record, { nil: null, freq: 5 }).chain((base) =>
  fc.record({
    policy,
    tieBreaker,
    base: fc.constant(base),
    postgres: sideOf(base),
    sharepoint: sideOf(base),
    postgresModifiedAt: timestamp,
    sharepointModifiedAt: timestamp,
  }),
);

function changed(base: CanonicalRecord | null, side: CanonicalRecord, field: string): boolean {
  return JSON.stringify(base?.[field] ?? null) !== JSON.stringify(side[field] ?? null);
}

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/** The scenario's two sides, when neither is deleted: fast-check discards the other scenarios. */
function bothSides(s: Scenario): { postgres: CanonicalRecord; sharepoint: CanonicalRecord } {
  fc.pre(s.postgres !== null && s.sharepoint !== null);
  return { postgres: s.postgres as CanonicalRecord, sharepoint: s.sharepoint as CanonicalRecord };
}

/**
 * Which sides changed `field` since the base; a field changed on one side only must have that side's value in the
 * decided `values`.
 */
function expectOneSidedKept(
  s: Scenario,
  sides: { postgres: CanonicalRecord; sharepoint: CanonicalRecord },
  values: CanonicalRecord,
  field: string,
): { byPostgres: boolean; bySharePoint: boolean } {
  const byPostgres = changed(s.base, sides.postgres, field);
  const bySharePoint = changed(s.base, sides.sharepoint, field);
  if (byPostgres && !bySharePoint) expect(values[field]).toEqual(sides.postgres[field]);
  if (bySharePoint && !byPostgres) expect(values[field]).toEqual(sides.sharepoint[field]);
  return { byPostgres, bySharePoint };
}

describe('I7 conflicts: properties', () => {
  it('never loses a change when only one side changed (every policy but MANUAL, which has nothing to park)', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const decision = resolveConflict({ ...s, fields: FIELDS });
        const postgresSame = JSON.stringify(s.postgres) === JSON.stringify(s.base);
        const sharepointSame = JSON.stringify(s.sharepoint) === JSON.stringify(s.base);
        if (postgresSame && !sharepointSame) expect(decision.values).toEqual(s.sharepoint);
        if (sharepointSame && !postgresSame) expect(decision.values).toEqual(s.postgres);
        if (postgresSame !== sharepointSame) expect(decision.outcome).toBe('NO_CONFLICT');
      }),
      { numRuns: 2000 },
    );
  });

  it('MERGE never loses a field changed on one side only', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const sides = bothSides(s);
        const decision = resolveConflict({ ...s, policy: 'MERGE', fields: FIELDS });
        expect(decision.values).not.toBeNull();
        const values = decision.values as CanonicalRecord;
        for (const field of FIELDS) {
          const { byPostgres, bySharePoint } = expectOneSidedKept(s, sides, values, field);
          if (!byPostgres && !bySharePoint) expect(values[field]).toEqual(s.base?.[field] ?? null);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('FIELD: under every policy, a field changed on one side only takes that side (unless the row is parked or deleted)', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const sides = bothSides(s);
        const decision = resolveConflict({ ...s, detection: 'FIELD', fields: FIELDS });
        if (decision.outcome === 'PARKED') {
          expect(decision.fields.length).toBeGreaterThan(0);
          return;
        }
        const values = decision.values as CanonicalRecord;
        for (const field of FIELDS) {
          const { byPostgres, bySharePoint } = expectOneSidedKept(s, sides, values, field);
          const contested = byPostgres && bySharePoint && changed(sides.postgres, sides.sharepoint, field);
          expect(decision.fields.includes(field)).toBe(contested);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('writes exactly the sides that differ from the decision, and MANUAL conflicts write nothing', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const decision = resolveConflict({ ...s, fields: FIELDS });
        if (decision.outcome === 'PARKED') {
          expect(s.policy).toBe('MANUAL');
          expect(decision.fields.length).toBeGreaterThan(0);
          expect(decision).toMatchObject({ values: null, writePostgres: false, writeSharePoint: false });
          return;
        }
        const differs = (side: CanonicalRecord | null) =>
          JSON.stringify(side) !== JSON.stringify(decision.values);
        expect(decision.writePostgres).toBe(differs(s.postgres));
        expect(decision.writeSharePoint).toBe(differs(s.sharepoint));
        // Applying the decision makes both sides equal: resolving again finds nothing to do (I4).
        const settled = resolveConflict({
          ...s,
          base: decision.values,
          postgres: decision.values,
          sharepoint: decision.values,
          fields: FIELDS,
        });
        expect(settled).toMatchObject({
          outcome: 'NO_CONFLICT',
          writePostgres: false,
          writeSharePoint: false,
        });
      }),
      { numRuns: 2000 },
    );
  });
});
