/**
 * Errors the emulator raises. `GraphError` becomes a Graph-shaped HTTP error response
 * (`{error:{code,message,innerError}}`); `EmulatorSetupError` is for misuse of the in-process API.
 */

export type HeaderMap = Record<string, string>;

export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: HeaderMap = {},
  ) {
    super(message);
    this.name = 'GraphError';
  }
}

/** Thrown by the in-process API (options, control calls) when the caller asks for something invalid. */
export class EmulatorSetupError extends Error {
  constructor(
    message: string,
    readonly context: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'EmulatorSetupError';
  }
}

export interface GraphErrorBody {
  error: {
    code: string;
    message: string;
    innerError: { date: string; 'request-id': string; 'client-request-id': string };
  };
}

export function graphErrorBody(
  code: string,
  message: string,
  requestId: string,
  clientRequestId: string,
): GraphErrorBody {
  return {
    error: {
      code,
      message,
      innerError: {
        date: new Date().toISOString().replace(/\.\d{3}Z$/, ''),
        'request-id': requestId,
        'client-request-id': clientRequestId,
      },
    },
  };
}

export const badRequest = (message: string, code = 'invalidRequest'): GraphError =>
  new GraphError(400, code, message);

export const notFound = (message: string, code = 'itemNotFound'): GraphError =>
  new GraphError(404, code, message);

/** The Graph error code that goes with a status when a fault or the server itself has to invent one. */
export function defaultCodeForStatus(status: number): string {
  switch (status) {
    case 400:
      return 'invalidRequest';
    case 401:
      return 'InvalidAuthenticationToken';
    case 403:
      return 'accessDenied';
    case 404:
      return 'itemNotFound';
    case 409:
      return 'conflict';
    case 412:
      return 'resourceModified';
    case 423:
      return 'resourceLocked';
    case 429:
      return 'TooManyRequests';
    case 500:
      return 'generalException';
    case 502:
      return 'badGateway';
    case 503:
      return 'serviceNotAvailable';
    case 504:
      return 'gatewayTimeout';
    default:
      return status >= 500 ? 'generalException' : 'invalidRequest';
  }
}
