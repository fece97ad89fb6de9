/**
 * The OpenAPI 3.1 document of the REST API, served at `GET /jobs/openapi.json`.
 * Operations are one table of plain data below; body and answer schemas come
 * from lib/web/schemas.ts through zod's `toJSONSchema`, so they are the schemas
 * the server checks with. A test calls every documented operation on a real
 * server and checks each answer against this document; another lints it with
 * Redocly's `recommended` rules and builds a typed client from it
 * (tests/api/openapi_lint_test.ts), so new operations get their 4xx answers,
 * security and media types from the rules here, not by hand.
 *
 * @example
 * ```ts
 * const doc = openApiDocument({ token: null, readToken: null, maxBodyBytes: 65536 });
 * doc.paths["/jobs/{id}"].get.operationId; // "getJob"
 * ```
 * @module
 */
import { z } from "zod";
import { QUERY } from "../client/query.ts";
import type { Config } from "../config.ts";
import { MAX_BULK } from "../jobpro/mod.ts";
import { type ComponentName, COMPONENTS } from "./schemas.ts";
import { VERSION } from "../version.ts";

type Json = Record<string, unknown>;
/** How an answer is encoded. */
type Content = "json" | "html" | "sse" | "metrics";
/** An answer's body: a component, or an inline JSON Schema. */
type Schema = ComponentName | Json;

/** One documented answer. */
export interface Answer {
  status: number;
  description: string;
  content?: Content;
  schema?: Schema;
}

/** A path or query parameter. */
export interface Param {
  name: string;
  in: "path" | "query";
  description: string;
  required?: boolean;
  schema: Json;
  example?: unknown;
}

/** One operation of the API. */
export interface Operation {
  operationId: string;
  method: "get" | "post" | "put" | "patch" | "delete";
  path: string;
  summary: string;
  tag: "jobs" | "runs" | "live" | "service" | "seed aliases";
  /** The seed's routes, kept as aliases. */
  deprecated?: boolean;
  params?: Param[];
  body?: { schema: ComponentName; example: unknown };
  /** The body may also be text/plain (the text itself, as this example). */
  textBody?: string;
  ok: Answer;
  /** Other answers this operation can give besides 400/401/403/404/413/415. */
  more?: Answer[];
  /** Open even when a token is configured. */
  open?: boolean;
  /** Takes a heartbeat job's ping key instead of a token (ping.ts). */
  pingKey?: boolean;
  /** A browser (Accept preferring text/html) gets a page instead. */
  page?: boolean;
}

const enumSchema = (values: readonly string[]) => ({
  type: "string",
  enum: [...values],
});
const intSchema = (dflt: number, note = "", maximum?: number) => ({
  type: "integer",
  minimum: 0,
  ...(maximum !== undefined ? { maximum } : {}),
  default: dflt,
  ...(note ? { description: note } : {}),
});

const ID: Param = {
  name: "id",
  in: "path",
  required: true,
  description: "The job's id",
  schema: { type: "string" },
  example: "nightly-report",
};
const RUN_ID: Param = {
  name: "runId",
  in: "path",
  required: true,
  description: "The run's number",
  schema: { type: "integer", minimum: 0 },
  example: 1,
};
const OFFSET: Param = {
  name: "offset",
  in: "query",
  description: "Items to skip",
  schema: intSchema(0),
};
const limit = (dflt: number): Param => ({
  name: "limit",
  in: "query",
  description: "Items to return",
  schema: intSchema(
    dflt,
    `at most ${QUERY.maxLimit}; more is a 400`,
    QUERY.maxLimit,
  ),
});
const enumParam = (
  name: string,
  values: readonly string[],
  description: string,
): Param => ({ name, in: "query", description, schema: enumSchema(values) });

