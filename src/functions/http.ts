import './bootstrap';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { MAX_NOTIFICATION_BODY_BYTES, MAX_VALIDATION_TOKEN_LENGTH } from '../core/subscriptions';

/** Shared pieces of the HTTP functions: JSON answers, bounded body reading, Graph's validation echo. */

export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'Cache-Control': 'no-store', ...headers } };
}

export function errorResponse(
  status: number,
  error: string,
  details?: Record<string, unknown>,
): HttpResponseInit {
  return jsonResponse(status, { error, ...details });
}

export type BodyReadResult = { ok: true; text: string } | { ok: false; response: HttpResponseInit };

/**
 * Reads a request body of at most `limit` bytes as UTF-8. A declared or actual size over the limit is
 * answered 413 without parsing; the declared length is checked first so a huge body is not buffered.
 */
export async function readBoundedBody(
  request: HttpRequest,
  limit = MAX_NOTIFICATION_BODY_BYTES,
): Promise<BodyReadResult> {
  const tooLarge = (): BodyReadResult => ({
    ok: false,
    response: errorResponse(413, `body larger than ${limit} bytes`),
  });
  const declared = Number(request.headers.get('content-length') ?? '');
  if (Number.isFinite(declared) && declared > limit) return tooLarge();
  const bytes = Buffer.from(await request.arrayBuffer());
  if (bytes.length > limit) return tooLarge();
  return { ok: true, text: bytes.toString('utf8') };
}

export type JsonReadResult = { ok: true; value: unknown } | { ok: false; response: HttpResponseInit };

/** A bounded body parsed as JSON; an empty body is `emptyValue` when given, a 400 otherwise. */
export async function readJsonBody(
  request: HttpRequest,
  options: { limit?: number; emptyValue?: unknown } = {},
): Promise<JsonReadResult> {
  const body = await readBoundedBody(request, options.limit);
  if (!body.ok) return body;
  if (body.text.trim() === '') {
    if ('emptyValue' in options) return { ok: true, value: options.emptyValue };
    return { ok: false, response: errorResponse(400, 'body is empty; expected JSON') };
  }
  try {
    return { ok: true, value: JSON.parse(body.text) };
  } catch (err) {
    return {
      ok: false,
      response: errorResponse(
        400,
        `body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
      ),
    };
  }
}

/**
 * Graph's endpoint validation (graph.md): a request carrying `validationToken` must be answered 200,
 * `text/plain`, with exactly the URL-decoded token, within 10 s. Returns null when there is no token.
 */
export function validationEcho(request: HttpRequest): HttpResponseInit | null {
  const token = request.query.get('validationToken');
  if (token === null) return null;
  if (token.length > MAX_VALIDATION_TOKEN_LENGTH) {
    return errorResponse(400, `validationToken longer than ${MAX_VALIDATION_TOKEN_LENGTH} characters`);
  }
  return {
    status: 200,
    body: token,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' },
  };
}
