import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { RouteConditionError } from '../routing/errors';
import { columnsOf } from '../routing/ast';
import { unknownColumnProblem } from '../routing/compile';
import { parseCondition } from '../routing/parse';
import { pipelineSyntaxProblem } from '../transform/check';
import { DEFAULT_SITE_TIME_ZONE, isKnownTimeZone } from '../canonical/siteTimeZone';

/**
 * The sync-definition schema: the single source of truth for every option a definition has.
 * `definitions.schema.json` at the repository root is generated from it (`npm run schema`) and a test
 * keeps the two equal. Field names are a contract with users' files: add, never rename.
 */

const identifier = z
  .string()
  .min(1, 'must not be empty')
  .max(63, 'must be at most 63 characters (the Postgres identifier limit)');

export const directionSchema = z
  .enum(['BIDIRECTIONAL', 'PUSH_ONLY', 'PULL_ONLY'])
  .describe(
    'BIDIRECTIONAL: both ways. PUSH_ONLY: Postgres → SharePoint only; pull never writes it. ' +
      'PULL_ONLY: SharePoint → Postgres only; push never sends it.',
  );

export const transformSpecSchema = z
  .union([z.string(), z.array(z.string())])
  .describe(
    'A transform pipeline: steps joined by "|" in one string ("TRIM | UPPER | PREFIX(\'PRJ-\')"), or an array with ' +
      'one step per element (["trim", "uppercase"]). Steps: UPPER, LOWER, TRIM, COLLAPSE, REGEX(s/pattern/repl/flags), ' +
      'PREFIX(x), SUFFIX(x), TRUNCATE(n), PAD(n[, char[, left|right]]), ROUND(digits), SCALE(factor), TZ(zone), DATE, ' +
      'EMPTY_TO_NULL, NULL_TO(value), MAP(A=>Alpha, B=>Beta), CONCAT(separator, column, …). See docs/cli.md.',
  );

export const fieldMappingSchema = z
  .object({
    source: identifier.describe('Postgres column name (case-sensitive, as in the table).'),
    target: z
      .string()
      .min(1, 'must not be empty')
      .describe('SharePoint column internal name (e.g. Due_x0020_Date), not its display name.'),
    direction: directionSchema.default('BIDIRECTIONAL'),
    transform: transformSpecSchema
      .optional()
      .describe(
        'Push pipeline: Postgres value → SharePoint value. Without pullTransform, pull writes its inverse when every ' +
          'step can be undone (or leaves the value as is, for steps like TRIM); a pipeline with a step that loses ' +
          'information (REGEX, DATE, CONCAT) makes the field push-only, and a SharePoint edit of it a conflict.',
      ),
    pullTransform: transformSpecSchema
      .optional()
      .describe(
        'Pull pipeline: SharePoint value → Postgres value. Without transform, push writes its inverse when every ' +
          'step can be undone; a pipeline with a step that loses information makes the field pull-only.',
      ),
  })
  .strict();

export const conflictPolicySchema = z
  .enum(['SOURCE_WINS', 'DESTINATION_WINS', 'LAST_WRITER_WINS', 'MERGE', 'MANUAL'])
  .describe(
    'Who wins a conflict (I7; what counts as one is set by conflictDetection). SOURCE_WINS: Postgres; ' +
      'DESTINATION_WINS: SharePoint; LAST_WRITER_WINS: the later of SharePoint lastModifiedDateTime and the ' +
      "row's cursor column; MERGE: three-way per field, same-field edits fall back to mergeTieBreaker; " +
      'MANUAL: both versions parked until an operator resolves them.',
  );

export const conflictDetectionSchema = z
  .enum(['FIELD', 'ROW'])
  .describe(
    'How a conflict is detected (I7). FIELD: only a field changed on both sides since the last sync (or a delete ' +
      'against an edit) is a conflict; edits to different fields of a row are all kept whatever the policy, and ' +
      'the policy decides only the fields changed on both sides. ROW: any change on both sides is a conflict of ' +
      "the whole row, and the policy picks one side's row (MERGE still merges field by field) — for rows whose " +
      'fields must change together, such as an address.',
  );