const JOB_LIST_PARAMS: Param[] = [
  enumParam("status", QUERY.jobStatus, "Only jobs with this status"),
  enumParam("type", QUERY.jobType, "Only jobs of this type"),
  {
    name: "q",
    in: "query",
    description: "Substring of the id or name, any case",
    schema: { type: "string" },
  },
  {
    name: "tag",
    in: "query",
    description:
      "Only jobs with this tag; repeat it, or give a comma list, for jobs with all of them (`tag=billing&tag=nightly`, `tag=billing,nightly`)",
    schema: { type: "array", items: { type: "string" } },
  },
  enumParam("sort", QUERY.jobSort, "Sort key (default createdAt)"),
  enumParam("order", QUERY.order, "Sort order (default asc)"),
  OFFSET,
  limit(QUERY.jobLimit),
];

/** A yes/no query parameter (lib/web/query_flags.ts). */
const FLAG = (name: string, description: string): Param => ({
  name,
  in: "query",
  description: `${description} (1 or 0)`,
  schema: enumSchema(["1", "0", "true", "false"]),
});

const json = (
  status: number,
  schema: Schema,
  description: string,
): Answer => ({ status, description, content: "json", schema });
const JOB_OK = json(200, "Job", "The job after the change");
const CONFLICT = json(
  409,
  "Error",
  "The job's status does not allow this (the message says why)",
);
const HTML_ROWS = (description: string): Answer => ({
  status: 200,
  description,
  content: "html",
  schema: { type: "string" },
});

const JOB_INPUT_EXAMPLE = {
  id: "nightly-report",
  name: "Nightly report",
  description: "Sends the day's billing report to finance",
  schedule: "0 30 2 * * *",
  timezone: "Europe/Berlin",
  action: { type: "function", name: "noop" },
  retries: 3,
};

function transition(
  op: "start" | "stop" | "pause" | "resume",
  summary: string,
): Operation {
  return {
    operationId: `${op}Job`,
    method: "post",
    path: `/jobs/{id}/${op}`,
    summary,
    tag: "jobs",
    params: [ID],
    ok: JOB_OK,
    more: [CONFLICT],
  };
}

/** The seed's `POST /jobs/<op>/:id` spelling of an operation. */
function seedAlias(op: Operation, seedName: string): Operation {
  return {
    ...op,
    operationId: `seed${
      seedName.replace(/(^|-)(\w)/g, (_, __, c) => c.toUpperCase())
    }`,
    path: `/jobs/${seedName}/{id}`,
    summary:
      `Alias of ${op.method.toUpperCase()} ${op.path} (the seed's route)`,
    tag: "seed aliases",
    deprecated: true,
    ok: json(
      200,
      "SeedAnswer",
      "The job's id and what was done, as the Go service answered",
    ),
  };
}

const START = transition("start", "Start: schedule the job's next run");
const STOP = transition(
  "stop",
  "Stop (a one-time job that has not run is cancelled; a running run is aborted)",
);
const PAUSE = transition("pause", "Pause: no runs until resumed");
const RESUME = transition("resume", "Resume a paused job");
const RUN: Operation = {
  operationId: "runJob",
  method: "post",
  path: "/jobs/{id}/run",
  summary: "Run now, outside the schedule",
  tag: "jobs",
  params: [ID],
  ok: json(200, "RunNow", "The job and the run it started"),
};
const RESCHEDULE: Operation = {
  operationId: "rescheduleJob",
  method: "post",
  path: "/jobs/{id}/reschedule",
  summary: "A new time for a one-time job that is created or scheduled",
  tag: "jobs",
  params: [ID],
  body: { schema: "Reschedule", example: { schedule: "in 10m" } },
  ok: JOB_OK,
  more: [CONFLICT],
};

const PING_KEY_PARAM: Param = {
  name: "key",
  in: "query",
  description:
    "The job's ping key (or send it as the X-Ping-Key header): with it, no token is needed. A key that is not the job's is a 403, for an unknown job too",
  schema: { type: "string" },
};

