/**
 * Executors for a job's action: `http`, `shell` and `function`. Each honors
 * the run's AbortSignal, returns a message and the tail of its output, and
 * throws when the run should fail.
 *
 * @example
 * ```ts
 * const result = await runAction(
 *   { type: "function", name: "noop" },
 *   { signal: AbortSignal.timeout(1000), functions: defaultRegistry(), allowShell: false },
 * );
 * ```
 * @module
 */
import type { Registry } from "../jobs/registry.ts";
import { JobproError } from "./errors.ts";
import type { Limiter } from "./limiter.ts";
import { redactOutput, redactUrl } from "./secrets.ts";
import type { Action, FunctionAction, HttpAction, ShellAction } from "./job.ts";
import { MAX_OUTPUT_CHARS, type Run } from "./run.ts";

/** What a finished action reports. */
export interface ActionResult {
  message: string;
  output: string | null;
}

/** The execution an action belongs to, as an http action's receiver learns it. */
export type ActionRun = Pick<
  Run,
  "id" | "jobId" | "trigger" | "attempt" | "scheduledFor"
>;

/** What an action may use while it runs. */
export interface ActionContext {
  signal: AbortSignal;
  /** The run being executed: an http action names it in its request headers. */
  run?: ActionRun;
  functions: Registry;
  allowShell: boolean;
  /** How long a shell process gets between SIGTERM and SIGKILL. */
  killGraceMs?: number;
  /** Caps the http actions going at once; the rest wait for a slot. */
  outbound?: Limiter;
  /** Caps the shell actions going at once (each holds a process and its pipes). */
  processes?: Limiter;
  /** The client http actions fetch through: no idle connections kept, so the cap is the sockets held. */
  httpClient?: Deno.HttpClient;
  /** An http action's request is abandoned after this (default 5 minutes). */
  httpTimeoutMs?: number;
  /**
   * The environment a shell action starts from (the job's own `env` is added
   * on top): never the server's whole environment.
   */
  shellEnv?: Record<string, string>;
  /**
   * Hears the output as it is written, while the action runs (the runner's
   * live output, live_output.ts): an http action's status line and body, a
   * program's stdout and stderr, a function's `log` lines.
   */
  onOutput?: (text: string) => void;
}

/** The default deadline of an http action's request. */
export const HTTP_TIMEOUT_MS = 5 * 60_000;

/** Server variables a shell action gets besides those JOBPRO_SHELL_ENV_PASS names. */
export const SHELL_ENV_BASE = ["PATH", "HOME", "LANG", "TZ"] as const;

/**
 * The environment shell actions start from: PATH, HOME, LANG and TZ, plus
 * the `pass` names, taken from `env`; never a JOBPRO_* variable, so a job
 * cannot read the server's tokens.
 *
 * @example
 * ```ts
 * shellEnvironment(Deno.env.toObject(), ["PGHOST"]); // { PATH: "...", HOME: "...", PGHOST: "db" }
 * ```
 */
export function shellEnvironment(
  env: Record<string, string | undefined>,
  pass: readonly string[] = [],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [...SHELL_ENV_BASE, ...pass]) {
    const value = env[name];
    if (value !== undefined && !/^JOBPRO_/i.test(name)) out[name] = value;
  }
  return out;
}

/** A failed action, with whatever output it produced. */
export class ActionError extends Error {
  /** @param output the captured tail, kept on the run */
  constructor(message: string, readonly output: string | null = null) {
    super(message);
    this.name = "ActionError";
  }
}

/**
 * Checks, at create or edit time, that an action can run on this server:
 * the function exists, shell actions are allowed.
 *
 * @example
 * ```ts
 * checkAction({ type: "function", name: "nope" }, ctx); // throws invalid "action.name"
 * ```
 */
export function checkAction(
  action: Action,
  ctx: Pick<ActionContext, "functions" | "allowShell">,
): void {
  if (action.type === "function" && !ctx.functions.get(action.name)) {
    throw new JobproError(
      "invalid",
      `action.name: no function named "${action.name}" (known: ${
        ctx.functions.names().join(", ")
      })`,
      "action.name",
    );
  }
  if (action.type === "shell" && !ctx.allowShell) {
    throw new JobproError(
      "invalid",
      "action.type: shell actions are disabled; start the server with JOBPRO_ALLOW_SHELL=1 to allow them",
      "action.type",
    );
  }
}

/**
 * Runs an action to completion; throws an `ActionError` (or the abort reason)
 * when the run should fail.
 */