export const deletePolicySchema = z
  .enum(['PROPAGATE', 'SOFT', 'IGNORE'])
  .describe('PROPAGATE: delete on the other side. SOFT: set a flag column instead. IGNORE: do nothing.');

const NCRONTAB_FIELDS = 6;

/**
 * The `schedule` a definition gets when it names none, by cursor type: a short one for LSN, whose idle push is
 * one peek (docs/design.md, I18); TIMESTAMP keeps 5 minutes.
 */
export const DEFAULT_SCHEDULES = { LSN: '0 * * * * *', TIMESTAMP: '0 */5 * * * *' } as const;
const SCHEDULE_BY_CURSOR = '';

export const scheduleSchema = z
  .string()
  .superRefine((value, ctx) => {
    const parts = value.trim().split(/\s+/);
    if (parts.length !== NCRONTAB_FIELDS) {
      ctx.addIssue({
        code: 'custom',
        message: `must be an NCRONTAB expression with 6 fields, seconds first (e.g. "0 */5 * * * *"), got ${parts.length} fields`,
      });
      return;
    }
    try {
      CronExpressionParser.parse(value, { tz: 'UTC' });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `is not a valid schedule: ${(err as Error).message}` });
    }
  })
  .describe('NCRONTAB (six fields, seconds first, UTC) deciding when the push of this definition is due.');

export const cursorTypeSchema = z
  .enum(['TIMESTAMP', 'LSN'])
  .describe(
    'TIMESTAMP: read rows whose cursor column moved (needs a maintained timestamp column). LSN: change data ' +
      'capture from a logical replication slot (tables only; no timestamp needed; sees deletes and TRUNCATE).',
  );

/** A TIMESTAMP cursor always names its column; an LSN cursor may name one (used only for LAST_WRITER_WINS). */
export type CursorConfig = { type: 'TIMESTAMP'; column: string } | { type: 'LSN'; column?: string };

export const cursorSchema = z
  .object({
    type: cursorTypeSchema.default('TIMESTAMP'),
    column: identifier
      .optional()
      .describe(
        'TIMESTAMP: a timestamp column the table keeps current on every change (required). LSN: optional; a ' +
          "timestamp column used as the row's modification time by LAST_WRITER_WINS.",
      ),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.type === 'TIMESTAMP' && c.column === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['column'],
        message: 'is required when source.cursor.type is TIMESTAMP (or set source.cursor.type to "LSN")',
      });
    }
  })
  .transform((c): CursorConfig =>
    c.type === 'LSN'
      ? c.column === undefined
        ? { type: 'LSN' }
        : { type: 'LSN', column: c.column }
      : { type: 'TIMESTAMP', column: c.column ?? '' },
  );

export const sourceSchema = z
  .object({
    connection: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'must be letters, digits and underscores')
      .default('default')
      .describe(
        'Connection name: "default" is DATABASE_URL; another name N reads setting ARCORE_CONNECTION_<N>.',
      ),
    schema: identifier.default('public'),
    table: identifier.describe('Table (or view with a key) to sync.'),
    key: z
      .array(identifier)
      .min(1, 'must name at least one key column')
      .describe(
        'Key columns in order: one column is the PRIMARY_KEY strategy, several COMPOSITE_COLUMNS (I1).',
      ),
    cursor: cursorSchema,
    pageSize: z.number().int().min(1).max(10000).default(1000).describe('Rows read per page.'),
    overlapSeconds: z
      .number()
      .int()
      .min(0)
      .max(86400)
      .default(300)
      .describe('Re-read this far behind the cursor to catch late-committing transactions (I5b).'),
  })
  .strict();

