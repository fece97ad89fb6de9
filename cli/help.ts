/**
 * The CLI's usage texts: `jobs help` and `jobs <command> --help`.
 *
 * @example
 * ```ts
 * console.log(mainHelp(COMMANDS));
 * console.log(commandHelp(COMMANDS[0]));
 * ```
 * @module
 */
import type { Command } from "./commands.ts";

/** The exit-code table, as printed by `jobs help` (and copied into the README). */
export const EXIT_CODES = `Exit codes:
  0  ok
  1  server or network error: cannot connect, 5xx, an answer that is not jobpro's JSON
  2  usage error: unknown command or flag, missing or bad argument, unreadable file (nothing was sent)
  3  not found: no such job or run (404)
  4  rejected by the API: invalid input (400, e.g. a bad schedule), 413, 415, or conflict (409:
     duplicate id, a status change the job's status does not allow)
  5  run --wait: the run failed or was cancelled, or was still running at --wait-timeout;
     cancel: the run had not ended yet when the server answered (the cancel is recorded)
  6  unauthorized (401/403): set or fix JOBPRO_TOKEN`;

const ENVIRONMENT = `Environment:
  JOBPRO_URL    the server (default http://127.0.0.1:8000); --url overrides it
  JOBPRO_TOKEN  sent as "Authorization: Bearer <token>" when set`;

const GLOBAL_FLAGS = `Flags for every command:
  --json        machine-readable output on stdout (errors on stderr as { "error": {...} });
                list, show and version also take -o json|yaml (and wide for list and show)
  --url URL     the server, instead of JOBPRO_URL
  -h, --help    this command's usage`;

/**
 * `jobs help`: every command with its summary, the flags every command
 * takes, the environment and the exit codes.
 *
 * @example
 * ```ts
 * mainHelp(COMMANDS).startsWith("Usage: jobs <command>"); // true
 * ```
 */
export function mainHelp(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "Usage: jobs <command> [arguments] [flags]      (deno task jobs <command> ...)",
    "",
    "Commands:",
    ...lines,
    `  ${
      "help".padEnd(width)
    }  this text, or help for one command: jobs help <command>`,
    "",
    GLOBAL_FLAGS,
    "",
    ENVIRONMENT,
    "",
    EXIT_CODES,
  ].join("\n");
}

/**
 * `jobs <command> --help`: its usage line, summary and flags.
 *
 * @example
 * ```ts
 * commandHelp(showCommand); // "Usage: jobs show ID\n\nshow one job\n..."
 * ```
 */
export function commandHelp(c: Command): string {
  const flags = c.flags.length
    ? ["", "Flags:", ...c.flags.map((f) => `  ${f}`)]
    : [];
  const examples = c.examples?.length
    ? ["", "Examples:", ...c.examples.map((e) => `  ${e}`)]
    : [];
  return [
    `Usage: jobs ${c.name}${c.args ? ` ${c.args}` : ""}`,
    "",
    c.summary,
    ...flags,
    ...examples,
    "",
    GLOBAL_FLAGS,
    "",
    ENVIRONMENT,
    "",
    "Exit codes: 0 ok, 1 server/network, 2 usage, 3 not found, 4 rejected (invalid/conflict),",
    "5 run --wait failed (or cancel: still running), 6 unauthorized; jobs help explains them.",
  ].join("\n");
}