/** A heartbeat job's ping route. */
function ping(
  operationId: string,
  suffix: string,
  summary: string,
): Operation {
  return {
    operationId,
    method: "post",
    path: `/jobs/{id}/ping${suffix}`,
    summary:
      `${summary}. Any body (any type, at most 1 MiB) is the run's output, its last 64 KiB kept`,
    tag: "runs",
    params: [ID, PING_KEY_PARAM],
    pingKey: true,
    textBody: "tar: disk full\n",
    ok: json(200, "Run", "The run the ping recorded or ended"),
    more: [
      json(409, "Error", "The job is not a heartbeat job"),
      json(413, "Error", "The body is over 1 MiB"),
    ],
  };
}

/** The pings of heartbeat jobs and their key. */
const PING_OPERATIONS: Operation[] = [
  ping(
    "pingJob",
    "",
    "A heartbeat job's success ping: ends its ping-started run going as complete, or records a complete run",
  ),
  ping(
    "pingJobStart",
    "/start",
    "A heartbeat job's start ping: records a run going until the success or fail ping (failed without one within the job's timeoutMs, default its grace)",
  ),
  ping(
    "pingJobFail",
    "/fail",
    "A heartbeat job's failure ping: ends its ping-started run going as failed, or records a failed run; the body's first line goes in the error",
  ),
  {
    operationId: "rotatePingKey",
    method: "post",
    path: "/jobs/{id}/ping-key",
    summary:
      "A new ping key for a heartbeat job (the old one stops working); the job with the new key in its action",
    tag: "jobs",
    params: [ID],
    ok: JOB_OK,
    more: [json(409, "Error", "The job is not a heartbeat job")],
  },
];

