/**
 * `jobs`: jobpro from the command line, over its REST API.
 *
 * ```sh
 * deno task jobs list
 * deno task jobs add --name Ping --schedule "*\/30 * * * * *" --http http://localhost:8080/health
 * deno task jobs run ping --wait && echo "ping ok"
 * deno task jobs watch --json
 * deno task jobs help
 * ```
 *
 * The server is `JOBPRO_URL` (default http://127.0.0.1:8000); `JOBPRO_TOKEN`,
 * when set, is sent as a bearer token. Exit codes are in `cli/errors.ts`.
 * @module
 */
import { parse } from "./args.ts";
import { createClient, DEFAULT_URL } from "./client.ts";
import {
  type Command,
  COMMANDS,
  COMMON_OPTIONS,
  type Ctx,
} from "./commands.ts";
import { CliError, EXIT, usage } from "./errors.ts";
import { commandHelp, mainHelp } from "./help.ts";
import { cell } from "./table.ts";

/** What `main` needs from the outside world. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  /** Reads a file, or stdin for "-". */
  readText(path: string): Promise<string>;
  now?(): number;
  /** Stops `watch`. */
  signal?: AbortSignal;
}

/**
 * Runs one command line and returns the exit code; never throws.
 *
 * @example
 * ```ts
 * const code = await main(["list", "--json"], denoIo());
 * Deno.exit(code);
 * ```
 */
export async function main(argv: string[], io: Io): Promise<number> {
  const json = argv.includes("--json");
  const name = argv[0];
  try {
    if (name === undefined) {
      io.err(mainHelp(COMMANDS));
      return EXIT.usage;
    }
    if (name === "help" || name === "--help" || name === "-h") {
      io.out(helpFor(argv[1]));
      return EXIT.ok;
    }
    const cmd = COMMANDS.find((c) => c.name === name);
    if (!cmd) throw usage(`unknown command "${name}"; see jobs help`);
    return await runCommand(cmd, argv.slice(1), io);
  } catch (e) {
    const known = COMMANDS.some((c) => c.name === name);
    printError(io, e, known ? name : undefined, json);
    return e instanceof CliError ? e.exitCode : EXIT.server;
  }
}

function helpFor(name: string | undefined): string {
  if (name === undefined) return mainHelp(COMMANDS);
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) throw usage(`unknown command "${name}"; see jobs help`);
  return commandHelp(cmd);
}

async function runCommand(
  cmd: Command,
  argv: string[],
  io: Io,
): Promise<number> {
  const p = parse(argv, { ...COMMON_OPTIONS, ...cmd.options });
  if (p.values.help) {
    io.out(commandHelp(cmd));
    return EXIT.ok;
  }
  checkPositionals(cmd, p.positionals);
  const url = typeof p.values.url === "string"
    ? p.values.url
    : io.env.JOBPRO_URL || DEFAULT_URL;
  return await cmd.run(context(io, url, p.values.json === true), p);
}

function checkPositionals(cmd: Command, given: string[]) {
  const [min, max] = cmd.positionals;
  const names = cmd.args.split(/\s+/).filter((w) => /^\[?[A-Z_]+\]?$/.test(w));
  if (given.length < min) {
    const missing = names.slice(given.length, min).join(" ");
    throw usage(`missing ${missing || cmd.args}`);
  }
  if (given.length > max) {
    throw usage(`unexpected argument "${given[max]}"`);
  }
}

function context(io: Io, url: string, json: boolean): Ctx {
  return {
    client: createClient({ url, token: io.env.JOBPRO_TOKEN || undefined }),
    json,
    out: io.out,
    err: io.err,
    report: (e, prefix) => printError(io, e, prefix, json),
    readText: io.readText,
    now: io.now ?? Date.now,
    signal: io.signal,
  };
}

/**
 * Prints an error to stderr: `jobs <context>: <message>`, or with --json
 * `{ "error": { code, message, field?, status, exitCode } }`.
 *
 * @example
 * ```ts
 * printError(io, new CliError('no job with id "x"', 3), "show", false); // jobs show: no job with id "x"
 * ```
 */
export function printError(
  io: Io,
  e: unknown,
  prefix: string | undefined,
  json: boolean,
): void {
  const err = e instanceof CliError ? e : new CliError(
    `unexpected error: ${(e as Error)?.stack ?? e}`,
    EXIT.server,
  );
  if (json) {
    io.err(JSON.stringify({
      error: {
        ...err.detail,
        message: err.message,
        exitCode: err.exitCode,
      },
    }));
    return;
  }
  const hint = err.exitCode === EXIT.usage && prefix &&
      COMMANDS.some((c) => c.name === prefix)
    ? ` (see jobs ${prefix} --help)`
    : "";
  io.err(
    `jobs${prefix ? ` ${cell(prefix)}` : ""}: ${
      cell(err.message, 2000)
    }${hint}`,
  );
}

/**
 * The real process's I/O: console, environment, files and stdin.
 *
 * @example
 * ```ts
 * Deno.exit(await main(Deno.args, denoIo()));
 * ```
 */
export function denoIo(): Io {
  return {
    out: (t) => console.log(t),
    err: (t) => console.error(t),
    env: Deno.env.toObject(),
    readText: (path) =>
      path === "-"
        ? new Response(Deno.stdin.readable).text()
        : Deno.readTextFile(path),
  };
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args, denoIo()));
}
