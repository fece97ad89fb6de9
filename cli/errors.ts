/**
 * The CLI's exit codes and its one error type. Every failure becomes a
 * {@link CliError} whose `exitCode` tells a script what kind of failure it
 * was; `jobs.ts` prints the message to stderr and exits with the code.
 *
 * @example
 * ```ts
 * throw new CliError("--retries: must be a non-negative integer", EXIT.usage);
 * ```
 * @module
 */

/** Exit codes, documented in `jobs help` and the README. */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** Could not reach the server, it answered 5xx, or it answered something that is not jobpro's JSON. */
  server: 1,
  /** Bad command line: unknown command or flag, missing argument, bad value, unreadable file. Nothing was sent. */
  usage: 2,
  /** The job or run does not exist (404). */
  notFound: 3,
  /** The API rejected the request: invalid (400, 413, 415) or conflict (409: duplicate id, illegal transition). */
  rejected: 4,
  /** `run --wait`: the run failed or was cancelled, or was still running at the `--wait-timeout` deadline; `cancel`: the run had not ended yet when the server answered. */
  runFailed: 5,
  /** The API refused the credentials (401/403): set or fix JOBPRO_TOKEN. */
  unauthorized: 6,
} as const;

/** What the API said about an error, when it said something. */
export interface ErrorDetail {
  /** HTTP status, or 0 when there was no answer. */
  status: number;
  /** The API's machine-readable code (`invalid`, `not_found`, ...) or the CLI's (`usage`, `unreachable`, `run_failed`). */
  code: string;
  /** The input field the API blamed, if any. */
  field?: string;
}

/** A failure with the exit code the process should end with. */
export class CliError extends Error {
  /**
   * @param message one sentence for stderr
   * @param exitCode one of {@link EXIT}
   * @param detail what the API said, for `--json` error output
   */
  constructor(
    message: string,
    readonly exitCode: number,
    readonly detail: ErrorDetail = { status: 0, code: codeOf(exitCode) },
  ) {
    super(message);
    this.name = "CliError";
  }
}

function codeOf(exitCode: number): string {
  if (exitCode === EXIT.usage) return "usage";
  if (exitCode === EXIT.runFailed) return "run_failed";
  return "unreachable";
}

/**
 * A usage error (exit 2).
 *
 * @example
 * ```ts
 * throw usage("show: needs a job id");
 * ```
 */
export function usage(message: string): CliError {
  return new CliError(message, EXIT.usage);
}

/**
 * The exit code for an HTTP error status.
 *
 * @example
 * ```ts
 * exitCodeForStatus(409); // 4
 * ```
 */
export function exitCodeForStatus(status: number): number {
  if (status === 404) return EXIT.notFound;
  if (status === 401 || status === 403) return EXIT.unauthorized;
  if (status >= 400 && status < 500) return EXIT.rejected;
  return EXIT.server;
}
