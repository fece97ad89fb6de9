/**
 * The job form's model, without a DOM: a {@link Draft} holds what the form's
 * inputs hold (all strings), made from a job with {@link draftOf}; it turns
 * into the body of a create ({@link createBody}) or into a PATCH of only what
 * changed ({@link patchOf}); an error the server names by its input path
 * (`action.url`) maps back to the form field that shows it ({@link fieldOf}).
 * A function's params get one field each when the server describes the
 * function (GET /jobs/functions), a JSON text otherwise.
 *
 * Browser-safe: it imports only types of the engine's browser entry.
 *
 * @example
 * ```ts
 * const d = { ...draftOf(null), name: "Nap", fn: "sleep", args: { ms: "50" } };
 * createBody(d, functions).action; // { type: "function", name: "sleep", params: { ms: 50 } }
 * ```
 * @module
 */
import type {
  Action,
  FunctionInfo,
  FunctionParam,
  JobView,
  NotifyRule,
} from "@/lib/jobpro/runtime.ts";

/** What an alert rule fires on. */
export type NotifyEvent = NotifyRule["on"][number];

/** The events a rule may tick, in the form's order (notify.ts NOTIFY_EVENTS). */
export const NOTIFY_EVENTS: readonly NotifyEvent[] = [
  "failure",
  "recovery",
  "success",
  "missed",
];

/**
 * One alert rule as the form shows it. `locked`: its webhook URL came
 * redacted (a view with secrets hidden), so it is shown, not offered for
 * editing; sent back as it is, the server keeps the stored URL.
 */
export interface RuleDraft {
  on: NotifyEvent[];
  kind: "webhook" | "email";
  /** The URL or the address, as typed. */
  target: string;
  locked: boolean;
}

/** Everything the form edits, as the strings its inputs hold. */
export interface Draft {
  id: string;
  name: string;
  /** What the job is for; empty: none. */
  description: string;
  schedule: string;
  timezone: string;
  actionType: Action["type"];
  method: string;
  url: string;
  /** One header a line: `Name: value`. */
  headers: string;
  body: string;
  expectStatus: string;
  /** The program, then one argument a line. */
  command: string;
  cwd: string;
  /** A shell action's environment, one `KEY=value` a line. */
  env: string;
  fn: string;
  /** A heartbeat's grace, in seconds. */
  grace: string;
  /** A described function's params by name, as typed. */
  args: Record<string, string>;
  /** The params as JSON, for a function the server does not describe. */
  params: string;
  /** Seconds. */
  timeout: string;
  retries: string;
  /** Seconds. */
  retryDelay: string;
  overlap: JobView["overlap"];
  catchUp: JobView["catchUp"];
  autoStart: boolean;
  /** The tags as a comma list. */
  tags: string;
  /** The jobs to run on success (chains), a comma list of ids. */
  onSuccess: string;
  /** The jobs to run on failure, a comma list of ids. */
  onFailure: string;
  /** The key whose concurrency limit its runs share; empty: none. */
  concurrencyKey: string;
  /** The alert rules, in order. */
  notify: RuleDraft[];
}

/** A draft key whose input holds a string or a boolean. */
type Scalar = Exclude<keyof Draft, "args" | "notify">;

/**
 * A form field: a draft key, `param.<name>` for one of a function's params,
 * or `notify.<i>.on` / `notify.<i>.target` for a part of an alert rule
 * (`notify` alone: the rules as a whole).
 */
export type Field =
  | Scalar
  | "notify"
  | `param.${string}`
  | `notify.${number}.on`
  | `notify.${number}.target`;

/** The functions the server has, or null while they are not known. */
export type Functions = readonly FunctionInfo[] | null;

/**
 * Input the form can check itself; `field` is where the message goes.
 *
 * @example
 * ```ts
 * try { createBody(d, fns); } catch (e) { if (e instanceof DraftError) show(e.field, e.message); }
 * ```
 */
export class DraftError extends Error {
  /** @param field the form field that is wrong */
  constructor(readonly field: Field, message: string) {
    super(message);
    this.name = "DraftError";
  }
}

/**
 * The field of a function's param.
 *
 * @example
 * ```ts
 * paramField("ms"); // "param.ms"
 * ```
 */
export function paramField(name: string): Field {
  return `param.${name}`;
}

/** The param a field is for, or null for a draft key. */
const paramName = (field: Field) =>
  field.startsWith("param.") ? field.slice("param.".length) : null;

/**
 * What a field holds in the draft.
 *
 * @example
 * ```ts
 * valueOf({ ...d, args: { ms: "50" } }, "param.ms"); // "50"
 * ```
 */