export const routeSchema = z
  .object({
    when: z
      .string()
      .min(1, 'must not be empty: leave when out for the default route')
      .optional()
      .superRefine((when, ctx) => {
        if (when === undefined || when === '') return;
        try {
          parseCondition(when);
        } catch (err) {
          if (!(err instanceof RouteConditionError)) throw err;
          ctx.addIssue({ code: 'custom', message: err.message });
        }
      })
      .describe(
        "Condition over the row's mapped source columns, e.g. \"status == 'ACTIVE'\", " +
          '"region in (\'EU\', \'UK\') and amount >= 1000", "hash(id) % 4 == 0". Absent: the default route (last only).',
      ),
    list: z.string().min(1).describe('List display name or GUID the matching rows go to.'),
  })
  .strict();

export const targetSchema = z
  .object({
    site: z
      .string()
      .min(1)
      .describe(
        'Site as host:/server-relative-path (contoso.sharepoint.com:/sites/ops) or a composite site id.',
      ),
    list: z.string().min(1).optional().describe('List display name or GUID. Give either list or routes.'),
    routes: z
      .array(routeSchema)
      .min(1, 'must name at least one route')
      .optional()
      .describe(
        'Routing (instead of list): rows go to the list of the first route whose when condition is true; a ' +
          'final route without when is the default. A row matching no route is not synced (unrouted). ' +
          'Conditions: docs/cli.md, "Routing".',
      ),
    siteTimeZone: z
      .string()
      .refine(isKnownTimeZone, {
        message:
          "is not a time zone name: give the IANA name of the site's regional time zone (SharePoint: Site " +
          'settings → Regional settings), e.g. "Pacific/Auckland" or "Europe/Paris", or "UTC"',
      })
      .optional()
      .describe(
        'The site\'s regional time zone as an IANA name (Site settings → Regional settings; "Pacific/Auckland" ' +
          'for (UTC+12:00) Auckland, Wellington). SharePoint stores a date-only value as midnight of this zone; ' +
          `the engine writes and reads date-only columns in it, daylight saving included. Absent: ` +
          `${DEFAULT_SITE_TIME_ZONE}, which keeps the ` +
          'day for sites from UTC−12 to UTC+11:59; a site at UTC+12 or later (New Zealand, Fiji, Tonga, Samoa, ' +
          'Kiribati) needs its zone here. arcore-sync conformance --site-time-zone checks it.',
      ),
    keyColumn: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a SharePoint internal name')
      .default('ArcoreKey')
      .describe(
        'Hidden indexed text column holding the source identity hash, so a rerun after a crash adopts an item ' +
          'created in flight instead of creating a second one (I6). Provisioning adds it.',
      ),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.list === undefined && t.routes === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['list'],
        message: 'is required: name the list, or give routes to send rows to several lists',
      });
    }
    if (t.list !== undefined && t.routes !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['routes'],
        message:
          'and list are alternatives: give list for one list, or routes (with a final default route) for several',
      });
    }
    const routes = t.routes ?? [];
    const spelled = new Map<string, { list: string; index: number }>();
    routes.forEach((r, i) => {
      if (r.when === undefined && i !== routes.length - 1) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'when'],
          message:
            `is missing, which makes this the default route, but only the last route may be the default: ` +
            `routes[${i + 1}..${routes.length - 1}] could never match`,
        });
      }
      const prior = spelled.get(r.list.toLowerCase());
      if (prior === undefined) spelled.set(r.list.toLowerCase(), { list: r.list, index: i });
      else if (prior.list !== r.list) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'list'],
          message:
            `"${r.list}" is list "${prior.list}" of routes[${prior.index}] written differently (list names are ` +
            'case-insensitive): spell it the same way in every route',
        });
      }
    });
  });

export const truncatePolicySchema = z
  .enum(['PARK', 'PROPAGATE', 'IGNORE'])
  .describe(
    'LSN cursor only: what a TRUNCATE of the table does. PARK: record it and stop the pushes of this definition ' +
      'until an operator decides (arcore-sync truncate-decide). PROPAGATE: every paired item is handled under ' +
      'deletes.push. IGNORE: carry on; the items stay.',
  );

