import type { JobStats, JobView } from "@/lib/jobpro/runtime.ts";
import { count, duration, percent, rateClass, span } from "@/lib/format.ts";
import { useNow } from "./clock.ts";
import { LocalTime, Relative } from "./Time.tsx";
import { Tags } from "./Tags.tsx";
import { JobChains, type Upstream } from "./JobChains.tsx";

/** A job's action in a line a person reads. */
function actionText(action: JobView["action"]): string {
  switch (action.type) {
    case "http":
      return `${action.method ?? "GET"} ${action.url}`;
    case "shell":
      return action.command.join(" ");
    case "function":
      return `${action.name}(${
        action.params ? JSON.stringify(action.params) : ""
      })`;
    case "heartbeat":
      return `expects a ping within ${action.graceMs / 1000} s of each tick`;
  }
}

/** What a job is: its definition, with times in the viewer's zone. */
export function JobDefinition(
  { job, upstream = [] }: { job: JobView; upstream?: Upstream[] },
) {
  return (
    <dl class="definition">
      <dt>Id</dt>
      <dd>
        <code>{job.id}</code>
      </dd>
      <dt>Type</dt>
      <dd>{job.schedule ? job.type : "manual"}</dd>
      {job.description && (
        <>
          <dt>Description</dt>
          <dd class="job-description">{job.description}</dd>
        </>
      )}
      <dt>Schedule</dt>
      <dd>
        {job.schedule ? <code>{job.schedule}</code> : "none"} —{" "}
        {job.scheduleText}
      </dd>
      <dt>Time zone</dt>
      <dd class="job-zone">
        {job.timezone ?? `${job.effectiveTimezone} (the server's default)`}
      </dd>
      <dt>Action</dt>
      <dd>
        <span class="badge-plain">{action(job)}</span>{" "}
        <code>{actionText(job.action)}</code>
      </dd>
      <dt>Timeout</dt>
      <dd>{job.timeoutMs === null ? "none" : span(job.timeoutMs)}</dd>
      <dt>Retries</dt>
      <dd>
        {job.retries
          ? `${job.retries}, ${duration(job.retryDelayMs)} apart`
          : "none"}
      </dd>
      <dt>Overlap</dt>
      <dd>{job.overlap}</dd>
      <dt>Catch-up</dt>
      <dd>{job.catchUp}</dd>
      <dt>Auto start</dt>
      <dd>{job.autoStart ? "yes" : "no"}</dd>
      <dt>Tags</dt>
      <dd>{job.tags.length ? <Tags tags={job.tags} /> : "none"}</dd>
      <dt>Concurrency key</dt>
      <dd>{job.concurrencyKey ?? "none"}</dd>
      <JobChains job={job} upstream={upstream} />
      <dt>Created</dt>
      <dd>
        <LocalTime iso={job.createdAt} />
      </dd>
      <dt>Updated</dt>
      <dd>
        <LocalTime iso={job.updatedAt} />
      </dd>
    </dl>
  );
}

function action(job: JobView): string {
  return job.action.type === "shell" ? "program" : job.action.type;
}

/** The next run times, in the viewer's zone, counting down. */
export function NextTimes({ job, next }: { job: JobView; next: string[] }) {
  const now = useNow();
  const ahead = next.filter((iso) => Date.parse(iso) > now - 1000);
  if (!job.schedule) {
    return (
      <p class="muted">
        Manual: runs only when started or run now.
      </p>
    );
  }
  if (ahead.length === 0) {
    return <p class="muted">No run is planned.</p>;
  }
  return (
    <ol class="next-times" aria-label="Next run times">
      {ahead.map((iso) => (
        <li key={iso}>
          <LocalTime iso={iso} /> <span class="muted">·</span>{" "}
          <Relative iso={iso} />
        </li>
      ))}
    </ol>
  );
}

/** Runs, success rate, average, p50 and p95 duration, last run and failure. */
export function StatsList({ stats }: { stats: JobStats }) {
  return (
    <dl class="stats">
      <div>
        <dt>Runs</dt>
        <dd>{count(stats.runs)}</dd>
      </div>
      <div>
        <dt>Success</dt>
        <dd class={rateClass(stats.successRate)}>
          {percent(stats.successRate)}
        </dd>
      </div>
      <div>
        <dt>Average</dt>
        <dd>{duration(stats.avgDurationMs)}</dd>
      </div>
      <div>
        <dt>p50</dt>
        <dd>{duration(stats.p50DurationMs)}</dd>
      </div>
      <div>
        <dt>p95</dt>
        <dd>{duration(stats.p95DurationMs)}</dd>
      </div>
      <div>
        <dt>Last run</dt>
        <dd class="stat-time">
          {stats.lastRunAt ? <Relative iso={stats.lastRunAt} /> : "–"}
        </dd>
      </div>
      <div>
        <dt>Last failure</dt>
        <dd class="stat-time">
          {stats.lastFailureAt ? <Relative iso={stats.lastFailureAt} /> : "–"}
        </dd>
      </div>
    </dl>
  );
}
