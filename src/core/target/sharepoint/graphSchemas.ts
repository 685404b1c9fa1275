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
  text: z.object({ allowMultipleLines: z.boolean().optional(), maxLength: z.number().optional() }).optional(),
  number: facet.optional(),
  currency: facet.optional(),
  boolean: facet.optional(),
  calculated: facet.optional(),
  hyperlinkOrPicture: facet.optional(),
  dateTime: z.object({ format: z.string().optional() }).optional(),
  choice: z
    .object({
      choices: z.array(z.string()).optional(),
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
