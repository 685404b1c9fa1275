import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';

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

export const transformStepSchema = z
  .enum(['trim', 'lowercase', 'uppercase', 'emptyToNull'])
  .describe('A text transform applied to the Postgres value before it is pushed (and before hashing).');

export const fieldMappingSchema = z
  .object({
    source: identifier.describe('Postgres column name (case-sensitive, as in the table).'),
    target: z
      .string()
      .min(1, 'must not be empty')
      .describe('SharePoint column internal name (e.g. Due_x0020_Date), not its display name.'),
    direction: directionSchema.default('BIDIRECTIONAL'),
    transform: z
      .array(transformStepSchema)
      .optional()
      .describe(
        'Text transforms applied in order on push. The pulled value is written as SharePoint holds it.',
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

export const targetSchema = z
  .object({
    site: z
      .string()
      .min(1)
      .describe(
        'Site as host:/server-relative-path (contoso.sharepoint.com:/sites/ops) or a composite site id.',
      ),
    list: z.string().min(1).describe('List display name or GUID.'),
    keyColumn: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a SharePoint internal name')
      .default('ArcoreKey')
      .describe(
        'Hidden indexed text column holding the source identity hash, so a rerun after a crash adopts an item ' +
          'created in flight instead of creating a second one (I6). Provisioning adds it.',
      ),
  })
  .strict();

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
        'Postgres deletes are found by comparing the table with the ledger (a count of both, then a keyed pass when ' +
          'they differ). 0 checks on every push; on large tables a few minutes keeps idle pushes cheap.',
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
    schedule: scheduleSchema.default('0 */5 * * * *'),
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
    if (def.source.cursor.column !== undefined && def.source.key.includes(def.source.cursor.column)) {
      ctx.addIssue({
        code: 'custom',
        path: ['source', 'cursor', 'column'],
        message: 'must not be a key column: it changes on every update',
      });
    }
  });

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
export type TruncatePolicy = z.output<typeof truncatePolicySchema>;
export type FieldMapping = z.output<typeof fieldMappingSchema>;
export type Direction = z.output<typeof directionSchema>;
export type ConflictDetection = z.output<typeof conflictDetectionSchema>;
export type DefinitionsFile = z.output<typeof definitionsFileSchema>;

/** The JSON Schema users' editors validate definitions files against. */
export function definitionsJsonSchema(): unknown {
  return z.toJSONSchema(definitionsFileSchema, { io: 'input', unrepresentable: 'any' });
}
