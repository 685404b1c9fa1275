/**
 * Error entries inside delta answers. Graph can answer a delta page 200 and put, in `value` where an item's entry
 * would be, an error object instead of the item: `{"error": {"code", "message", "innerError": {"date",
 * "request-id", "client-request-id"}}}` and nothing else (no `id`), as reported for listItem delta in
 * https://github.com/microsoftgraph/msgraph-sdk-typescript/issues/544 (code `InternalServerError`, the page still
 * carrying its `@odata.deltaLink`). The object is Graph's usual error resource
 * (https://learn.microsoft.com/en-us/graph/errors, "Error resource type"). Nothing documents when it happens, so the
 * emulator never does it by itself: a test asks for it (control `injectDeltaError`) for one item, and every delta
 * answer that would show that item (its latest state, a stale repeat or its tombstone) shows the error entry in its
 * place, for `count` answers or until cleared.
 */
import { z } from 'zod';
import type { EmulatorContext } from './context';
import { EmulatorSetupError, graphErrorBody, type GraphErrorBody } from './errors';
import type { ListState } from './state';
import type { DeltaErrorSpec } from './types';

export const deltaErrorSpecSchema = z.object({
  siteId: z.string().min(1),
  list: z.string().min(1),
  itemId: z.string().regex(/^[1-9]\d*$/, 'an item id is a positive integer in a string'),
  code: z.string().min(1).optional(),
  message: z.string().min(1).optional(),
  count: z.number().int().positive().optional(),
});

/** What the reported entry said (the issue above); real messages vary with what failed. */
const DEFAULT_CODE = 'InternalServerError';
const DEFAULT_MESSAGE = 'The service could not return this entry of the delta feed.';

interface ActiveDeltaError {
  listId: string;
  itemId: number;
  code: string;
  message: string;
  /** Delta answers left that carry it; undefined = until cleared. */
  remaining: number | undefined;
}

export class DeltaErrorInjector {
  private errors: ActiveDeltaError[] = [];

  add(ctx: EmulatorContext, input: DeltaErrorSpec): void {
    const parsed = deltaErrorSpecSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new EmulatorSetupError(`Invalid delta error ${issue.path.join('.') || ''}: ${issue.message}`, {
        deltaError: input,
      });
    }
    const spec = parsed.data;
    const site = ctx.state.findSite(spec.siteId);
    if (!site) throw new EmulatorSetupError(`No site '${spec.siteId}'`, { siteId: spec.siteId });
    const list = site.findList(spec.list);
    if (!list)
      throw new EmulatorSetupError(`No list '${spec.list}' in site '${site.id}'`, { list: spec.list });
    this.errors.push({
      listId: list.id,
      itemId: Number(spec.itemId),
      code: spec.code ?? DEFAULT_CODE,
      message: spec.message ?? DEFAULT_MESSAGE,
      remaining: spec.count,
    });
  }

  /**
   * The error entry that stands for `itemId` in one delta answer of `list`, or undefined. Call once per answer and
   * item: it counts the answer against the error's `count`.
   */
  take(
    list: ListState,
    itemId: number,
    requestId: string,
    clientRequestId: string,
  ): GraphErrorBody | undefined {
    const index = this.errors.findIndex((e) => e.listId === list.id && e.itemId === itemId);
    if (index < 0) return undefined;
    const error = this.errors[index];
    if (error.remaining !== undefined && --error.remaining <= 0) this.errors.splice(index, 1);
    return graphErrorBody(error.code, error.message, requestId, clientRequestId);
  }

  clear(): void {
    this.errors = [];
  }
}