export function runAction(
  action: Action,
  ctx: ActionContext,
): Promise<ActionResult> {
  // Aborted before it began (stopped while its claim was being written):
  // nothing starts, no process, no request.
  if (ctx.signal.aborted) return Promise.reject(ctx.signal.reason);
  switch (action.type) {
    case "http":
      return runHttp(action, ctx);
    case "shell":
      return runShell(action, ctx);
    case "function":
      return runFunction(action, ctx);
    case "heartbeat":
      // Never started (planner.ts, operations.ts): it waits for pings.
      return Promise.reject(
        new ActionError("a heartbeat job runs nothing: it waits for pings"),
      );
  }
}

async function readHead(
  body: ReadableStream<Uint8Array> | null,
  max: number,
  onOutput?: (text: string) => void,
): Promise<string> {
  if (!body) return "";
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (text.length < max) {
      const { done, value } = await reader.read();
      if (done) break;
      const part = decoder.decode(value, { stream: true });
      onOutput?.(part.slice(0, Math.max(0, max - text.length)));
      text += part;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text.length > max ? text.slice(0, max) + "…" : text;
}

async function runHttp(
  action: HttpAction,
  ctx: ActionContext,
): Promise<ActionResult> {
  // Wait for a slot (a cancelled or timed-out run stops waiting), then give
  // the request its own deadline besides the run's.
  const release = await (ctx.outbound?.acquire(ctx.signal) ?? (() => {}));
  const timeoutMs = ctx.httpTimeoutMs ?? HTTP_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([ctx.signal, deadline]);
  try {
    let res: Response;
    try {
      res = await fetch(action.url, {
        method: action.method,
        headers: runHeaders(action.headers, ctx.run),
        body: action.method === "GET" || action.method === "HEAD"
          ? undefined
          : action.body,
        signal,
        redirect: "manual",
        client: ctx.httpClient,
      } as RequestInit);
    } catch (e) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (deadline.aborted) throw noAnswer(action, timeoutMs);
      // The runtime's message may quote the URL, credentials and all.
      throw new ActionError(
        `${action.method} ${redactUrl(action.url)} failed: ${
          redactOutput((e as Error).message, action)
        }`,
      );
    }
    let head: string;
    try {
      ctx.onOutput?.(`HTTP ${res.status} ${res.statusText}\n`);
      head = await readHead(res.body, MAX_OUTPUT_CHARS, ctx.onOutput);
    } catch (e) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (deadline.aborted) throw noAnswer(action, timeoutMs);
      throw e;
    }
    const output = `HTTP ${res.status} ${res.statusText}\n${head}`;
    const ok = action.expectStatus !== undefined
      ? res.status === action.expectStatus
      : res.status >= 200 && res.status < 300;
    const summary = `${action.method} ${redactUrl(action.url)} → ${res.status}`;
    if (!ok) {
      const expected = action.expectStatus ?? "2xx";
      throw new ActionError(`${summary} (expected ${expected})`, output);
    }
    return { message: summary, output };
  } finally {
    release();
  }
}

/**
 * The action's headers plus the run's identity (`X-Jobpro-Job`, `-Run`,
 * `-Attempt`, `-Trigger`, `-Scheduled-For` when it has a tick, and
 * `Idempotency-Key`), so a receiver can tell a repeat from a new execution.
 * A header the user set under one of these names is kept as is.
 *
 * @example
 * ```ts
 * runHeaders(undefined, { id: 7, jobId: "a", trigger: "schedule", attempt: 1, scheduledFor: 0 })
 *   .get("idempotency-key"); // "a:0:1"
 * ```
 */
export function runHeaders(
  user: Record<string, string> | undefined,
  run: ActionRun | undefined,
): Headers {
  const headers = new Headers(user);
  if (!run) return headers;
  const add = (name: string, value: string) => {
    if (!headers.has(name)) headers.set(name, value);
  };
  add("X-Jobpro-Job", run.jobId);
  add("X-Jobpro-Run", String(run.id));
  add("X-Jobpro-Attempt", String(run.attempt));
  add("X-Jobpro-Trigger", run.trigger);
  if (run.scheduledFor !== null) {
    add("X-Jobpro-Scheduled-For", new Date(run.scheduledFor).toISOString());
  }
  add(
    "Idempotency-Key",
    `${run.jobId}:${run.scheduledFor ?? run.id}:${run.attempt}`,
  );
  return headers;
}