/** Every operation of the API, aliases included. */
export const OPERATIONS: Operation[] = [
  {
    operationId: "listJobs",
    method: "get",
    path: "/jobs",
    summary:
      "The job list (a browser asking for text/html gets the dashboard instead)",
    tag: "jobs",
    params: JOB_LIST_PARAMS,
    page: true,
    ok: json(200, "JobList", "One page of jobs and the total that match"),
  },
  {
    operationId: "createJob",
    method: "post",
    path: "/jobs",
    summary: "Create a job",
    tag: "jobs",
    body: { schema: "JobInput", example: JOB_INPUT_EXAMPLE },
    ok: json(201, "Job", "Created; Location names the job"),
    more: [json(409, "Error", "A job with this id exists")],
  },
  {
    operationId: "bulkJobs",
    method: "post",
    path: "/jobs/bulk",
    summary:
      `Pause, resume, run now or delete many jobs: by ids, or by the list's filters (tag, status, type, q; \`{}\` needs \`all: true\`); at most ${MAX_BULK} jobs. Each job is done as its own route would do it; the answer says what happened to each`,
    tag: "jobs",
    body: {
      schema: "Bulk",
      example: { action: "pause", filter: { tag: ["billing"] } },
    },
    ok: json(200, "BulkAnswer", "Each job's result (a refusal is a result)"),
  },
  {
    operationId: "exportJobs",
    method: "get",
    path: "/jobs/export",
    summary:
      "Every job's definition, as `POST /jobs/apply` takes it (ids included; no status, counters or versions); secrets in clear for the full token, `[redacted]` for the read-only one",
    tag: "jobs",
    params: [
      FLAG("download", "Answer as a file, jobs.json (Content-Disposition)"),
    ],
    ok: json(200, "JobsDocument", "The definitions, in creation order"),
  },
  {
    operationId: "applyJobs",
    method: "post",
    path: "/jobs/apply",
    summary:
      "Make a document of definitions true, by id, all or nothing: each job created, configured (field by field) or unchanged, and with `prune` the jobs it does not list deleted. A bad job is a 400 naming its place, id and field, and nothing changes; a second apply of the same document changes nothing. Also takes an array, a `GET /jobs` answer and the Go service's job file; a secret given as `[redacted]` keeps the stored one. At most JOBPRO_MAX_APPLY_BYTES",
    tag: "jobs",
    params: [
      FLAG("dryRun", "Answer what would be done; change nothing"),
      FLAG("prune", "Delete the jobs the document does not list"),
      FLAG(
        "createOnly",
        "Only create (`jobs add --file`): ids may be left out, an id that exists is a 409",
      ),
    ],
    body: {
      schema: "JobsDocument",
      example: { jobs: [{ ...JOB_INPUT_EXAMPLE, id: "applied-report" }] },
    },
    ok: json(200, "ApplyAnswer", "What happened to each job"),
    more: [
      json(409, "Error", "A job changed meanwhile, or (createOnly) exists"),
    ],
  },
  {
    operationId: "importCrontab",
    method: "post",
    path: "/jobs/import/crontab",
    summary:
      "Turn a crontab (text/plain, or JSON `{ crontab }`) into shell jobs run through /bin/sh -c (the server needs JOBPRO_ALLOW_SHELL=1): each line's schedule and command, `VAR=value` lines as env, `CRON_TZ=` as zone, `MAILTO=` as an email alert on failure, `@reboot` as a job run at each start; applied as a document, so ids come from the commands and a second import is unchanged. A line that cannot be converted is a 400 naming it (nothing imported) unless `partial`",
    tag: "jobs",
    params: [
      FLAG("dryRun", "Answer what would be done; change nothing"),
      FLAG("partial", "Import the lines that convert; list the others"),
    ],
    body: {
      schema: "CrontabImport",
      example: { crontab: "0 2 * * * echo nightly\n" },
    },
    textBody: "0 3 * * * echo nightly\n",
    ok: json(200, "CrontabAnswer", "What each line became"),
    more: [json(409, "Error", "A job changed meanwhile")],
  },
  {
    operationId: "getConcurrency",
    method: "get",
    path: "/jobs/concurrency",
    summary:
      "The concurrency limits: this node's cap of runs at once, and each key's limit with its runs running and queued across the cluster",
    tag: "jobs",
    ok: json(200, "Concurrency", "The limits and the runs now"),
  },
  {
    operationId: "setConcurrency",
    method: "put",
    path: "/jobs/concurrency",
    summary:
      "Set (or remove, null) the limits of keys; stored, so they survive restarts and every node of a cluster shares them. Runs over a limit wait `queued`, in order",
    tag: "jobs",
    body: {
      schema: "ConcurrencyLimits",
      example: { limits: { backups: 1, reports: 2 } },
    },
    ok: json(200, "Concurrency", "The limits after the change"),
  },
  {
    operationId: "getJob",
    method: "get",
    path: "/jobs/{id}",
    summary: "One job (a browser asking for text/html gets its page)",
    tag: "jobs",
    params: [ID],
    page: true,
    ok: json(200, "Job", "The job"),
  },
  {
    operationId: "updateJob",
    method: "patch",
    path: "/jobs/{id}",
    summary: "Edit the definition; the next run is re-planned",
    tag: "jobs",
    params: [ID],
    body: { schema: "JobPatch", example: { retries: 2 } },
    ok: JOB_OK,
  },
  {
    operationId: "deleteJob",
    method: "delete",
    path: "/jobs/{id}",
    summary:
      "Delete the job and its runs (refused while other jobs chain to it: remove it from their onSuccess/onFailure first)",
    tag: "jobs",
    params: [ID],
    ok: { status: 204, description: "Deleted" },
    more: [
      json(409, "Error", "Other jobs chain to it; the message names them"),
    ],
  },
  START,
  STOP,
  PAUSE,
  RESUME,
  RUN,
  RESCHEDULE,
  {
    operationId: "listRuns",
    method: "get",
    path: "/jobs/{id}/runs",
    summary: "The job's runs, newest first",
    tag: "runs",
    params: [
      ID,
      enumParam("status", QUERY.runStatus, "Only runs with this status"),
      OFFSET,
      limit(QUERY.runLimit),
    ],
    ok: json(200, "RunList", "One page of runs and the total that match"),
  },
  {
    operationId: "getRun",
    method: "get",
    path: "/jobs/{id}/runs/{runId}",
    summary: "One run, with its captured output",
    tag: "runs",
    params: [ID, RUN_ID],
    ok: json(200, "Run", "The run"),
  },
  {
    operationId: "cancelRun",
    method: "post",
    path: "/jobs/{id}/runs/{runId}/cancel",
    summary:
      'Cancel a run that is going, on whichever node runs it: an http request is aborted, a program gets SIGTERM, then SIGKILL after the kill grace; the run ends cancelled, its error "cancelled by dashboard" or "cancelled by api". The job keeps its schedule and status (as after any cancelled run; it is not retried). Answers once the run has ended',
    tag: "runs",
    params: [ID, RUN_ID],
    ok: json(200, "Run", "The run, ended cancelled, with its output"),
    more: [
      json(
        202,
        "Run",
        "The cancel is committed, but the run had not ended within the kill grace and a margin (its node is slow or gone): the run as it still is",
      ),
      json(
        409,
        "Error",
        "The run has already ended (or ended otherwise before the cancel reached it), or its node is no longer live (it ends failed, interrupted); the message says which",
      ),
    ],
  },
  {
    operationId: "jobStats",
    method: "get",
    path: "/jobs/{id}/stats",
    summary: "Aggregates over the job's finished runs, computed in DuckDB",
    tag: "runs",
    params: [ID],
    ok: json(200, "Stats", "The aggregates"),
  },
  {
    operationId: "listDeliveries",
    method: "get",
    path: "/jobs/{id}/deliveries",
    summary:
      "The job's alert deliveries, newest first: each alert (failure, recovery, success, missed) to each target, with its status (pending, sent, failed), attempts and last error",
    tag: "runs",
    params: [ID, limit(20)],
    ok: json(200, "DeliveryList", "The deliveries"),
  },
  ...PING_OPERATIONS,
  {
    operationId: "previewSchedule",
    method: "get",
    path: "/jobs/schedule",
    summary: "Preview a schedule: its type, English description, next times",
    tag: "jobs",
    params: [
      {
        name: "expr",
        in: "query",
        description:
          "A cron expression, a one-time schedule, or empty (a manual job)",
        schema: { type: "string" },
        example: "*/15 * * * * *",
      },
      {
        name: "timezone",
        in: "query",
        description:
          "IANA zone for cron and zoneless times (default: the server's, JOBPRO_TIMEZONE, itself UTC by default)",
        schema: { type: "string" },
      },
      {
        name: "from",
        in: "query",
        description: "List times after this instant (ISO 8601)",
        schema: { type: "string", format: "date-time" },
      },
      {
        name: "count",
        in: "query",
        description: "How many times to list",
        schema: { type: "integer", minimum: 0, maximum: 100, default: 5 },
      },
    ],
    ok: json(200, "Preview", "The preview"),
  },
  {
    operationId: "listFunctions",
    method: "get",
    path: "/jobs/functions",
    summary:
      "The functions a function action may call here, with their descriptions and params",
    tag: "jobs",
    ok: json(200, "FunctionList", "Every registered function, sorted by name"),
  },
  {
    operationId: "jobEvents",
    method: "get",
    path: "/jobs/events",
    summary:
      "Server-Sent Events: hello on connect; job-update (data: Job), job-deleted ({id}), run-started and run-finished (data: Run), and, when asked for (`output` or `types`), run-output (data: RunOutput: a piece of a running run's live output with its offset), each with an id for Last-Event-ID; reset (refetch) when too far behind; a `: ping` comment every 15 s",
    tag: "live",
    params: [
      {
        name: "types",
        in: "query",
        description:
          "Comma-separated event types to receive (job-update, job-deleted, run-started, run-finished, run-output); all but run-output by default",
        schema: { type: "string" },
      },
      {
        name: "output",
        in: "query",
        description:
          "A job id: also send the run-output events of its runs (their live output, see the RunOutput schema), whatever `types` says. A viewer connects first, then reads the run (GET /jobs/{id}/runs/{runId}: its output so far and outputOffset) and appends the chunks past it",
        schema: { type: "string" },
      },
    ],
    more: [json(404, "Error", "The job `output` names does not exist")],
    ok: {
      status: 200,
      description: "An endless event stream",
      content: "sse",
      schema: { type: "string" },
    },
  },
  {
    operationId: "openApi",
    method: "get",
    path: "/jobs/openapi.json",
    summary: "This document",
    tag: "service",
    ok: json(200, { type: "object" }, "The OpenAPI 3.1 document"),
  },
  {
    operationId: "health",
    method: "get",
    path: "/healthz",
    summary:
      "Whether the store answers and the scheduler runs; on a node of a cluster, which node answered",
    tag: "service",
    open: true,
    ok: json(200, "Health", "Up"),
    more: [json(503, "Health", "Down")],
  },
  {
    operationId: "metrics",
    method: "get",
    path: "/metrics",
    summary:
      "Prometheus metrics: runs by job and status, run durations, fire lateness, jobs by status, SSE clients; on a node of a cluster, the node (name, epoch), its owned jobs and the live nodes",
    tag: "service",
    ok: {
      status: 200,
      description: "Text exposition format 0.0.4",
      content: "metrics",
      schema: { type: "string" },
    },
  },
  seedAlias(START, "start"),
  seedAlias(STOP, "stop"),
  seedAlias(PAUSE, "pause"),
  seedAlias(RESUME, "resume"),
  seedAlias(RUN, "run-now"),
  seedAlias(RESCHEDULE, "reschedule"),
  {
    operationId: "seedResults",
    method: "get",
    path: "/jobs/results/{id}",
    summary:
      "10 runs from `offset` as HTML table rows, then a load-more row (the seed's route)",
    tag: "seed aliases",
    deprecated: true,
    params: [ID, OFFSET],
    ok: HTML_ROWS("Table rows (<tr>)"),
  },
  {
    operationId: "seedHistory",
    method: "get",
    path: "/jobs/history/{id}",
    summary: "The last 10 runs as a JSON array (the seed's route)",
    tag: "seed aliases",
    deprecated: true,
    params: [ID],
    ok: json(200, "RunArray", "Newest first"),
  },
  {
    operationId: "seedUpdateNotify",
    method: "get",
    path: "/jobs/update-notify",
    summary:
      "Server-Sent Events named job-update for every job change or deletion (the seed's route)",
    tag: "seed aliases",
    deprecated: true,
    ok: {
      status: 200,
      description: "An endless event stream",
      content: "sse",
      schema: { type: "string" },
    },
  },
  {
    operationId: "seedTableRows",
    method: "get",
    path: "/jobs/get-table-rows",
    summary: "The job table's rows as HTML (the seed's route)",
    tag: "seed aliases",
    deprecated: true,
    params: JOB_LIST_PARAMS,
    ok: HTML_ROWS("Table rows (<tr>), one per job"),
  },
];

