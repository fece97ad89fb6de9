/**
 * How the CLI shows jobs, runs, stats, schedule previews and events as text.
 * Pure functions of plain data and `now`; times are UTC.
 *
 * @example
 * ```ts
 * console.log(jobsTable(list.jobs, Date.now()));
 * console.log(eventLine({ event: "job-deleted", id: "7", data: '{"id":"a"}' }, Date.now()));
 * ```
 * @module
 */
import type {
  JobStats,
  JobView,
  Preview,
  RunView,
} from "@/lib/jobpro/runtime.ts";
import { duration, relative, utc } from "@/lib/format.ts";
import { block, cell, pairs, table } from "./table.ts";
import type { SseEvent } from "@/lib/client/sse.ts";

/** A job's action as one short line. */
export type Action = JobView["action"];

/**
 * An action in one line: "http GET url", "function sleep {"ms":10}", "shell echo hi".
 *
 * @example
 * ```ts
 * actionText({ type: "function", name: "noop" }); // "function noop"
 * ```
 */
export function actionText(a: Action): string {
  switch (a.type) {
    case "http":
      return `http ${a.method ?? "GET"} ${a.url}`;
    case "function":
      return `function ${a.name}${
        a.params ? ` ${JSON.stringify(a.params)}` : ""
      }`;
    case "shell":
      return `shell ${JSON.stringify(a.command)}`;
    case "heartbeat":
      return `heartbeat (grace ${a.graceMs} ms)`;
  }
}

/**
 * "in 5s", "3m ago", or "–" for no time.
 *
 * @example
 * ```ts
 * when(null, Date.now()); // "–"
 * ```
 */
export function when(iso: string | null, now: number): string {
  return iso ? relative(Date.parse(iso), now) : "–";
}

/**
 * An ISO time with its relative form: "2024-01-15 14:30:00 UTC (in 5s)".
 *
 * @example
 * ```ts
 * at("2024-01-15T14:30:00.000Z", Date.parse("2024-01-15T14:29:55Z")); // "2024-01-15 14:30:00 UTC (in 5s)"
 * ```
 */
export function at(iso: string | null, now: number): string {
  return iso ? `${utc(iso)} (${relative(Date.parse(iso), now)})` : "–";
}

/**
 * The job list as a table; a TAGS column last when any job shown has tags.
 *
 * @example
 * ```ts
 * jobsTable(jobs, Date.now());
 * ```
 */
export function jobsTable(jobs: JobView[], now: number): string {
  const tags = jobs.some((j) => j.tags.length)
    ? [{ header: "TAGS", value: (j: JobView) => j.tags.join(","), max: 40 }]
    : [];
  return table(jobs, [
    { header: "ID", value: (j) => j.id, max: 40 },
    { header: "NAME", value: (j) => j.name, max: 30 },
    { header: "TYPE", value: (j) => j.type },
    { header: "STATUS", value: (j) => j.status },
    { header: "SCHEDULE", value: (j) => j.schedule || "manual", max: 30 },
    { header: "NEXT RUN", value: (j) => when(j.nextRunAt, now) },
    {
      header: "LAST RUN",
      value: (j) =>
        j.lastRun
          ? `${j.lastRun.status} ${when(j.lastRun.startedAt, now)}`
          : "–",
    },
    { header: "RUNS", value: (j) => String(j.runCount), align: "right" },
    {
      header: "OK%",
      value: (j) => j.successRate === null ? "–" : String(j.successRate),
      align: "right",
    },
    ...tags,
  ]);
}

/**
 * One job, field by field.
 *
 * @example
 * ```ts
 * jobDetail(job, Date.now());
 * ```
 */
