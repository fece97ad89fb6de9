/**
 * Prometheus metrics, built from the engine's events (runs by job and
 * status, run durations, how late scheduled runs fired) and read at scrape
 * time (jobs by status, open event streams, and on a node of a cluster the
 * node, its jobs and the live nodes), and the standard `process_*` ones
 * (process_metrics.ts). The text exposition format is small
 * enough to write directly.
 *
 * @example
 * ```ts
 * const metrics = metricsOf(manager); // starts counting at the first call
 * const text = metrics.render(); // "# TYPE jobpro_runs_total counter\n..."
 * ```
 * @module
 */
import {
  type Delivered,
  JOB_STATUSES,
  type Manager,
  type RunView,
} from "../jobpro/mod.ts";
import { sseClients } from "./live.ts";
import { processText } from "./process_metrics.ts";

/** The Content-Type of the text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Prometheus's default bucket bounds (seconds): 5 ms to 10 s in 1-2.5-5 steps. */
const DEFAULT_BUCKETS = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** Upper bounds (seconds) of the run-duration buckets: the defaults, then up to half an hour. */
export const DURATION_BUCKETS = [...DEFAULT_BUCKETS, 30, 60, 300, 1800];
/** Upper bounds (seconds) of the fire-lateness buckets: 1 ms, the defaults up to 1 s, then 5 s and 30 s. */
export const LATENESS_BUCKETS = [
  0.001,
  ...DEFAULT_BUCKETS.filter((s) => s <= 1),
  5,
  30,
];

/** A cumulative histogram. */
interface Histogram {
  bounds: number[];
  counts: number[];
  sum: number;
  count: number;
}

const histogram = (bounds: number[]): Histogram => ({
  bounds,
  counts: bounds.map(() => 0),
  sum: 0,
  count: 0,
});

function observe(h: Histogram, value: number) {
  h.sum += value;
  h.count++;
  for (let i = 0; i < h.bounds.length; i++) {
    if (value <= h.bounds[i]) h.counts[i]++;
  }
}

/** The metrics of one manager. */
export interface Metrics {
  /** The Prometheus text exposition of every metric. */
  render(): string;
}

const tracked = new WeakMap<Manager, Metrics>();

/**
 * The metrics of a manager, counting from the first call on (call it at
 * start-up so no run is missed).
 *
 * @example
 * ```ts
 * metricsOf(manager).render();
 * ```
 */
export function metricsOf(manager: Manager): Metrics {
  let m = tracked.get(manager);
  if (!m) tracked.set(manager, m = createMetrics(manager));
  return m;
}

/**
 * Subscribes to the manager's events and renders on demand.
 *
 * @example
 * ```ts
 * const metrics = createMetrics(manager);
 * ```
 */
export function createMetrics(manager: Manager): Metrics {
  const runs = new Map<string, Map<string, number>>();
  const durations = histogram(DURATION_BUCKETS);
  const lateness = histogram(LATENESS_BUCKETS);
  const missed = new Map<string, number>();
  manager.events.subscribe((e: Delivered) => {
    if (e.type === "job-deleted") {
      runs.delete(e.id);
      missed.delete(e.id);
    }
    if (e.type === "job-update" && e.job.missedRuns > 0) {
      missed.set(e.job.id, e.job.missedRuns);
    }
    if (e.type !== "run-finished") return;
    const byStatus = runs.get(e.run.jobId) ?? new Map<string, number>();
    runs.set(e.run.jobId, byStatus);
    byStatus.set(e.run.status, (byStatus.get(e.run.status) ?? 0) + 1);
    if (e.run.durationMs !== null) observe(durations, e.run.durationMs / 1000);
    const late = latenessOf(e.run);
    if (late !== null) observe(lateness, late);
  });
  return {
    render: () =>
      [
        counterText(runs),
        histogramText(
          "jobpro_run_duration_seconds",
          "How long finished runs took.",
          durations,
        ),
        histogramText(
          "jobpro_fire_lateness_seconds",
          "How long after its scheduled time a scheduled or retry run started.",
          lateness,
        ),
        jobsText(manager),
        lastOutcomesText(manager),
        missedText(missed),
        gauge(
          "jobpro_sse_clients",
          "Open event streams (/jobs/events, /jobs/update-notify).",
          sseClients(manager),
        ),
        gauge(
          "jobpro_http_actions_active",
          "http actions holding an outbound connection (at most JOBPRO_HTTP_MAX_CONCURRENT).",
          manager.httpActions.active,
        ),
        gauge(
          "jobpro_http_actions_waiting",
          "http actions waiting for an outbound connection slot.",
          manager.httpActions.waiting,
        ),
        nodeText(manager),
        processText(),
      ].join(""),
  };
}