function noAnswer(action: HttpAction, ms: number): ActionError {
  return new ActionError(
    `${action.method} ${
      redactUrl(action.url)
    }: no complete answer within ${ms} ms (JOBPRO_HTTP_TIMEOUT_MS)`,
  );
}

/** Keeps the last `max` characters written to it. */
function tailBuffer(max: number) {
  let text = "";
  return {
    push(chunk: string) {
      text += chunk;
      if (text.length > max * 2) text = text.slice(text.length - max);
    },
    toString: () =>
      text.length > max ? "…" + text.slice(text.length - max + 1) : text,
  };
}

/** A sink that also tells `onOutput` (the live output) what it takes. */
function liveSink(
  sink: { push(s: string): void; toString(): string },
  onOutput?: (text: string) => void,
) {
  if (!onOutput) return sink;
  return {
    push(s: string) {
      sink.push(s);
      onOutput(s);
    },
    toString: () => sink.toString(),
  };
}

async function pump(
  stream: ReadableStream<Uint8Array>,
  sink: { push(s: string): void },
  label: string,
) {
  const decoder = new TextDecoder();
  let atLineStart = true;
  for await (const chunk of stream) {
    const s = decoder.decode(chunk, { stream: true });
    for (const part of s.split(/(?<=\n)/)) {
      sink.push(atLineStart && part ? `${label}${part}` : part);
      atLineStart = part.endsWith("\n");
    }
  }
}

async function runShell(
  action: ShellAction,
  ctx: ActionContext,
): Promise<ActionResult> {
  checkAction(action, ctx);
  const release = await (ctx.processes?.acquire(ctx.signal) ?? (() => {}));
  try {
    return await spawnShell(action, ctx);
  } finally {
    release();
  }
}

async function spawnShell(
  action: ShellAction,
  ctx: ActionContext,
): Promise<ActionResult> {
  const [program, ...args] = action.command;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      cwd: action.cwd,
      // Only what the job is given: the server's environment (its tokens
      // among it) stays out.
      clearEnv: true,
      env: { ...(ctx.shellEnv ?? {}), ...action.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true, // own process group, so a timeout kills its children too
    }).spawn();
  } catch (e) {
    throw new ActionError(`cannot start ${program}: ${(e as Error).message}`);
  }
  const out = liveSink(tailBuffer(MAX_OUTPUT_CHARS), ctx.onOutput);
  const pumps = Promise.all([
    pump(child.stdout, out, ""),
    pump(child.stderr, out, "[stderr] "),
  ]);
  const kill = (signal: Deno.Signal) => {
    try {
      Deno.kill(-child.pid, signal);
    } catch { /* already gone */ }
  };
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const onAbort = () => {
    kill("SIGTERM");
    killTimer = setTimeout(() => kill("SIGKILL"), ctx.killGraceMs ?? 5000);
  };
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  try {
    const status = await child.status;
    await pumps;
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const output = out.toString();
    if (status.code !== 0) {
      const how = status.signal
        ? `killed by ${status.signal}`
        : `exit code ${status.code}`;
      throw new ActionError(`${program} failed: ${how}`, output);
    }
    return { message: `${program} exited 0`, output };
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    clearTimeout(killTimer);
  }
}

async function runFunction(
  action: FunctionAction,
  ctx: ActionContext,
): Promise<ActionResult> {
  const fn = ctx.functions.get(action.name);
  if (!fn) throw new ActionError(`no function named "${action.name}"`);
  // What it logs is its output: live while it runs, the tail kept after.
  const logged = liveSink(tailBuffer(MAX_OUTPUT_CHARS), ctx.onOutput);
  let wrote = false;
  const log = (...parts: unknown[]) => {
    const line = parts.map((p) =>
      typeof p === "string" ? p : JSON.stringify(p) ?? String(p)
    ).join(" ");
    wrote = true;
    logged.push(line.endsWith("\n") ? line : line + "\n");
  };
  let value: unknown;
  try {
    value = await fn(action.params ?? {}, ctx.signal, { log });
  } catch (e) {
    if (!wrote || ctx.signal.aborted || e instanceof ActionError) throw e;
    throw new ActionError(
      e instanceof Error ? e.message : String(e),
      logged.toString(),
    );
  }
  if (ctx.signal.aborted) throw ctx.signal.reason;
  const message = value === undefined || value === null
    ? "ok"
    : typeof value === "string"
    ? value
    : JSON.stringify(value);
  return {
    message: message.slice(0, 1000),
    output: wrote ? logged.toString() : null,
  };
}