export const deletesSchema = z
  .object({
    truncate: truncatePolicySchema.default('PARK'),
    push: deletePolicySchema.default('PROPAGATE').describe('When a row disappears from Postgres.'),
    pull: deletePolicySchema.default('PROPAGATE').describe('When an item is deleted in SharePoint.'),
    pushSoftColumn: z.string().optional().describe('SharePoint boolean column set to true under push SOFT.'),
    pullSoftColumn: identifier.optional().describe('Postgres boolean column set to true under pull SOFT.'),
    checkIntervalSeconds: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        'Without the delete-capture trigger (install-cursor), Postgres deletes are found by comparing the ledger ' +
          'with the table, 1,000 rows at a time for up to 25 ms per push, continuing where the last push stopped. ' +
          '0 sweeps on every push; N sweeps at most every N seconds. With the trigger, every push reads its ' +
          'recorded deletes instead and this is not used.',
      ),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.push === 'SOFT' && !d.pushSoftColumn) {
      ctx.addIssue({ code: 'custom', path: ['pushSoftColumn'], message: 'is required when push is SOFT' });
    }
    if (d.pull === 'SOFT' && !d.pullSoftColumn) {
      ctx.addIssue({ code: 'custom', path: ['pullSoftColumn'], message: 'is required when pull is SOFT' });
    }
  });

export const syncDefinitionSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be 1–63 letters, digits, ".", "_" or "-"')
      .describe('Unique name; saving definitions is an upsert by name.'),
    description: z.string().optional(),
    source: sourceSchema,
    target: targetSchema,
    fields: z.array(fieldMappingSchema).min(1, 'must map at least one field'),
    conflictPolicy: conflictPolicySchema.default('SOURCE_WINS'),
    mergeTieBreaker: z
      .enum(['SOURCE_WINS', 'DESTINATION_WINS', 'LAST_WRITER_WINS'])
      .default('SOURCE_WINS')
      .describe('MERGE only: who wins a field edited on both sides.'),
    conflictDetection: conflictDetectionSchema.default('FIELD'),
    deletes: deletesSchema.default({
      push: 'PROPAGATE',
      pull: 'PROPAGATE',
      truncate: 'PARK',
      checkIntervalSeconds: 0,
    }),
    schedule: scheduleSchema
      // Unset: filled below by cursor type (an empty schedule written by a user fails scheduleSchema).
      .default(SCHEDULE_BY_CURSOR)
      .describe(
        'NCRONTAB (six fields, seconds first, UTC) deciding when the push of this definition is due. Default: ' +
          `every minute ("${DEFAULT_SCHEDULES.LSN}") for an LSN cursor, whose idle push is one cheap query; ` +
          `every 5 minutes ("${DEFAULT_SCHEDULES.TIMESTAMP}") for a TIMESTAMP cursor.`,
      ),
    pull: z
      .object({ enabled: z.boolean().default(true).describe('Pull SharePoint changes into Postgres.') })
      .strict()
      .default({ enabled: true }),
    enabled: z.boolean().default(true),
  })
  .strict()
  .superRefine((def, ctx) => {
    const seenTargets = new Map<string, number>();
    def.fields.forEach((f, i) => {
      const prior = seenTargets.get(f.target);
      if (prior !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['fields', i, 'target'],
          message: `maps to "${f.target}" which fields[${prior}] already maps to`,
        });
      } else seenTargets.set(f.target, i);
      if (f.target === def.target.keyColumn) {
        ctx.addIssue({
          code: 'custom',
          path: ['fields', i, 'target'],
          message: `"${f.target}" is the hidden key column of this definition (target.keyColumn)`,
        });
      }
    });
    def.fields.forEach((f, i) => {
      for (const key of ['transform', 'pullTransform'] as const) {
        const spec = f[key];
        if (spec === undefined) continue;
        const problem = pipelineSyntaxProblem(spec, key === 'pullTransform');
        if (problem) ctx.addIssue({ code: 'custom', path: ['fields', i, key], message: problem });
      }
    });
    const seenSources = new Map<string, number>();
    def.fields.forEach((f, i) => {
      if (f.direction === 'PUSH_ONLY') return;
      const prior = seenSources.get(f.source);
      if (prior !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['fields', i, 'source'],
          message: `"${f.source}" is pulled from two columns (fields[${prior}] too): make one of them PUSH_ONLY`,
        });
      } else seenSources.set(f.source, i);
    });
    const keySeen = new Set<string>();
    def.source.key.forEach((k, i) => {
      if (keySeen.has(k)) {
        ctx.addIssue({ code: 'custom', path: ['source', 'key', i], message: `repeats key column "${k}"` });
      }
      keySeen.add(k);
    });
    const readable = routeReadableColumns(def);
    def.target.routes?.forEach((route, i) => {
      if (route.when === undefined) return;
      let condition;
      try {
        condition = parseCondition(route.when);
      } catch {
        return; // reported on the route itself
      }
      for (const column of columnsOf(condition)) {
        if (readable.includes(column.name)) continue;
        ctx.addIssue({
          code: 'custom',
          path: ['target', 'routes', i, 'when'],
          message: new RouteConditionError(
            unknownColumnProblem(column.name, readable),
            column.pos,
            route.when,
          ).message,
        });
      }
    });
    if (def.source.cursor.column !== undefined && def.source.key.includes(def.source.cursor.column)) {
      ctx.addIssue({
        code: 'custom',
        path: ['source', 'cursor', 'column'],
        message: 'must not be a key column: it changes on every update',
      });
    }
  })
  // The default depends on the cursor type, known only once the source is parsed.
  .overwrite((def) => ({ ...def, schedule: def.schedule || DEFAULT_SCHEDULES[def.source.cursor.type] }));

