import { Agent } from 'undici';
import { z } from 'zod';

/** A Graph call the demo made (as a user, or as the app to read the list back) failed. */
export class DemoGraphError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    detail: string,
  ) {
    super(`${method} ${url} answered ${status}: ${detail}`);
    this.name = 'DemoGraphError';
  }
}

const siteSchema = z.object({ id: z.string() });
const listSchema = z.object({ id: z.string(), displayName: z.string() });
const itemSchema = z.object({
  id: z.string(),
  eTag: z.string().optional(),
  lastModifiedDateTime: z.string().optional(),
  fields: z.record(z.string(), z.unknown()).default({}),
});
export type GraphListItem = z.output<typeof itemSchema>;

/**
 * Plain `fetch` to the emulator's Graph API with one bearer token (a user's, for edits "in SharePoint",
 * or the app's, to read the list back), trusting the emulator's self-signed certificate through an
 * undici Agent. Deliberately independent of the engine's SharePoint adapter: it is the outside world.
 */
export class GraphSession {
  private readonly dispatcher: Agent;

  constructor(
    readonly baseUrl: string,
    caCert: string,
    private readonly token: string,
  ) {
    this.dispatcher = new Agent({ connect: { ca: caCert } });
  }

  /** Sends one request; answers the JSON body (undefined when empty) or throws DemoGraphError. */
  private async request(method: string, pathOrUrl: string, body?: unknown): Promise<unknown> {
    const url = pathOrUrl.startsWith('https://') ? pathOrUrl : `${this.baseUrl}${pathOrUrl}`;
    const response = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      // Node 20's fetch is undici 6: it accepts an undici Agent as dispatcher.
      dispatcher: this.dispatcher,
    } as RequestInit);
    const text = await response.text();
    if (!response.ok) throw new DemoGraphError(method, url, response.status, text.slice(0, 300));
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  }

  private async get<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> {
    const body = await this.request('GET', path);
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      throw new DemoGraphError('GET', path, 200, `unexpected body: ${parsed.error.issues[0]?.message}`);
    }
    return parsed.data;
  }

  async siteId(hostPath: string): Promise<string> {
    return (await this.get(`/sites/${hostPath}`, siteSchema)).id;
  }

  async listId(siteId: string, listName: string): Promise<string> {
    return (await this.get(`/sites/${siteId}/lists/${encodeURIComponent(listName)}`, listSchema)).id;
  }

  async updateFields(
    siteId: string,
    listId: string,
    itemId: string,
    fields: Record<string, unknown>,
  ): Promise<void> {
    await this.request('PATCH', `/sites/${siteId}/lists/${listId}/items/${itemId}/fields`, fields);
  }

  async deleteItem(siteId: string, listId: string, itemId: string): Promise<void> {
    await this.request('DELETE', `/sites/${siteId}/lists/${listId}/items/${itemId}`);
  }

  async getItem(siteId: string, listId: string, itemId: string): Promise<GraphListItem> {
    return this.get(`/sites/${siteId}/lists/${listId}/items/${itemId}?$expand=fields`, itemSchema);
  }

  /** Every item of the list with its fields, following `@odata.nextLink`. */
  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
