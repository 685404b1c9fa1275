import { z } from 'zod';

/**
 * zod schemas of the Graph responses we read (I12: outside data is validated where it enters). They keep
 * only what the adapter uses and ignore the rest, so that Graph adding properties never breaks us.
 */

export const graphErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string().default(''),
  }),
});

export const siteSchema = z.object({
  id: z.string().min(1),
  webUrl: z.string(),
});

export const listSchema = z.object({
  id: z.string().min(1),
  displayName: z.string(),
});

const facet = z.record(z.string(), z.unknown());

export const columnDefinitionSchema = z.object({
  name: z.string().min(1),
  displayName: z.string().default(''),
  readOnly: z.boolean().optional(),
  hidden: z.boolean().optional(),
  indexed: z.boolean().optional(),
  text: z
    .object({
      allowMultipleLines: z.boolean().optional(),
      maxLength: z.number().optional(),
      appendChangesToExistingText: z.boolean().optional(),
    })
    .optional(),
  number: facet.optional(),
  currency: facet.optional(),
  boolean: facet.optional(),
  calculated: facet.optional(),
  hyperlinkOrPicture: facet.optional(),
  dateTime: z.object({ format: z.string().optional() }).optional(),
  choice: z
    .object({
      choices: z.array(z.string()).optional(),
      allowTextEntry: z.boolean().optional(),
      displayAs: z.string().optional(),
    })
    .optional(),
  lookup: z.object({ allowMultipleValues: z.boolean().optional() }).optional(),
  personOrGroup: z.object({ allowMultipleSelection: z.boolean().optional() }).optional(),
});
export type GraphColumnDefinition = z.output<typeof columnDefinitionSchema>;

export const fieldsSchema = z.record(z.string(), z.unknown());

export const listItemSchema = z.object({
  id: z.string().min(1),
  eTag: z.string().optional(),
  lastModifiedDateTime: z.string().optional(),
  lastModifiedBy: z.unknown().optional(),
  fields: fieldsSchema.optional(),
});
export type GraphListItem = z.output<typeof listItemSchema>;

export function collectionSchema<T extends z.ZodType>(item: T) {
  return z.object({
    value: z.array(item),
    '@odata.nextLink': z.string().optional(),
    '@odata.deltaLink': z.string().optional(),
  });
}

/** A delta page: its entries are checked one by one so one bad entry never loses the page (I12). */
export const deltaPageSchema = collectionSchema(z.unknown());

export const deltaTombstoneSchema = z.union([
  z.object({ id: z.string().min(1), deleted: z.object({}).loose() }),
  z.object({ id: z.string().min(1), '@removed': z.object({}).loose() }),
]);

export const batchResponseSchema = z.object({
  responses: z.array(
    z.object({
      id: z.string(),
      status: z.number().int(),
      headers: z.record(z.string(), z.string()).optional(),
      body: z.unknown().optional(),
    }),
  ),
});
export type BatchResponseItem = z.output<typeof batchResponseSchema>['responses'][number];

export const subscriptionSchema = z.object({
  id: z.string().min(1),
  resource: z.string(),
  changeType: z.string(),
  notificationUrl: z.string(),
  lifecycleNotificationUrl: z.string().nullish(),
  clientState: z.string().nullish(),
  expirationDateTime: z.string(),
  applicationId: z.string().nullish(),
  creatorId: z.string().nullish(),
});
export type Subscription = z.output<typeof subscriptionSchema>;

/*
 * The same checks as three of the schemas above, for the answers read once per item on the push's and
 * pull's hot paths. A well-formed answer is checked here without zod's walk over every field (a large
 * share of the engine's CPU per row); anything else goes to the schema, so a malformed answer gets the
 * very result and message it always did. The output equals the schema's (a property test compares them).
 */

function isObjectValue(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * The record as `z.record(z.string(), …)` makes it: own string keys, `__proto__` not carried over. An object
 * record without an own `__proto__` (every answer Graph sends) already is that, and is returned as it is: these are
 * answers parsed just now, which nothing else holds, and copying each item's fields showed in CPU profiles.
 */
function asRecord(record: Record<string, unknown>): Record<string, unknown> {
  if (
    Object.getPrototypeOf(record) === Object.prototype &&
    !Object.prototype.hasOwnProperty.call(record, '__proto__')
  )
    return record;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(record)) if (key !== '__proto__') copy[key] = record[key];
  return copy;
}

function optionalString(record: Record<string, unknown>, key: string): boolean {
  const value = record[key];
  return value === undefined || typeof value === 'string';
}

/** `fieldsSchema.safeParse`. */
export function parseFields(raw: unknown): ReturnType<typeof fieldsSchema.safeParse> {
  if (isPlainRecord(raw)) return { success: true, data: asRecord(raw) };
  return fieldsSchema.safeParse(raw);
}

/** `listItemSchema.safeParse`. */
export function parseListItem(raw: unknown): ReturnType<typeof listItemSchema.safeParse> {
  if (
    isObjectValue(raw) &&
    typeof raw.id === 'string' &&
    raw.id.length > 0 &&
    optionalString(raw, 'eTag') &&
    optionalString(raw, 'lastModifiedDateTime') &&
    (raw.fields === undefined || isPlainRecord(raw.fields))
  ) {
    const data: GraphListItem = { id: raw.id };
    if ('eTag' in raw) data.eTag = raw.eTag as string | undefined;
    if ('lastModifiedDateTime' in raw)
      data.lastModifiedDateTime = raw.lastModifiedDateTime as string | undefined;
    if ('lastModifiedBy' in raw) data.lastModifiedBy = raw.lastModifiedBy;
    if ('fields' in raw) data.fields = raw.fields === undefined ? undefined : asRecord(raw.fields);
    return { success: true, data };
  }
  return listItemSchema.safeParse(raw);
}

function isStringRecord(value: unknown): value is Record<string, string> {
  if (!isPlainRecord(value)) return false;
  for (const key of Object.keys(value))
    if (key !== '__proto__' && typeof value[key] !== 'string') return false;
  return true;
}

/** `batchResponseSchema.safeParse`. */
export function parseBatchResponse(raw: unknown): ReturnType<typeof batchResponseSchema.safeParse> {
  if (!isObjectValue(raw) || !Array.isArray(raw.responses)) return batchResponseSchema.safeParse(raw);
  const responses: BatchResponseItem[] = [];
  for (const inner of raw.responses as unknown[]) {
    if (
      !isObjectValue(inner) ||
      typeof inner.id !== 'string' ||
      typeof inner.status !== 'number' ||
      !Number.isSafeInteger(inner.status) ||
      !(inner.headers === undefined || isStringRecord(inner.headers))
    ) {
      return batchResponseSchema.safeParse(raw);
    }
    const item: BatchResponseItem = { id: inner.id, status: inner.status };
    if ('headers' in inner)
      item.headers =
        inner.headers === undefined ? undefined : (asRecord(inner.headers) as Record<string, string>);
    if ('body' in inner) item.body = inner.body;
    responses.push(item);
  }
  return { success: true, data: { responses } };
}