/**
 * Seconds between when a run was due and when it started; null for runs
 * that were not due at a time (manual) or that catch up after a restart.
 *
 * @example
 * ```ts
 * latenessOf({ trigger: "schedule", scheduledFor: "2024-01-01T00:00:00.000Z", startedAt: "2024-01-01T00:00:00.004Z" }); // 0.004
 * ```
 */
export function latenessOf(
  run: Pick<RunView, "trigger" | "scheduledFor" | "startedAt">,
): number | null {
  if (run.trigger !== "schedule" && run.trigger !== "retry") return null;
  if (run.scheduledFor === null) return null;
  const ms = Date.parse(run.startedAt) - Date.parse(run.scheduledFor);
  return Number.isFinite(ms) ? Math.max(0, ms) / 1000 : null;
}

/**
 * A label value escaped for the text format.
 *
 * @example
 * ```ts
 * label('a"b'); // 'a\\"b'
 * ```
 */
export function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(
    /\n/g,
    "\\n",
  );
}

const header = (name: string, help: string, type: string) =>
  `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;

function counterText(runs: Map<string, Map<string, number>>): string {
  let out = header(
    "jobpro_runs_total",
    "Runs finished since the server started, by job and status.",
    "counter",
  );
  for (const [job, byStatus] of runs) {
    for (const [status, n] of byStatus) {
      out += `jobpro_runs_total{job="${label(job)}",status="${status}"} ${n}\n`;
    }
  }
  return out;
}

function missedText(missed: Map<string, number>): string {
  let out = header(
    "jobpro_missed_runs_total",
    "Ticks that could not be fired in time (a frozen disk, an overloaded process), by job, since the server started.",
    "counter",
  );
  for (const [job, n] of missed) {
    out += `jobpro_missed_runs_total{job="${label(job)}"} ${n}\n`;
  }
  return out;
}

function histogramText(name: string, help: string, h: Histogram): string {
  let out = header(name, help, "histogram");
  h.bounds.forEach((le, i) => {
    out += `${name}_bucket{le="${le}"} ${h.counts[i]}\n`;
  });
  out += `${name}_bucket{le="+Inf"} ${h.count}\n`;
  out += `${name}_sum ${h.sum}\n${name}_count ${h.count}\n`;
  return out;
}

function jobsText(manager: Manager): string {
  let out = header("jobpro_jobs", "Jobs by status.", "gauge");
  for (const status of JOB_STATUSES) {
    const n = manager.list({ status, limit: 0 }).total;
    out += `jobpro_jobs{status="${status}"} ${n}\n`;
  }
  return out;
}

/**
 * When each job's runs last succeeded and last failed, as the store keeps
 * them beside the job (so a restart, or another node of a cluster, answers
 * the same). A job that never succeeded (or failed) has no sample.
 */
function lastOutcomesText(manager: Manager): string {
  const success = "jobpro_job_last_success_timestamp_seconds";
  const failure = "jobpro_job_last_failure_timestamp_seconds";
  let ok = header(
    success,
    "When a run of the job last succeeded (its end), in Unix seconds.",
    "gauge",
  );
  let failed = header(
    failure,
    "When a run of the job last failed (its end), in Unix seconds.",
    "gauge",
  );
  // To the millisecond, as the job's JSON shows them.
  const seconds = (ms: number) => Math.floor(ms) / 1000;
  for (const [id, okAt, failedAt] of manager.lastOutcomes()) {
    const job = `{job="${label(id)}"}`;
    if (okAt !== null) ok += `${success}${job} ${seconds(okAt)}\n`;
    if (failedAt !== null) {
      failed += `${failure}${job} ${seconds(failedAt)}\n`;
    }
  }
  return ok + failed;
}

/** On a node of a cluster only: which node answered, its jobs, the live nodes. */
function nodeText(manager: Manager): string {
  const node = manager.node;
  if (!node) return "";
  return header(
    "jobpro_node_info",
    "The node of the cluster that answered, by name and lease epoch (empty while it holds no lease).",
    "gauge",
  ) +
    `jobpro_node_info{node="${label(node.name)}",epoch="${
      node.epoch ?? ""
    }"} 1\n` +
    gauge(
      "jobpro_node_owned_jobs",
      "Jobs this node owns (it fires their ticks).",
      node.jobs,
    ) +
    gauge(
      "jobpro_cluster_live_nodes",
      "The cluster's live nodes at this node's last lease renewal, this one included.",
      node.live.length,
    );
}

function gauge(name: string, help: string, value: number): string {
  return `${header(name, help, "gauge")}${name} ${value}\n`;
}
