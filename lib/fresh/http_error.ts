/**
 * `HttpError`: throw it anywhere in a handler or middleware to answer with
 * that status; the `_error` page (or the default error response) renders it.
 *
 * @example
 * ```ts
 * import { HttpError } from "fresh";
 * throw new HttpError(404, "no job with id 42");
 * ```
 * @module
 */

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  422: "Unprocessable Content",
  425: "Too Early",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** An error that carries the HTTP status to answer with. */
export class HttpError extends Error {
  /** The HTTP status code, 400-599. */
  readonly status: number;

  /**
   * @param status the HTTP status code
   * @param message defaults to the status text ("Not Found")
   * @param options the standard `cause`
   */
  constructor(
    status: number,
    message: string = statusText(status),
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "HttpError";
    this.status = status;
  }
}

/**
 * The reason phrase of a status code, or `"Error"` when unknown.
 *
 * @example
 * ```ts
 * statusText(404); // "Not Found"
 * ```
 */
export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? "Error";
}