export function valueOf(d: Draft, field: Field): string | boolean {
  const param = paramName(field);
  if (param !== null) return d.args[param] ?? "";
  if (field === "notify" || field.startsWith("notify.")) return "";
  return d[field as Scalar];
}

/**
 * The draft with one field set (a new object; `d` is left as it is).
 *
 * @example
 * ```ts
 * withValue(d, "param.ms", "50").args.ms; // "50"
 * ```
 */
export function withValue(
  d: Draft,
  field: Field,
  value: string | boolean,
): Draft {
  const param = paramName(field);
  if (param !== null) {
    return { ...d, args: { ...d.args, [param]: String(value) } };
  }
  return { ...d, [field]: value };
}

/**
 * The params of the function named `name` as the server describes them;
 * null when it is unknown or registered without a description of its params.
 *
 * @example
 * ```ts
 * paramsOf("sleep", fns)?.map((p) => p.name); // ["ms"]
 * ```
 */
export function paramsOf(
  name: string,
  functions: Functions,
): FunctionParam[] | null {
  return functions?.find((f) => f.name === name.trim())?.params ?? null;
}

const str = (v: unknown) => v === undefined || v === null ? "" : String(v);
const seconds = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? "" : String(ms / 1000);

/** An env value that would not survive a `KEY=value` line as it is. */
const needsQuotes = (v: string) =>
  v !== v.trim() || /[\r\n]/.test(v) || v.startsWith('"');

/**
 * A shell environment as `KEY=value` lines; a value with line breaks, outer
 * spaces or a leading quote is written as a JSON string.
 *
 * @example
 * ```ts
 * envText({ A: "1", B: "two\nlines" }); // 'A=1\nB="two\\nlines"'
 * ```
 */
export function envText(env: Record<string, string> | undefined): string {
  return Object.entries(env ?? {}).map(([k, v]) =>
    `${k}=${needsQuotes(v) ? JSON.stringify(v) : v}`
  ).join("\n");
}

/**
 * Reads `Name: value` (headers) or `KEY=value` (env) lines; blank lines are
 * skipped, a line without the separator or a name set twice is an error.
 */
function pairsOf(
  text: string,
  sep: ":" | "=",
  field: "headers" | "env",
): Record<string, string> {
  const out: Record<string, string> = {};
  const shape = sep === ":" ? "Name: value" : "KEY=value";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf(sep);
    const name = at < 0 ? "" : line.slice(0, at).trim();
    if (!name) throw new DraftError(field, `"${line}" is not "${shape}"`);
    if (Object.hasOwn(out, name)) {
      throw new DraftError(field, `${name} is given twice`);
    }
    out[name] = line.slice(at + 1).trim();
  }
  return out;
}

/**
 * Reads `KEY=value` lines back into an environment ({@link envText}'s inverse).
 *
 * @example
 * ```ts
 * envOf('A=1\nB="two\\nlines"'); // { A: "1", B: "two\nlines" }
 * ```
 */
export function envOf(text: string): Record<string, string> {
  const env = pairsOf(text, "=", "env");
  for (const [key, value] of Object.entries(env)) {
    if (!value.startsWith('"')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch { /* reported below */ }
    if (typeof parsed !== "string") {
      throw new DraftError(
        "env",
        `${key}: a value in quotes must be a JSON string, such as "two\\nlines"`,
      );
    }
    env[key] = parsed;
  }
  return env;
}

/** A function's params as the form's fields show them: the strings, numbers and booleans, as text. */
function argsOf(params: Record<string, unknown>): Record<string, string> {
  const args: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    if (["string", "number", "boolean"].includes(typeof v)) args[k] = str(v);
  }
  return args;
}

/** Whether a webhook URL came with its secret part hidden (secrets.ts REDACTED). */
const redacted = (url: string) =>
  url.includes("[redacted]") || url.includes("%5Bredacted%5D");

/**
 * A job's alert rules as the form shows them.
 *
 * @example
 * ```ts
 * rulesOf([{ on: ["failure"], target: { email: "ops@example.com" } }]);
 * // [{ on: ["failure"], kind: "email", target: "ops@example.com", locked: false }]
 * ```
 */
export function rulesOf(rules: readonly NotifyRule[] | undefined): RuleDraft[] {
  return (rules ?? []).map((r) => {
    const url = r.target.webhook;
    return url !== undefined
      ? { on: [...r.on], kind: "webhook", target: url, locked: redacted(url) }
      : {
        on: [...r.on],
        kind: "email",
        target: r.target.email ?? "",
        locked: false,
      };
  });
}