const MEDIA: Record<Content, string> = {
  json: "application/json",
  html: "text/html",
  sse: "text/event-stream",
  metrics: "text/plain",
};

/** What the document depends on in the configuration. */
export type DocConfig = Pick<Config, "token" | "readToken" | "maxBodyBytes">;

/**
 * The statuses an operation answers with under this configuration, and why.
 *
 * @example
 * ```ts
 * answersOf(OPERATIONS[0], config).map((a) => a.status); // [200, 400, ...]
 * ```
 */
export function answersOf(op: Operation, config: DocConfig): Answer[] {
  const error = (status: number, description: string) =>
    json(status, "Error", description);
  const out = [op.ok, ...(op.more ?? [])];
  if (op.body || op.params?.some((p) => p.in === "query" || p.name !== "id")) {
    out.push(error(400, "Bad input; `field` names it"));
  }
  if (config.token && !op.open) {
    out.push(error(401, "No token, or a wrong one"));
  }
  if (op.method !== "get") {
    // The cross-site guard refuses such writes with or without a token.
    out.push(error(
      403,
      config.token
        ? "The read-only token, or a write from another site (its Origin or Sec-Fetch-Site)"
        : "A write from another site (its Origin or Sec-Fetch-Site)",
    ));
  }
  if (op.path.includes("{id}")) out.push(error(404, "No such job (or run)"));
  if (op.body) {
    out.push(error(413, `The body is over ${config.maxBodyBytes} bytes`));
    out.push(error(415, "The body is not JSON"));
  }
  // The Host guard answers every route, before anything else.
  out.push(error(
    421,
    "The Host header names a host this server does not answer for (see JOBPRO_ALLOWED_HOSTS)",
  ));
  return out.sort((a, b) => a.status - b.status);
}