/** The columns a route condition may read: the mapped source columns, then key columns not mapped. */
function routeReadableColumns(def: { fields: { source: string }[]; source: { key: string[] } }): string[] {
  return [...new Set([...def.fields.map((f) => f.source), ...def.source.key])];
}

export const definitionsFileSchema = z
  .object({
    $schema: z.string().optional(),
    definitions: z.array(syncDefinitionSchema).min(1, 'must contain at least one definition'),
  })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Map<string, number>();
    file.definitions.forEach((d, i) => {
      const prior = seen.get(d.name);
      if (prior !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['definitions', i, 'name'],
          message: `"${d.name}" is already the name of definitions[${prior}]`,
        });
      } else seen.set(d.name, i);
    });
  });

export type SyncDefinition = z.output<typeof syncDefinitionSchema>;
export type SyncDefinitionInput = z.input<typeof syncDefinitionSchema>;
export type DeletePolicy = z.output<typeof deletePolicySchema>;
export type TruncatePolicy = z.output<typeof truncatePolicySchema>;
export type FieldMapping = z.output<typeof fieldMappingSchema>;
export type Direction = z.output<typeof directionSchema>;
export type ConflictDetection = z.output<typeof conflictDetectionSchema>;
export type DefinitionsFile = z.output<typeof definitionsFileSchema>;

/** The JSON Schema users' editors validate definitions files against. */
export function definitionsJsonSchema(): unknown {
  return z.toJSONSchema(definitionsFileSchema, {
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      // The refinement that makes list and routes alternatives has no JSON form of its own: editors get it here.
      if (ctx.zodSchema === targetSchema)
        ctx.jsonSchema.oneOf = [{ required: ['list'] }, { required: ['routes'] }];
      // The schedule's default depends on the cursor type (its description says which).
      if (ctx.jsonSchema.default === SCHEDULE_BY_CURSOR) delete ctx.jsonSchema.default;
    },
  });
}
