/**
 * Helpers for the CLI tests: a real jobpro on port 0 with a temp DuckDB
 * file, the `jobs` CLI run as a real child process
 * (`deno run ... cli/jobs.ts`), and JSON calls to the server's API.
 *
 * @example
 * ```ts
 * await withServer(async (jp) => {
 *   assertExit(await jobs(jp.url, ["list"]), 0);
 * });
 * ```
 * @module
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { readConfig } from "@/lib/config.ts";
import { type Jobpro, startJobpro } from "@/main.ts";
import { tempDb, waitFor } from "../helpers.ts";

/** The repository's root, where the CLI runs. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** `deno` arguments that run the CLI, with the permissions a user grants. */
export const CLI_ARGS = [
  "run",
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "cli/jobs.ts",
];

/** What one CLI run printed and returned. */
export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** A running jobpro and its temp directory (which holds the DuckDB file). */
export interface Server {
  jp: Jobpro;
  dir: string;
  /** Stops jobpro and removes the temp directory. */
  close(): Promise<void>;
}

/**
 * Starts jobpro on port 0 with a temp DuckDB file, no shutdown grace and
 * `env` on top; the caller closes it. For one server, prefer `withServer`.
 */
export async function startServer(
  env: Record<string, string> = {},
): Promise<Server> {
  const db = await tempDb();
  const jp = await startJobpro(
    readConfig({
      PORT: "0",
      JOBPRO_DB: db.path,
      JOBPRO_SHUTDOWN_GRACE_MS: "0",
      ...env,
    }),
    { quiet: true },
  );
  return {
    jp,
    dir: db.dir,
    async close() {
      await jp.close();
      await db.cleanup();
    },
  };
}

/** Starts jobpro (as `startServer` does, with `env`), runs `fn`, and always stops it. */
export async function withServer(
  fn: (jp: Jobpro, server: Server) => Promise<void>,
  env: Record<string, string> = {},
) {
  const server = await startServer(env);
  try {
    await fn(server.jp, server);
  } finally {
    await server.close();
  }
}

/** How to run the CLI: extra environment, and text for its stdin. */
export interface JobsOptions {
  /** On top of JOBPRO_URL, an empty JOBPRO_TOKEN and NO_COLOR=1. */
  env?: Record<string, string>;
  /** Written to the CLI's stdin, then closed; without it stdin is null. */
  stdin?: string;
}

function jobsCommand(url: string, args: string[], opts: JobsOptions) {
  return new Deno.Command(Deno.execPath(), {
    args: [...CLI_ARGS, ...args],
    cwd: ROOT,
    env: { JOBPRO_URL: url, JOBPRO_TOKEN: "", NO_COLOR: "1", ...opts.env },
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
}

/** A finished process's exit code and decoded output. */
export function result(out: Deno.CommandOutput): Result {
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** Runs `jobs <args>` against `url` to the end. */
export async function jobs(
  url: string,
  args: string[],
  opts: JobsOptions = {},
): Promise<Result> {
  const command = jobsCommand(url, args, opts);
  if (opts.stdin === undefined) return result(await command.output());
  const child = command.spawn();
  const writer = child.stdin.getWriter();
  if (opts.stdin) await writer.write(new TextEncoder().encode(opts.stdin));
  await writer.close();
  return result(await child.output());
}

/** Asserts a run's exit code (showing its output if not) and, if given, its stderr. */
export function assertExit(r: Result, code: number, stderr?: RegExp) {
  assertEquals(r.code, code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  if (stderr) assertMatch(r.stderr, stderr);
}

/** Runs `jobs <args> --json`, expects exit 0 and returns the parsed stdout. */
export async function jobsJson<T = Record<string, unknown>>(
  url: string,
  args: string[],
  opts: JobsOptions = {},
): Promise<T> {
  const r = await jobs(url, [...args, "--json"], opts);
  assertEquals(
    r.code,
    0,
    `jobs ${args.join(" ")}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
  );
  return JSON.parse(r.stdout) as T;
}

/** A `jobs` process (stdin null) whose output is collected as it comes. */
export function spawnJobs(
  url: string,
  args: string[],
  opts: Omit<JobsOptions, "stdin"> = {},
) {
  const child = jobsCommand(url, args, opts).spawn();
  const seen = { stdout: "", stderr: "" };
  const pump = async (
    s: ReadableStream<Uint8Array>,
    key: keyof typeof seen,
  ) => {
    const decoder = new TextDecoder();
    for await (const chunk of s) {
      seen[key] += decoder.decode(chunk, { stream: true });
    }
  };
  const pumped = Promise.all([
    pump(child.stdout, "stdout"),
    pump(child.stderr, "stderr"),
  ]);
  return {
    seen,
    /** Waits until stdout (or stderr) matches, with a deadline. */
    until: (re: RegExp, key: keyof typeof seen = "stdout") =>
      waitFor(() => seen[key].match(re), {
        what: `${re} in ${key}: ${JSON.stringify(seen)}`,
      }),
    /** Waits for the process to exit by itself and returns its exit code. */
    async exit() {
      const { code } = await child.status;
      await pumped;
      return code;
    },
    /** Ends the process (SIGTERM) and waits for it and its output. */
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await pumped;
    },
  };
}

/** An API call's status and parsed JSON body (null when empty). */
export interface ApiResponse {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
}

async function send(
  jp: Jobpro,
  method: string,
  path: string,
  body: unknown,
  token: string | undefined,
) {
  const res = await fetch(jp.url + path, {
    method,
    headers: {
      "content-type": "application/json",
      accept: "application/json",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { res, text: await res.text() };
}

/** Calls jobpro's API with JSON (as `token`'s bearer, if given); any status is returned. */
export async function request(
  jp: Jobpro,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<ApiResponse> {
  const { res, text } = await send(jp, method, path, body, token);
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Calls jobpro's API like `request`, asserts a 2xx status, and returns the parsed body. */
export async function api(
  jp: Jobpro,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  const { res, text } = await send(jp, method, path, body, token);
  assert(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
