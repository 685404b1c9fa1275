import { Client, type QueryConfig } from 'pg';

/**
 * A real pg Client subclass that shows every query's text to `watch` before sending it, and sends the text `watch`
 * answers instead when it answers one (fault injection against the real server, not a mock). Give it to a Pool
 * (`new Pool({ …, Client: watchedClient(watch) })`) and to an engine context built on that pool.
 */
export function watchedClient(watch: (text: string) => string | void): typeof Client {
  class WatchedClient extends Client {}
  const query = Client.prototype.query as (...args: unknown[]) => unknown;
  (WatchedClient.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (
    this: Client,
    ...args: unknown[]
  ) {
    const first = args[0];
    const text = typeof first === 'string' ? first : ((first as QueryConfig | null)?.text ?? null);
    if (text !== null) {
      const replaced = watch(text);
      if (typeof replaced === 'string' && replaced !== text)
        args[0] = typeof first === 'string' ? replaced : { ...(first as QueryConfig), text: replaced };
    }
    return query.apply(this, args);
  };
  return WatchedClient;
}