/** The component schemas, converted once. */
let components: Record<string, Json> | null = null;

function componentSchemas(): Record<string, Json> {
  if (components) return components;
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(COMPONENTS)) {
    registry.add(schema, { id });
  }
  const { schemas } = z.toJSONSchema(registry, {
    io: "input",
    unrepresentable: "any",
    uri: (id) => `#/components/schemas/${id}`,
  });
  components = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _s, $id: _i, ...rest } = schema as Json;
    components[id] = rest;
  }
  return components;
}

const REF = "#/components/schemas/";
const ref = (schema: Schema): Json =>
  typeof schema === "string" ? { $ref: `${REF}${schema}` } : schema;

/** The components `value` refers to, and those they refer to. */
function referenced(
  value: unknown,
  schemas: Record<string, Json>,
): Set<string> {
  const out = new Set<string>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!v || typeof v !== "object") return;
    const r = (v as Json).$ref;
    const name = typeof r === "string" && r.startsWith(REF)
      ? r.slice(REF.length)
      : null;
    if (name !== null && !out.has(name)) {
      out.add(name);
      visit(schemas[name]);
    }
    Object.values(v).forEach(visit);
  };
  visit(value);
  return out;
}

/** `value` with each reference to a component not in `keep` replaced by it. */
function inlineRefs(
  value: unknown,
  keep: Set<string>,
  schemas: Record<string, Json>,
  depth = 0,
): unknown {
  if (depth > 64) throw new Error("openapi: a component refers to itself");
  const inline = (v: unknown) => inlineRefs(v, keep, schemas, depth + 1);
  if (Array.isArray(value)) return value.map(inline);
  if (!value || typeof value !== "object") return value;
  const r = (value as Json).$ref;
  if (
    typeof r === "string" && r.startsWith(REF) && !keep.has(r.slice(REF.length))
  ) {
    return inline(schemas[r.slice(REF.length)]);
  }
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, inline(v)]),
  );
}

