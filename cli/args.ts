/**
 * Command-line parsing on `node:util`'s `parseArgs`, value checks that turn
 * bad input into usage errors (exit 2) before anything is sent, and the job
 * definition that `add` and `edit` build from flags.
 *
 * @example
 * ```ts
 * const { values, positionals } = parse(["ping", "--json"], { json: { type: "boolean" } });
 * const body = jobFromFlags(parse(["--name", "Ping", "--function", "noop"], JOB_OPTIONS).values);
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { splitTags } from "@/lib/jobpro/runtime.ts";
import { usage } from "./errors.ts";

/** One flag, as `parseArgs` takes it. */
export interface OptionSpec {
  type: "string" | "boolean";
  multiple?: boolean;
  short?: string;
}

/** Flag values after parsing. */
export type Values = Record<string, string | boolean | string[] | undefined>;

/** Flags and positionals after parsing. */
export interface Parsed {
  values: Values;
  positionals: string[];
}

/**
 * Parses `argv` strictly: an unknown flag or a missing value is a usage error.
 *
 * @example
 * ```ts
 * parse(["a", "--limit", "5"], { limit: { type: "string" } }); // { values: { limit: "5" }, positionals: ["a"] }
 * ```
 */
export function parse(
  argv: string[],
  options: Record<string, OptionSpec>,
): Parsed {
  try {
    const r = parseArgs({
      args: argv,
      options,
      allowPositionals: true,
      strict: true,
    });
    return { values: { ...r.values } as Values, positionals: r.positionals };
  } catch (e) {
    const first = (e as Error).message.split(/(?<=\.)\s|\n/)[0];
    throw usage(first);
  }
}

/**
 * A string flag's value, or undefined.
 *
 * @example
 * ```ts
 * str({ name: "Ping" }, "name"); // "Ping"
 * ```
 */
export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

/**
 * A non-negative integer flag, or undefined when absent.
 *
 * @example
 * ```ts
 * int({ limit: "20" }, "limit"); // 20
 * ```
 */
export function int(values: Values, name: string): number | undefined {
  const raw = str(values, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw usage(`--${name}: must be a non-negative integer, got "${raw}"`);
  }
  return Number(raw);
}

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * A duration in ms: a plain number of ms, or a number with `ms`, `s`, `m` or
 * `h` ("1500", "30s", "2m", "1.5h").
 *
 * @example
 * ```ts
 * parseDuration("30s", "--timeout"); // 30000
 * ```
 */
export function parseDuration(raw: string, what: string): number {
  const m = raw.trim().match(/^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/);
  if (!m) {
    throw usage(
      `${what}: must be a duration like 5000, 250ms, 30s, 5m or 1h, got "${raw}"`,
    );
  }
  return Math.round(Number(m[1]) * UNITS[m[2] ?? "ms"]);
}

/**
 * A duration flag in ms, or undefined when absent.
 *
 * @example
 * ```ts
 * durationFlag({ "retry-delay": "5s" }, "retry-delay"); // 5000
 * ```
 */
export function durationFlag(
  values: Values,
  name: string,
): number | undefined {
  const raw = str(values, name);
  return raw === undefined ? undefined : parseDuration(raw, `--${name}`);
}

/**
 * A flag holding JSON, parsed; bad JSON is a usage error.
 *
 * @example
 * ```ts
 * jsonFlag({ params: '{"ms":10}' }, "params"); // { ms: 10 }
 * ```
 */
export function jsonFlag(values: Values, name: string): unknown {
  const raw = str(values, name);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw usage(`--${name}: not valid JSON: ${(e as Error).message}`);
  }
}

/** The flags that define a job, shared by `add` and `edit`. */
export const JOB_OPTIONS: Record<string, OptionSpec> = {
  name: { type: "string" },
  description: { type: "string" },
  schedule: { type: "string" },
  timezone: { type: "string" },
  http: { type: "string" },
  method: { type: "string" },
  header: { type: "string", multiple: true },
  body: { type: "string" },
  function: { type: "string" },
  params: { type: "string" },
  shell: { type: "string" },
  heartbeat: { type: "string" },
  timeout: { type: "string" },
  retries: { type: "string" },
  "retry-delay": { type: "string" },
  overlap: { type: "string" },
  "catch-up": { type: "string" },
  "no-start": { type: "boolean" },
  tag: { type: "string", multiple: true },
  notify: { type: "string", multiple: true },
  "on-success": { type: "string", multiple: true },
  "on-failure": { type: "string", multiple: true },
  "concurrency-key": { type: "string" },
};

/** Flags that refine an action without choosing its type. */
const ACTION_DETAIL: Record<string, string> = {
  method: "http",
  header: "http",
  body: "http",
  params: "function",
};