/** A new rule: failures, to a webhook still to be typed. */
export const newRule = (): RuleDraft => ({
  on: ["failure"],
  kind: "webhook",
  target: "",
  locked: false,
});

/**
 * The rules of the draft as the API takes them, the events in the form's
 * order. Throws a {@link DraftError} at the rule's field for a rule with no
 * event or no target; the server checks the URL or address itself (its 400
 * names `notify.<i>.target.webhook`, mapped back by {@link fieldOf}).
 *
 * @example
 * ```ts
 * notifyOf([{ on: ["failure"], kind: "webhook", target: "https://h.example/x", locked: false }]);
 * // [{ on: ["failure"], target: { webhook: "https://h.example/x" } }]
 * ```
 */
export function notifyOf(rules: readonly RuleDraft[]): NotifyRule[] {
  return rules.map((r, i) => {
    const on = NOTIFY_EVENTS.filter((e) => r.on.includes(e));
    if (!on.length) {
      throw new DraftError(`notify.${i}.on`, "needs at least one event");
    }
    const target = r.locked ? r.target : r.target.trim();
    if (!target) {
      throw new DraftError(
        `notify.${i}.target`,
        r.kind === "webhook" ? "needs a webhook URL" : "needs an email address",
      );
    }
    return {
      on,
      target: r.kind === "webhook" ? { webhook: target } : { email: target },
    };
  });
}

/**
 * The draft of a job, or of a new one (`null`): the defaults the form opens
 * with.
 *
 * @example
 * ```ts
 * draftOf(null).fn; // "log"
 * draftOf(job).env; // "A=1" for a shell job with env { A: "1" }
 * ```
 */
export function draftOf(job: JobView | null): Draft {
  const a = job?.action;
  const params = a?.type === "function" ? a.params ?? {} : {};
  const args = argsOf(params);
  return {
    id: job?.id ?? "",
    name: job?.name ?? "",
    description: job?.description ?? "",
    schedule: job?.schedule ?? "",
    timezone: job?.timezone ?? "",
    actionType: a?.type ?? "function",
    method: a?.type === "http" ? a.method : "GET",
    url: a?.type === "http" ? a.url : "",
    headers: a?.type === "http"
      ? Object.entries(a.headers ?? {}).map(([k, v]) => `${k}: ${v}`)
        .join("\n")
      : "",
    body: a?.type === "http" ? a.body ?? "" : "",
    expectStatus: a?.type === "http" ? str(a.expectStatus) : "",
    command: a?.type === "shell" ? a.command.join("\n") : "",
    cwd: a?.type === "shell" ? a.cwd ?? "" : "",
    env: a?.type === "shell" ? envText(a.env) : "",
    fn: a?.type === "function" ? a.name : "log",
    grace: a?.type === "heartbeat" ? seconds(a.graceMs) : "300",
    args,
    params: Object.keys(params).length ? JSON.stringify(params, null, 2) : "",
    timeout: seconds(job?.timeoutMs),
    retries: String(job?.retries ?? 0),
    retryDelay: seconds(job?.retryDelayMs ?? 1000),
    overlap: job?.overlap ?? "skip",
    catchUp: job?.catchUp ?? "skip",
    autoStart: job?.autoStart ?? true,
    tags: job?.tags.join(", ") ?? "",
    onSuccess: job?.onSuccess?.join(", ") ?? "",
    onFailure: job?.onFailure?.join(", ") ?? "",
    concurrencyKey: job?.concurrencyKey ?? "",
    notify: rulesOf(job?.notify),
  };
}

function num(text: string, field: Field, fallback: number | null) {
  if (text.trim() === "") return fallback;
  const n = Number(text);
  if (!Number.isFinite(n)) throw new DraftError(field, "must be a number");
  return n;
}

function ms(text: string, field: Field, fallback: number | null) {
  const s = num(text, field, null);
  return s === null ? fallback : Math.round(s * 1000);
}

/** A param's value from its text, checked against its description; undefined when left out. */
function argOf(text: string, p: FunctionParam): unknown {
  const field = paramField(p.name);
  if (text.trim() === "" && (p.type !== "string" || text === "")) {
    if (p.required) throw new DraftError(field, "is required");
    return undefined;
  }
  if (p.type === "string") return text;
  if (p.type === "boolean") {
    if (text === "true" || text === "false") return text === "true";
    throw new DraftError(field, "must be true or false");
  }
  const n = num(text, field, null)!;
  if (p.type === "integer" && !Number.isInteger(n)) {
    throw new DraftError(field, "must be a whole number");
  }
  if (p.minimum !== undefined && n < p.minimum) {
    throw new DraftError(field, `must be at least ${p.minimum}`);
  }
  if (p.maximum !== undefined && n > p.maximum) {
    throw new DraftError(field, `must be at most ${p.maximum}`);
  }
  return n;
}

