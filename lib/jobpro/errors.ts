/**
 * The engine's one error type. Its `code` says what kind of mistake it is, so
 * the web layer can pick a status without the engine knowing about HTTP.
 *
 * @example
 * ```ts
 * throw new JobproError("invalid", "minute field: 61 is out of range 0-59", "schedule");
 * ```
 * @module
 */

/** What went wrong, in terms a caller can act on. */
export type ErrorCode =
  /** The input is malformed or out of range; `field` names the culprit. */
  | "invalid"
  /** No such job or run. */
  | "not_found"
  /** The id is already taken. */
  | "duplicate"
  /** The job's current status does not allow the operation. */
  | "conflict"
  /** The store could not be used (locked, read-only, full). */
  | "unavailable";

/** An error the engine raises on purpose, with a code and, for bad input, a field. */
export class JobproError extends Error {
  /**
   * @param code what kind of error
   * @param message a sentence a user can act on
   * @param field the input field that is wrong, for `invalid`
   */
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = "JobproError";
  }
}

/**
 * Shorthand for an `invalid` error on one field.
 *
 * @example
 * ```ts
 * throw invalid("timeoutMs", "must be a positive integer");
 * ```
 */
export function invalid(field: string, message: string): JobproError {
  return new JobproError("invalid", `${field}: ${message}`, field);
}