/** A job's action, as the API takes it. */
export type ActionInput = Record<string, unknown> & { type: string };

/**
 * Whether any job-defining flag is set.
 *
 * @example
 * ```ts
 * hasJobFlags({ json: true }); // false
 * ```
 */
export function hasJobFlags(values: Values): boolean {
  return Object.keys(JOB_OPTIONS).some((k) => values[k] !== undefined) ||
    values.start !== undefined;
}

/**
 * The action chosen by `--http`, `--function` or `--shell`, refined by
 * `--method`, `--header`, `--body`, `--params`; `base` is the action to
 * refine when none of the three is given (`edit --method POST`).
 *
 * @example
 * ```ts
 * actionFromFlags({ http: "http://x/", method: "post" }); // { type: "http", url: "http://x/", method: "POST" }
 * ```
 */
export function actionFromFlags(
  values: Values,
  base?: ActionInput,
): ActionInput | undefined {
  const chosen = ["http", "function", "shell", "heartbeat"].filter((k) =>
    values[k] !== undefined
  );
  if (chosen.length > 1) {
    throw usage(
      `--${chosen[0]} and --${chosen[1]}: a job has one action; give only one`,
    );
  }
  const details = Object.keys(ACTION_DETAIL).filter((k) =>
    values[k] !== undefined
  );
  if (chosen.length === 0 && details.length === 0) return undefined;
  const action = chosen.length ? newAction(chosen[0], values) : base;
  if (!action) {
    throw usage(
      `--${details[0]}: needs --${
        ACTION_DETAIL[details[0]]
      } (the action it belongs to)`,
    );
  }
  return refineAction(action, values);
}

function newAction(type: string, values: Values): ActionInput {
  if (type === "http") return { type, url: str(values, "http") };
  if (type === "function") return { type, name: str(values, "function") };
  if (type === "heartbeat") {
    // A job edited keeps its ping key (the server keeps it when none is sent).
    return { type, graceMs: durationFlag(values, "heartbeat") };
  }
  return { type, command: argvFlag(values) };
}

function argvFlag(values: Values): string[] {
  const argv = jsonFlag(values, "shell");
  if (
    !Array.isArray(argv) || argv.length === 0 ||
    !argv.every((a) => typeof a === "string")
  ) {
    throw usage(
      `--shell: must be the program and its arguments as a JSON array of strings, like '["echo","hi"]'`,
    );
  }
  return argv;
}

function refineAction(action: ActionInput, values: Values): ActionInput {
  const out = { ...action };
  for (const flag of Object.keys(ACTION_DETAIL)) {
    if (values[flag] === undefined) continue;
    if (ACTION_DETAIL[flag] !== out.type) {
      throw usage(
        `--${flag}: only for ${
          ACTION_DETAIL[flag]
        } actions; this one is ${out.type}`,
      );
    }
  }
  const method = str(values, "method");
  if (method !== undefined) out.method = method.toUpperCase();
  const headers = values.header as string[] | undefined;
  if (headers) {
    out.headers = {
      ...(out.headers as Record<string, string> | undefined),
      ...headerMap(headers),
    };
  }
  if (values.body !== undefined) out.body = str(values, "body");
  if (values.params !== undefined) out.params = paramsFlag(values);
  return out;
}

function paramsFlag(values: Values): Record<string, unknown> {
  const p = jsonFlag(values, "params");
  if (typeof p !== "object" || p === null || Array.isArray(p)) {
    throw usage(`--params: must be a JSON object, like '{"ms":100}'`);
  }
  return p as Record<string, unknown>;
}

/**
 * `--header "Name: value"` flags as a record.
 *
 * @example
 * ```ts
 * headerMap(["X-Token: abc"]); // { "X-Token": "abc" }
 * ```
 */