function functionParams(
  d: Draft,
  original: JobView | null,
  functions: Functions,
): Record<string, unknown> {
  const name = d.fn.trim();
  const described = paramsOf(name, functions);
  if (!described) {
    let parsed: unknown;
    try {
      parsed = d.params.trim() ? JSON.parse(d.params) : {};
    } catch { /* reported below */ }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new DraftError("params", 'must be a JSON object, such as {"a": 1}');
    }
    return parsed as Record<string, unknown>;
  }
  // Params the description does not name are kept as they were.
  const was = original?.action.type === "function" ? original.action : null;
  const same = was?.name === name;
  const old = same ? was?.params ?? {} : {};
  // The params' text as the form opened with it: a param still showing that
  // keeps its stored value, unchecked. The API takes any params, so a stored
  // one may break the description (`rate: 2`); that must not stop an edit of
  // anything else, such as a rename. Only what the user changed is checked.
  const opened = same ? argsOf(old) : {};
  const params: Record<string, unknown> = { ...old };
  for (const p of described) {
    const text = d.args[p.name] ?? "";
    if (same && text === (opened[p.name] ?? "")) continue;
    const v = argOf(text, p);
    if (v === undefined) delete params[p.name];
    else params[p.name] = v;
  }
  return params;
}

/**
 * The action the draft describes. Throws a {@link DraftError} for input the
 * form can check itself (a header line without a colon, a param that is not
 * a number, ...).
 *
 * @example
 * ```ts
 * actionOf({ ...draftOf(null), actionType: "shell", command: "env", env: "A=1" }, null, null);
 * // { type: "shell", command: ["env"], env: { A: "1" } }
 * ```
 */
export function actionOf(
  d: Draft,
  original: JobView | null,
  functions: Functions,
): Action {
  if (d.actionType === "http") {
    const headers = pairsOf(d.headers, ":", "headers");
    const expect = num(d.expectStatus, "expectStatus", null);
    return {
      type: "http",
      url: d.url.trim(),
      method: d.method as "GET",
      ...(Object.keys(headers).length ? { headers } : {}),
      ...(d.body && d.method !== "GET" && d.method !== "HEAD"
        ? { body: d.body }
        : {}),
      ...(expect !== null ? { expectStatus: expect } : {}),
    };
  }
  if (d.actionType === "heartbeat") {
    // No pingKey: a new job gets one, an edited one keeps its own.
    return { type: "heartbeat", graceMs: ms(d.grace, "grace", 300_000)! };
  }
  if (d.actionType === "shell") {
    const command = d.command.split("\n").filter((l) => l.trim() !== "");
    const env = envOf(d.env);
    return {
      type: "shell",
      command,
      ...(d.cwd ? { cwd: d.cwd } : {}),
      ...(Object.keys(env).length ? { env } : {}),
    };
  }
  const params = functionParams(d, original, functions);
  return {
    type: "function",
    name: d.fn.trim(),
    ...(Object.keys(params).length ? { params } : {}),
  };
}

/** The tags of the form's comma list (as the engine's `splitTags` reads one); the server checks each. */
const tagsOf = (text: string) =>
  text.split(",").map((t) => t.trim()).filter((t) => t !== "");

/** Every editable value of the draft, as the API takes it. */
function inputOf(
  d: Draft,
  original: JobView | null,
  functions: Functions,
): Record<string, unknown> {
  return {
    ...(!original && d.id.trim() ? { id: d.id.trim() } : {}),
    name: d.name,
    // A new job without one leaves it out; an edit always compares it.
    ...(original || d.description.trim()
      ? { description: d.description.trim() || null }
      : {}),
    schedule: d.schedule.trim(),
    timezone: d.timezone.trim() || null,
    action: actionOf(d, original, functions),
    timeoutMs: ms(d.timeout, "timeout", null),
    retries: num(d.retries, "retries", 0),
    retryDelayMs: ms(d.retryDelay, "retryDelay", 1000),
    overlap: d.overlap,
    catchUp: d.catchUp,
    autoStart: d.autoStart,
    // A new job without tags leaves them out; an edit always compares them.
    ...(original || tagsOf(d.tags).length ? { tags: tagsOf(d.tags) } : {}),
    // Chains likewise (the ids as a comma list, read as tags are).
    ...(original || tagsOf(d.onSuccess).length
      ? { onSuccess: tagsOf(d.onSuccess) }
      : {}),
    ...(original || tagsOf(d.onFailure).length
      ? { onFailure: tagsOf(d.onFailure) }
      : {}),
    // A new job without a key leaves it out; an edit always compares it.
    ...(original || d.concurrencyKey.trim()
      ? { concurrencyKey: d.concurrencyKey.trim() || null }
      : {}),
    // Alert rules likewise; a redacted webhook URL goes back as it came, and
    // the server keeps the stored one (notify.ts keepNotifySecrets).
    ...(original || d.notify.length ? { notify: notifyOf(d.notify) } : {}),
  };
}

