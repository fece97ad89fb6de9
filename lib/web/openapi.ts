/**
 * The OpenAPI 3.1 document of the REST API, served at `GET /jobs/openapi.json`.
 * Operations are one table of plain data below; body and answer schemas come
 * from lib/web/schemas.ts through zod's `toJSONSchema`, so they are the schemas
 * the server checks with. A test calls every documented operation on a real
 * server and checks each answer against this document.
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
  method: "get" | "post" | "patch" | "delete";
  path: string;
  summary: string;
  tag: "jobs" | "runs" | "live" | "service" | "seed aliases";
  /** The seed's routes, kept as aliases. */
  deprecated?: boolean;
  params?: Param[];
  body?: { schema: ComponentName; example: unknown };
  ok: Answer;
  /** Other answers this operation can give besides 400/401/403/404/413/415. */
  more?: Answer[];
  /** Open even when a token is configured. */
  open?: boolean;
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
    summary: "Delete the job and its runs",
    tag: "jobs",
    params: [ID],
    ok: { status: 204, description: "Deleted" },
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
        description: "IANA zone for cron (default UTC)",
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
      "Server-Sent Events: hello on connect; job-update (data: Job), job-deleted ({id}), run-started and run-finished (data: Run), each with an id for Last-Event-ID; reset (refetch) when too far behind; a `: ping` comment every 15 s",
    tag: "live",
    params: [
      {
        name: "types",
        in: "query",
        description:
          "Comma-separated event types to receive (job-update, job-deleted, run-started, run-finished); all by default",
        schema: { type: "string" },
      },
    ],
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
    if (op.method !== "get") {
      out.push(
        error(403, "The read-only token, or a cookie write from another site"),
      );
    }
  }
  if (op.path.includes("{id}")) out.push(error(404, "No such job (or run)"));
  if (op.body) {
    out.push(error(413, `The body is over ${config.maxBodyBytes} bytes`));
    out.push(error(415, "The body is not JSON"));
  }
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

const ref = (schema: Schema): Json =>
  typeof schema === "string"
    ? { $ref: `#/components/schemas/${schema}` }
    : schema;

function responseObject(a: Answer, page: boolean): Json {
  if (!a.content) return { description: a.description };
  const content: Json = { [MEDIA[a.content]]: { schema: ref(a.schema ?? {}) } };
  if (page) content["text/html"] = { schema: { type: "string" } };
  return { description: a.description, content };
}

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
          schema: ref(op.body.schema),
          example: op.body.example,
        },
      },
    };
  }
  out.responses = Object.fromEntries(
    answersOf(op, config).map((a) => [
      String(a.status),
      responseObject(a, a === op.ok && op.page === true),
    ]),
  );
  if (config.token && op.open) out.security = [];
  return out;
}

/**
 * The whole document for a configuration (security and 401/403 answers
 * appear only when a token is set).
 *
 * @example
 * ```ts
 * const doc = openApiDocument(ctx.state.config);
 * ```
 */
export function openApiDocument(config: DocConfig) {
  const paths: Record<string, Record<string, Json>> = {};
  for (const op of OPERATIONS) {
    paths[op.path] ??= {};
    paths[op.path][op.method] = operationObject(op, config);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "jobpro",
      version: "1.0.0",
      description:
        "A job scheduler: periodic (cron) and one-time jobs, their runs, and live events. Errors are { error: { code, message, field? } }.",
    },
    paths,
    components: {
      schemas: componentSchemas(),
      ...(config.token ? { securitySchemes: SECURITY_SCHEMES } : {}),
    },
    ...(config.token ? { security: [{ bearer: [] }, { session: [] }] } : {}),
  };
}

const SECURITY_SCHEMES = {
  bearer: {
    type: "http",
    scheme: "bearer",
    description:
      "JOBPRO_TOKEN (everything) or JOBPRO_READ_TOKEN (GET and event streams)",
  },
  session: {
    type: "apiKey",
    in: "cookie",
    name: "jobpro_session",
    description:
      "Set by signing in on /login; writes must also come from this site (an Origin naming it or, without one, Sec-Fetch-Site: same-origin, as browsers send)",
  },
};