function responseObject(a: Answer): Json {
  if (!a.content) return { description: a.description };
  const content: Json = { [MEDIA[a.content]]: { schema: ref(a.schema ?? {}) } };
  return { description: a.description, content };
}

/**
 * The page a browser gets from an operation that answers JSON otherwise:
 * kept out of `responses`, so a generated client types the JSON alone
 * (openapi-fetch would type the answer as JSON-or-string).
 */
const HTML_PAGE = {
  description:
    "The answer when Accept prefers text/html (a browser): the page, with the same status",
  content: { "text/html": { schema: { type: "string" } } },
};

function operationObject(op: Operation, config: DocConfig): Json {
  const out: Json = {
    operationId: op.operationId,
    summary: op.summary,
    tags: [op.tag],
  };
  if (op.deprecated) out.deprecated = true;
  if (op.params?.length) {
    out.parameters = op.params.map((p) => ({
      name: p.name,
      in: p.in,
      description: p.description,
      required: p.required ?? false,
      schema: p.schema,
      ...(p.example === undefined ? {} : { example: p.example }),
    }));
  }
  if (op.body) {
    out.requestBody = {
      required: true,
      content: {
        "application/json": {
          // Written out in place: generators (openapi-typescript) make a
          // component's defaulted fields required, but not a body's.
          schema: inlineRefs(
            ref(op.body.schema),
            new Set(),
            componentSchemas(),
          ),
          example: op.body.example,
        },
        ...op.textBody !== undefined && {
          "text/plain": { schema: { type: "string" }, example: op.textBody },
        },
      },
    };
  }
  if (!op.body && op.textBody !== undefined) {
    // Any text, or none (a ping's body is the run's output).
    out.requestBody = {
      required: false,
      content: {
        "text/plain": { schema: { type: "string" }, example: op.textBody },
      },
    };
  }
  out.responses = Object.fromEntries(
    answersOf(op, config).map((a) => [String(a.status), responseObject(a)]),
  );
  if (op.page) out["x-html-response"] = HTML_PAGE;
  if (op.open) out.security = [];
  if (op.pingKey && config.token) {
    out.security = [{ bearer: [] }, { session: [] }, { pingKey: [] }, {
      pingKeyHeader: [],
    }];
  }
  return out;
}