/**
 * The body that creates the draft's job (`POST /jobs`).
 *
 * @example
 * ```ts
 * createBody({ ...draftOf(null), name: "Tick", fn: "noop" }, fns);
 * // { name: "Tick", schedule: "", timezone: null, action: { type: "function", name: "noop" }, ... }
 * ```
 */
export function createBody(
  d: Draft,
  functions: Functions,
): Record<string, unknown> {
  return inputOf(d, null, functions);
}

/**
 * The edit of `job` the draft makes: only the fields that changed, so an
 * untouched relative schedule is not re-planned. Empty when nothing changed.
 * A function's params are checked only where the draft changed them: a
 * stored param its description does not allow (the API takes any) neither
 * stops the edit nor is sent unless the action changed.
 *
 * @example
 * ```ts
 * patchOf({ ...draftOf(job), name: "New name" }, job, fns); // { name: "New name" }
 * ```
 */
export function patchOf(
  d: Draft,
  job: JobView,
  functions: Functions,
): Record<string, unknown> {
  const before = inputOf(draftOf(job), job, functions);
  const after = inputOf(d, job, functions);
  return Object.fromEntries(
    Object.entries(after).filter(([k, v]) =>
      JSON.stringify(v) !== JSON.stringify(before[k])
    ),
  );
}

/** API input paths that map to one field. */
const DIRECT: Record<string, Field> = {
  id: "id",
  name: "name",
  description: "description",
  schedule: "schedule",
  timezone: "timezone",
  timeoutMs: "timeout",
  retries: "retries",
  retryDelayMs: "retryDelay",
  overlap: "overlap",
  catchUp: "catchUp",
  autoStart: "autoStart",
  tags: "tags",
  onSuccess: "onSuccess",
  onFailure: "onFailure",
  "action.type": "actionType",
  action: "actionType",
  "action.url": "url",
  "action.method": "method",
  "action.body": "body",
  "action.expectStatus": "expectStatus",
  "action.cwd": "cwd",
  "action.name": "fn",
  "action.graceMs": "grace",
};

/** Input paths under which every error goes to one field. */
const PREFIXES: [string, Field][] = [
  ["tags", "tags"],
  ["onSuccess", "onSuccess"],
  ["onFailure", "onFailure"],
  ["action.headers", "headers"],
  ["action.command", "command"],
  ["action.env", "env"],
];

/**
 * The form field an API error names (`action.url` → `url`), or null when
 * none shows it (the error then goes above the form).
 *
 * @example
 * ```ts
 * fieldOf("action.params.ms", { ...d, fn: "sleep" }, fns); // "param.ms"
 * fieldOf("action.env.A", d, fns); // "env"
 * ```
 */
export function fieldOf(
  path: string | undefined,
  d: Draft,
  functions: Functions,
): Field | null {
  if (!path) return null;
  if (Object.hasOwn(DIRECT, path)) return DIRECT[path];
  const rule = /^notify\.(\d+)(?:\.(on|target))?(?:\.|$)/.exec(path);
  if (rule && Number(rule[1]) < d.notify.length) {
    return `notify.${Number(rule[1])}.${rule[2] === "on" ? "on" : "target"}`;
  }
  if (path === "notify" || path.startsWith("notify.")) return "notify";
  const under = (prefix: string) =>
    path === prefix || path.startsWith(`${prefix}.`);
  for (const [prefix, field] of PREFIXES) if (under(prefix)) return field;
  if (!under("action.params")) return null;
  const described = paramsOf(d.fn, functions);
  if (!described) return "params";
  const name = path.slice("action.params.".length).split(".")[0];
  return described.some((p) => p.name === name) ? paramField(name) : "fn";
}