export function jobDetail(j: JobView, now: number): string {
  const last = j.lastRun;
  return pairs([
    ["id", j.id],
    ["name", j.name],
    ["type", j.type],
    ["status", j.status],
    ["description", j.description ?? "–"],
    ["schedule", `${j.schedule || "(manual)"} — ${j.scheduleText}`],
    ["timezone", j.timezone ?? `${j.effectiveTimezone} (server default)`],
    ["action", actionText(j.action)],
    ["timeout", j.timeoutMs === null ? "–" : duration(j.timeoutMs)],
    ["retries", `${j.retries} (delay ${duration(j.retryDelayMs)})`],
    ["overlap", j.overlap],
    ["catch-up", j.catchUp],
    ["auto-start", String(j.autoStart)],
    ["tags", j.tags.length ? j.tags.join(", ") : "–"],
    ["on success", j.onSuccess?.length ? j.onSuccess.join(", ") : "–"],
    ["on failure", j.onFailure?.length ? j.onFailure.join(", ") : "–"],
    ["next run", at(j.nextRunAt, now)],
    [
      "last run",
      last
        ? `#${last.id} ${last.status} ${duration(last.durationMs)}, ${
          at(last.startedAt, now)
        }${last.error ? `: ${last.error}` : ""}`
        : "–",
    ],
    ["last success", at(j.lastSuccessAt, now)],
    ["last failure", at(j.lastFailureAt, now)],
    [
      "runs",
      `${j.runCount}${
        j.successRate === null ? "" : ` (${j.successRate}% succeeded)`
      }, ${j.activeRuns} active`,
    ],
    ["created", utc(j.createdAt)],
    ["updated", utc(j.updatedAt)],
  ]);
}

/**
 * A job in one line, after start/stop/pause/resume/edit: "ping  scheduled  next run in 5s".
 *
 * @example
 * ```ts
 * jobLine(job, Date.now());
 * ```
 */
export function jobLine(j: JobView, now: number): string {
  const next = j.nextRunAt
    ? `next run ${when(j.nextRunAt, now)}`
    : "no next run";
  return `${cell(j.id)}  ${j.status}  ${next}`;
}

/**
 * A job's runs as a table, newest first as the API sends them.
 *
 * @example
 * ```ts
 * runsTable(list.runs);
 * ```
 */
export function runsTable(runs: RunView[]): string {
  return table(runs, [
    { header: "RUN", value: (r) => `#${r.id}`, align: "right" },
    {
      header: "TRIGGER",
      // A chained run names its parent run: "chain a#12".
      value: (r) =>
        r.parentRunId != null
          ? `${r.trigger} ${r.parentJobId}#${r.parentRunId}`
          : r.trigger,
    },
    { header: "ATTEMPT", value: (r) => String(r.attempt), align: "right" },
    { header: "STARTED (UTC)", value: (r) => utc(r.startedAt) },
    {
      header: "DURATION",
      value: (r) => duration(r.durationMs),
      align: "right",
    },
    { header: "STATUS", value: (r) => r.status },
    { header: "RESULT", value: (r) => r.error ?? r.message ?? "", max: 60 },
  ]);
}

/**
 * A run's outcome in one line: "#12 failed after 3 ms: boom".
 *
 * @example
 * ```ts
 * runLine(run); // "#12 complete after 12 ms: ok"
 * ```
 */
export function runLine(r: RunView): string {
  const result = r.error ?? r.message;
  const took = r.status === "running" || r.status === "queued"
    ? ""
    : ` after ${duration(r.durationMs)}`;
  return `#${r.id} ${r.status}${took}${result ? `: ${cell(result, 200)}` : ""}`;
}

/**
 * One run, field by field, then its captured output.
 *
 * @example
 * ```ts
 * runDetail(run);
 * ```
 */
export function runDetail(r: RunView): string {
  const head = pairs([
    ["run", `#${r.id}`],
    ["job", r.jobId],
    ["status", r.status],
    ["trigger", `${r.trigger} (attempt ${r.attempt})`],
    [
      "chained from",
      r.parentRunId != null
        ? `job ${r.parentJobId} run #${r.parentRunId}`
        : undefined,
    ],
    ["scheduled for", r.scheduledFor ? utc(r.scheduledFor) : "–"],
    ["started", utc(r.startedAt)],
    ["ended", r.endedAt ? utc(r.endedAt) : "–"],
    ["duration", duration(r.durationMs)],
    ["message", r.message ?? undefined],
    ["error", r.error ?? undefined],
  ]);
  return r.output ? `${head}\noutput:\n${block(r.output).trimEnd()}` : head;
}

/**
 * A job's run statistics.
 *
 * @example
 * ```ts
 * statsDetail({ runs: 0, successRate: null, avgDurationMs: null, p50DurationMs: null, p95DurationMs: null, lastRunAt: null, lastFailureAt: null });
 * ```
 */
export function statsDetail(s: JobStats): string {
  return pairs([
    ["runs", String(s.runs)],
    ["success rate", s.successRate === null ? "–" : `${s.successRate}%`],
    ["avg duration", duration(s.avgDurationMs)],
    ["p50 duration", duration(s.p50DurationMs)],
    ["p95 duration", duration(s.p95DurationMs)],
    ["last run", s.lastRunAt ? utc(s.lastRunAt) : "–"],
    ["last failure", s.lastFailureAt ? utc(s.lastFailureAt) : "–"],
  ]);
}

