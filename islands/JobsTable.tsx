import { useEffect, useState } from "preact/hooks";
import type { JobView } from "@/lib/jobpro/job.ts";
import { canTransition, type Operation } from "@/lib/jobpro/status.ts";
import { duration, rateClass, relative, utc } from "@/lib/format.ts";
import { StatusBadge } from "@/components/StatusBadge.tsx";

type Op = "start" | "stop" | "pause" | "resume" | "run";

interface Props {
  jobs: JobView[];
  total: number;
}

/** Controls a row offers, from the engine's own transition table. */
function controls(job: JobView): Op[] {
  const ops: Op[] = (["start", "pause", "resume", "stop"] as const).filter((
    op,
  ) => canTransition(job, op as Operation));
  return [...ops, "run"];
}

const LABELS: Record<Op, string> = {
  start: "Start",
  stop: "Stop",
  pause: "Pause",
  resume: "Resume",
  run: "Run now",
};

function upsert(list: JobView[], job: JobView): JobView[] {
  const i = list.findIndex((j) => j.id === job.id);
  if (i === -1) return [...list, job];
  const next = list.slice();
  next[i] = job;
  return next;
}

/** Calls the API; returns an error message or null. */
async function call(method: string, path: string): Promise<string | null> {
  try {
    const res = await fetch(path, {
      method,
      headers: { accept: "application/json" },
    });
    if (res.ok) return null;
    const body = await res.json().catch(() => null);
    return body?.error?.message ??
      `${method} ${path} failed with ${res.status}`;
  } catch (e) {
    return `${method} ${path} failed: ${(e as Error).message}`;
  }
}

/**
 * The live jobs table: rendered on the server, then kept current from
 * `/jobs/events` — each `job-update` replaces just that job's row.
 */
export default function JobsTable({ jobs: initial, total }: Props) {
  const [jobs, setJobs] = useState(initial);
  const [count, setCount] = useState(total);
  const [live, setLive] = useState<"connecting" | "live" | "reconnecting">(
    "connecting",
  );
  const [now, setNow] = useState(() => Date.now());
  const [error, setError] = useState<string | null>(null);
  const [changed, setChanged] = useState<Record<string, number>>({});

  useEffect(() => {
    const tick = setInterval(() => setNow(Date.now()), 1000);
    const es = new EventSource("/jobs/events");
    // Coalesce bursts: apply at most once per animation frame.
    let pending = new Map<string, JobView | null>();
    let frame = 0;
    const flush = () => {
      frame = 0;
      const batch = pending;
      pending = new Map();
      setJobs((list) => {
        let next = list;
        for (const [id, job] of batch) {
          next = job ? upsert(next, job) : next.filter((j) => j.id !== id);
        }
        setCount((c) => c + next.length - list.length);
        return next;
      });
      const stamp = Date.now();
      setChanged((c) => {
        const next = { ...c };
        for (const id of batch.keys()) next[id] = stamp;
        return next;
      });
    };
    const queue = (id: string, job: JobView | null) => {
      pending.set(id, job);
      if (!frame) frame = requestAnimationFrame(flush);
    };
    es.addEventListener("job-update", (ev) => {
      const job = JSON.parse((ev as MessageEvent).data) as JobView;
      queue(job.id, job);
    });
    es.addEventListener("job-deleted", (ev) => {
      queue(JSON.parse((ev as MessageEvent).data).id, null);
    });
    es.onopen = () => setLive("live");
    es.onerror = () => setLive("reconnecting");
    return () => {
      clearInterval(tick);
      cancelAnimationFrame(frame);
      es.close();
    };
  }, []);

  async function act(job: JobView, op: Op | "delete") {
    if (
      op === "delete" && !confirm(`Delete job "${job.name}" and its history?`)
    ) return;
    const path = op === "delete"
      ? `/jobs/${encodeURIComponent(job.id)}`
      : `/jobs/${encodeURIComponent(job.id)}/${op}`;
    setError(await call(op === "delete" ? "DELETE" : "POST", path));
  }

  return (
    <section class="jobs" aria-label="Jobs">
      <div class="toolbar">
        <span class={`live live-${live}`} role="status" aria-live="polite">
          {live === "live"
            ? "● live"
            : live === "connecting"
            ? "○ connecting…"
            : "○ reconnecting…"}
        </span>
        <span class="count">{count} job{count === 1 ? "" : "s"}</span>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}{" "}
          <button
            type="button"
            onClick={() => setError(null)}
            aria-label="Dismiss"
          >
            ×
          </button>
        </p>
      )}
      <div class="table-wrap">
        <table class="jobs-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Schedule</th>
              <th scope="col">Status</th>
              <th scope="col">Next run</th>
              <th scope="col">Last run</th>
              <th scope="col">Runs</th>
              <th scope="col">Success</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((job) => (
              <tr
                key={job.id}
                id={`job-${job.id}`}
                data-status={job.status}
                class={now - (changed[job.id] ?? 0) < 1500
                  ? "flash"
                  : undefined}
              >
                <td>
                  <a
                    href={`/jobs/${encodeURIComponent(job.id)}`}
                    class="job-name"
                  >
                    {job.name}
                  </a>
                  <div class="job-id">{job.id}</div>
                </td>
                <td class="schedule" title={job.description}>
                  {job.schedule
                    ? (
                      <>
                        <code>{job.schedule}</code>
                        <div class="muted">{job.description}</div>
                      </>
                    )
                    : <span class="muted">manual</span>}
                </td>
                <td class="status">
                  <StatusBadge status={job.status} />
                  {job.activeRuns > 0 && job.status !== "running" && (
                    <>
                      {" "}
                      <StatusBadge status="running" />
                    </>
                  )}
                </td>
                <td
                  class="next-run"
                  title={job.nextRunAt ? utc(job.nextRunAt) : undefined}
                >
                  {job.nextRunAt
                    ? relative(Date.parse(job.nextRunAt), now)
                    : "–"}
                </td>
                <td class="last-run">
                  {job.lastRun
                    ? (
                      <span
                        title={`${utc(job.lastRun.startedAt)}${
                          job.lastRun.error ? ` — ${job.lastRun.error}` : ""
                        }`}
                      >
                        <span
                          class={`dot dot-${job.lastRun.status}`}
                          aria-label={job.lastRun.status}
                        >
                          ●
                        </span>{" "}
                        {relative(Date.parse(job.lastRun.startedAt), now)}{" "}
                        <span class="muted">
                          {duration(job.lastRun.durationMs)}
                        </span>
                      </span>
                    )
                    : "never"}
                </td>
                <td class="run-count">{job.runCount}</td>
                <td class={`success-rate ${rateClass(job.successRate)}`}>
                  {job.successRate === null ? "–" : `${job.successRate}%`}
                </td>
                <td class="controls">
                  {controls(job).map((op) => (
                    <button
                      type="button"
                      key={op}
                      class={`btn btn-${op}`}
                      onClick={() => act(job, op)}
                    >
                      {LABELS[op]}
                    </button>
                  ))}
                  <button
                    type="button"
                    class="btn btn-delete"
                    onClick={() => act(job, "delete")}
                    aria-label={`Delete ${job.name}`}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {jobs.length === 0 && (
        <p class="empty">No jobs yet. Create one with POST /jobs.</p>
      )}
    </section>
  );
}