export function headerMap(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(":");
    if (i <= 0) throw usage(`--header: must be "Name: value", got "${line}"`);
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

/**
 * `--tag` flags (each one tag or a comma list) as tags, or undefined when
 * none is given; `--tag ""` alone is no tags.
 *
 * @example
 * ```ts
 * tagsFlag({ tag: ["billing,nightly", "x"] }); // ["billing", "nightly", "x"]
 * ```
 */
export function tagsFlag(values: Values): string[] | undefined {
  const raw = values.tag as string[] | undefined;
  return raw === undefined ? undefined : raw.flatMap(splitTags);
}

/**
 * `--on-success`/`--on-failure` flags (each a job id or a comma list) as
 * the chain's job ids, or undefined when none is given; `""` alone is none.
 *
 * @example
 * ```ts
 * chainFlag({ "on-success": ["report,cleanup"] }, "on-success"); // ["report", "cleanup"]
 * ```
 */
export function chainFlag(
  values: Values,
  flag: "on-success" | "on-failure",
): string[] | undefined {
  const raw = values[flag] as string[] | undefined;
  return raw?.flatMap((v) => v.split(",")).map((id) => id.trim()).filter(
    Boolean,
  );
}

/**
 * `--notify EVENTS=TARGET` flags as alert rules, or undefined when none is
 * given; `--notify ""` alone is none. EVENTS is a comma list of failure,
 * recovery, success, missed; TARGET an email address or a webhook URL. The
 * server checks them (and names the rule and field that is wrong).
 *
 * @example
 * ```ts
 * notifyFlag({ notify: ["failure,recovery=https://hooks.example/x"] });
 * // [{ on: ["failure", "recovery"], target: { webhook: "https://hooks.example/x" } }]
 * ```
 */
export function notifyFlag(
  values: Values,
): Record<string, unknown>[] | undefined {
  const raw = values.notify as string[] | undefined;
  if (raw === undefined) return undefined;
  return raw.filter((r) => r.trim() !== "").map((r) => {
    const i = r.indexOf("=");
    if (i <= 0) {
      throw usage(
        `--notify: must be EVENTS=TARGET, such as failure,recovery=https://hooks.example/x or failure=ops@example.com; got "${r}"`,
      );
    }
    const target = r.slice(i + 1).trim();
    const on = r.slice(0, i).split(",").map((e) => e.trim()).filter(Boolean);
    const email = !target.includes("://") && target.includes("@");
    return { on, target: email ? { email: target } : { webhook: target } };
  });
}

/**
 * `--concurrency-key KEY`: the key whose limit the job's runs share; on
 * edit, an empty one clears it (the server checks the key).
 *
 * @example
 * ```ts
 * concurrencyKeyFlag({ "concurrency-key": "backups" }, false); // "backups"
 * ```
 */
export function concurrencyKeyFlag(
  values: Values,
  forEdit: boolean,
): string | null | undefined {
  const key = str(values, "concurrency-key");
  return key === "" ? (forEdit ? null : undefined) : key;
}

/**
 * The scalar fields of a job from flags (everything but id and action).
 * With `forEdit`, an empty `--timezone` or `--description`, or `--timeout
 * none`, clears the field.
 *
 * @example
 * ```ts
 * fieldsFromFlags({ retries: "3", "retry-delay": "5s" }, false); // { retries: 3, retryDelayMs: 5000 }
 * ```
 */
export function fieldsFromFlags(
  values: Values,
  forEdit: boolean,
): Record<string, unknown> {
  const timezone = str(values, "timezone");
  const timeout = str(values, "timeout");
  const description = str(values, "description");
  const out: Record<string, unknown> = {
    name: str(values, "name"),
    description: forEdit && description === "" ? null : description,
    schedule: str(values, "schedule"),
    timezone: forEdit && timezone === "" ? null : timezone,
    timeoutMs: timeout === undefined
      ? undefined
      : forEdit && (timeout === "" || timeout === "none")
      ? null
      : parseDuration(timeout, "--timeout"),
    retries: int(values, "retries"),
    retryDelayMs: durationFlag(values, "retry-delay"),
    overlap: str(values, "overlap"),
    catchUp: str(values, "catch-up"),
    autoStart: values["no-start"] ? false : values.start ? true : undefined,
    tags: tagsFlag(values),
    notify: notifyFlag(values),
    onSuccess: chainFlag(values, "on-success"),
    onFailure: chainFlag(values, "on-failure"),
    concurrencyKey: concurrencyKeyFlag(values, forEdit),
  };
  if (values["no-start"] && values.start) {
    throw usage("--start and --no-start: give one");
  }
  return dropUndefined(out);
}

/**
 * The body of `POST /jobs` from `add`'s flags; needs `--name` and an action.
 *
 * @example
 * ```ts
 * jobFromFlags({ name: "Ping", http: "http://localhost:8080/ping", schedule: "*\/30 * * * * *" });
 * ```
 */
export function jobFromFlags(values: Values): Record<string, unknown> {
  if (str(values, "name") === undefined) {
    throw usage("--name is required (or use --file)");
  }
  const action = actionFromFlags(values);
  if (!action) {
    throw usage(
      'needs an action: --http URL, --function NAME or --shell \'["prog","arg"]\'',
    );
  }
  return dropUndefined({
    id: str(values, "id"),
    ...fieldsFromFlags(values, false),
    action,
  });
}

/**
 * Removes keys whose value is undefined.
 *
 * @example
 * ```ts
 * dropUndefined({ a: 1, b: undefined }); // { a: 1 }
 * ```
 */
export function dropUndefined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined),
  ) as T;
}