/**
 * A schedule preview: its type, its English description, the next times.
 *
 * @example
 * ```ts
 * previewDetail({ type: "manual", description: "manual", next: [] });
 * ```
 */
export function previewDetail(p: Preview): string {
  return pairs([
    ["type", p.type],
    ["description", p.description],
    ...p.next.map((t, i): [string, string] => [i ? "" : "next", utc(t)]),
    ...(p.warnings ?? []).map((w, i): [string, string] => [
      i ? "" : "warning",
      w,
    ]),
  ]);
}

/** An event's data, as the server sends it. */
type EventData = {
  id?: string | number;
  jobId?: string;
  trigger?: string;
  attempt?: number;
  reason?: string;
};

/**
 * The job an event is about: the job's id, or the run's job id.
 *
 * @example
 * ```ts
 * eventJobId("run-started", { jobId: "a" }); // "a"
 * ```
 */
export function eventJobId(event: string, data: unknown): string | undefined {
  const d = (data ?? {}) as EventData;
  return event.startsWith("run-")
    ? d.jobId
    : d.id === undefined
    ? undefined
    : String(d.id);
}

/**
 * One event as one line: the time it arrived (UTC), its type, its job, what
 * happened.
 *
 * @example
 * ```ts
 * eventLine({ event: "job-deleted", id: "7", data: '{"id":"a"}' }, Date.now());
 * // "2024-01-15T14:30:05Z  job-deleted   a"
 * ```
 */
export function eventLine(e: SseEvent, now: number): string {
  const time = new Date(now).toISOString().replace(/\.\d+Z$/, "Z");
  return `${time}  ${e.event.padEnd(12)}  ${eventText(e, now)}`.trimEnd();
}

function eventText(e: SseEvent, now: number): string {
  const raw = parseData(e.data);
  const d = (typeof raw === "object" && raw !== null ? raw : {}) as EventData;
  switch (e.event) {
    case "job-update":
      return jobLine(raw as JobView, now);
    case "job-deleted":
      return cell(String(d.id));
    case "run-started":
      return `${
        cell(String(d.jobId))
      }  #${d.id} ${d.trigger} attempt ${d.attempt}`;
    case "run-finished":
      return `${cell(String(d.jobId))}  ${runLine(raw as RunView)}`;
    case "reset":
      return cell(d.reason ?? "missed events; refetch");
    default:
      return cell(e.data, 200);
  }
}

/**
 * An event's data as JSON when it is JSON, else the string.
 *
 * @example
 * ```ts
 * parseData('{"id":"a"}'); // { id: "a" }
 * ```
 */
export function parseData(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

/**
 * `list -o wide` (and `show -o wide`): the job table with the zone, the
 * action, exact next-run time, retries, active runs and creation time.
 *
 * @example
 * ```ts
 * jobsWideTable(jobs, Date.now());
 * ```
 */
export function jobsWideTable(jobs: JobView[], now: number): string {
  return table(jobs, [
    { header: "ID", value: (j) => j.id, max: 60 },
    { header: "NAME", value: (j) => j.name, max: 40 },
    { header: "TYPE", value: (j) => j.type },
    { header: "STATUS", value: (j) => j.status },
    { header: "SCHEDULE", value: (j) => j.schedule || "manual", max: 60 },
    { header: "TIMEZONE", value: (j) => j.timezone ?? "–" },
    { header: "ACTION", value: (j) => actionText(j.action), max: 60 },
    {
      header: "NEXT RUN (UTC)",
      value: (j) => j.nextRunAt ? utc(j.nextRunAt) : "–",
    },
    {
      header: "LAST RUN",
      value: (j) =>
        j.lastRun
          ? `#${j.lastRun.id} ${j.lastRun.status} ${
            when(j.lastRun.startedAt, now)
          }`
          : "–",
    },
    { header: "RUNS", value: (j) => String(j.runCount), align: "right" },
    {
      header: "OK%",
      value: (j) => j.successRate === null ? "–" : String(j.successRate),
      align: "right",
    },
    { header: "ACTIVE", value: (j) => String(j.activeRuns), align: "right" },
    { header: "RETRIES", value: (j) => String(j.retries), align: "right" },
    { header: "TAGS", value: (j) => j.tags.join(",") || "–", max: 60 },
    { header: "CREATED (UTC)", value: (j) => utc(j.createdAt) },
  ]);
}