/**
 * The whole document for a configuration (the security requirement and
 * 401 answers appear only when a token is set). The seed's alias routes are
 * under `x-seed-aliases`, in the shape of `paths`.
 *
 * @example
 * ```ts
 * const doc = openApiDocument(ctx.state.config);
 * ```
 */
export function openApiDocument(config: DocConfig) {
  const paths: Record<string, Record<string, Json>> = {};
  // The seed's spellings (`/jobs/start/{id}`) clash with the API's
  // (`/jobs/{id}/start`) for a router or generator: they are listed apart.
  const aliases: Record<string, Record<string, Json>> = {};
  for (const op of OPERATIONS) {
    const into = op.tag === "seed aliases" ? aliases : paths;
    into[op.path] ??= {};
    into[op.path][op.method] = operationObject(op, config);
  }
  // Components only the aliases use are written into them: the API's
  // components are all used (a generator or linter sees only `paths`).
  const all = componentSchemas();
  const keep = referenced(paths, all);
  const schemas = Object.fromEntries(
    Object.entries(all).filter(([name]) => keep.has(name)),
  );
  return {
    openapi: "3.1.0",
    info: {
      title: "jobpro",
      version: VERSION,
      description:
        "A job scheduler: periodic (cron) and one-time jobs, their runs, and live events. Errors are { error: { code, message, field? } }.",
    },
    servers: [{ url: "/", description: "This server" }],
    paths,
    "x-seed-aliases": inlineRefs(aliases, keep, all),
    components: {
      schemas,
      ...(config.token ? { securitySchemes: SECURITY_SCHEMES } : {}),
    },
    // Without JOBPRO_TOKEN every route is open: `{}` says no credentials.
    security: config.token ? [{ bearer: [] }, { session: [] }] : [{}],
  };
}

const SECURITY_SCHEMES = {
  bearer: {
    type: "http",
    scheme: "bearer",
    description:
      "JOBPRO_TOKEN (everything) or JOBPRO_READ_TOKEN (GET and event streams)",
  },
  pingKey: {
    type: "apiKey",
    in: "query",
    name: "key",
    description:
      "A heartbeat job's ping key (its action's pingKey): only its ping routes take it",
  },
  pingKeyHeader: {
    type: "apiKey",
    in: "header",
    name: "X-Ping-Key",
    description: "The ping key as a header",
  },
  session: {
    type: "apiKey",
    in: "cookie",
    name: "jobpro_session",
    description:
      "Set by signing in on /login; writes must also come from this site (an Origin naming it or, without one, Sec-Fetch-Site: same-origin, as browsers send)",
  },
};
