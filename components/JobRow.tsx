import type { JobView, RunView } from "@/lib/jobpro/runtime.ts";
import { count, duration, percent, plural, rateClass } from "@/lib/format.ts";
import { jobPath } from "@/lib/client/api.ts";
import { DurationChart, Sparkline } from "./DurationChart.tsx";
import type { RunPoint } from "@/lib/dashboard/run_points.ts";
import { JobControls, type JobOp } from "./JobControls.tsx";
import { RunsTable } from "./RunsTable.tsx";
import { RunStatusIcon } from "./RunStatusIcon.tsx";
import { QueuedBadge, StatusBadge } from "./StatusBadge.tsx";
import { memo } from "./memo.ts";
import { LocalTime, Relative } from "./Time.tsx";
import { Tags } from "./Tags.tsx";

/** An expanded row's runs, as far as they are loaded. */
export interface History {
  runs: RunView[];
  total: number;
  loading: boolean;
  error?: string;
  /** The run whose cancel is in flight. */
  cancelling?: number | null;
}

/** Columns of the jobs table, for the expanded row's colspan. */
export const COLUMNS = 9;

/** The mean duration of the finished runs among `points`. */
export function average(points: RunPoint[]): number | null {
  const done = points.filter((p) => p.durationMs !== null);
  if (done.length === 0) return null;
  return done.reduce((sum, p) => sum + p.durationMs!, 0) / done.length;
}

function ScheduleCell({ job }: { job: JobView }) {
  if (!job.schedule) {
    return (
      <td data-label="Schedule" class="schedule" title="Runs only when started">
        <span class="muted">manual</span>
      </td>
    );
  }
  return (
    <td data-label="Schedule" class="schedule" title={job.scheduleText}>
      <code>{job.schedule}</code>
      <div class="muted sub">
        {job.type === "onetime" && job.nextRunAt
          ? <Relative iso={job.nextRunAt} />
          : job.scheduleText}
      </div>
    </td>
  );
}

function LastRunCell({ job }: { job: JobView }) {
  const last = job.lastRun;
  if (!last) {
    return <td data-label="Last run" class="last-run muted">never</td>;
  }
  return (
    <td data-label="Last run" class="last-run">
      <RunStatusIcon status={last.status} /> <Relative iso={last.startedAt} />
      <div class="muted sub">
        {last.status === "running" || last.status === "queued"
          ? last.status
          : duration(last.durationMs)}
        {last.error && (
          <span class="error-text last-error" title={last.error}>
            {last.error}
          </span>
        )}
      </div>
    </td>
  );
}

function SuccessCell(
  { job, points }: { job: JobView; points: RunPoint[] | undefined },
) {
  const avg = points ? average(points) : null;
  return (
    <td data-label="Success" class="success">
      <span class={`success-rate ${rateClass(job.successRate)}`}>
        {percent(job.successRate)}
      </span>{" "}
      <span class="muted run-count" title="Runs kept">
        {job.runCount ? plural(job.runCount, "run") : "no runs yet"}
      </span>
      {job.type === "periodic"
        ? points && <Sparkline points={points} />
        : avg !== null && <div class="muted sub">avg {duration(avg)}</div>}
    </td>
  );
}

/**
 * The expanded part of a row: the job's recent runs with "load more", and
 * for a periodic job its duration chart, for a one-time job its summary.
 */
function HistoryPanel(
  { job, points, history, onMore, onCancel }: {
    job: JobView;
    points: RunPoint[] | undefined;
    history: History;
    onMore(): void;
    onCancel(run: RunView): void;
  },
) {
  const { runs, total, loading, error } = history;
  const avg = points ? average(points) : null;
  return (
    <div class="history">
      {job.type === "periodic"
        ? (
          <DurationChart
            points={points ?? []}
            title={`Duration of the last ${plural(points?.length ?? 0, "run")}`}
          />
        )
        : (
          <dl class="summary">
            <div>
              <dt>Runs</dt>
              <dd>{count(job.runCount)}</dd>
            </div>
            <div>
              <dt>Success</dt>
              <dd class={rateClass(job.successRate)}>
                {percent(job.successRate)}
              </dd>
            </div>
            <div>
              <dt>Average duration</dt>
              <dd>{duration(avg)}</dd>
            </div>
            <div>
              <dt>Since last run</dt>
              <dd>
                {job.lastRun ? <Relative iso={job.lastRun.startedAt} /> : "–"}
              </dd>
            </div>
          </dl>
        )}
      {runs.length > 0
        ? (
          <RunsTable
            runs={runs}
            caption={`Recent runs of ${job.name}`}
            onCancel={onCancel}
            cancelling={history.cancelling}
          />
        )
        : !loading && !error && <p class="muted">No runs yet.</p>}
      {error && <p class="error-text" role="alert">{error}</p>}
      <div class="history-foot">
        {runs.length < total && (
          <button
            type="button"
            class="btn load-more"
            onClick={onMore}
            disabled={loading}
            aria-busy={loading ? "true" : undefined}
          >
            {loading ? "Loading…" : "Load more"}
          </button>
        )}
        <span class="muted shown">
          ({count(runs.length)} of {count(total)})
        </span>
        <a href={jobPath(job.id)}>All runs and output →</a>
      </div>
    </div>
  );
}

/** What a row's buttons do; one object for all rows, so rows can skip renders. */
export interface RowActions {
  toggle(job: JobView): void;
  op(job: JobView, op: JobOp): void;
  edit(job: JobView): void;
  remove(job: JobView): void;
  more(job: JobView): void;
  /** Checks or unchecks the row for a bulk action. */
  select(job: JobView, on: boolean): void;
  /** Filters the table by a tag of the row. */
  tag(tag: string): void;
  /** Asks to cancel a running run of the job (confirmed first). */
  cancelRun(job: JobView, run: RunView): void;
}

/**
 * One job in the table: name and id, schedule, status, next run countdown,
 * last run, success rate with the duration sparkline, and its controls; with
 * its history below when expanded. It re-renders only when its own props
 * change.
 */
export const JobRow = memo(function JobRow(
  { job, points, history, flash, busy, selected, actions }: {
    job: JobView;
    points: RunPoint[] | undefined;
    history: History | undefined;
    /** Bumped on every change: alternating classes restart the highlight. */
    flash: number | undefined;
    busy: JobOp | "delete" | null;
    /** Checked for a bulk action. */
    selected: boolean;
    actions: RowActions;
  },
) {
  const expanded = history !== undefined;
  const panel = `history-${job.id}`;
  return (
    <>
      <tr
        id={`job-${job.id}`}
        data-status={job.status}
        class={[
          "job-row",
          flash === undefined ? "" : `flash-${flash % 2}`,
          expanded ? "expanded" : "",
        ].filter(Boolean).join(" ")}
      >
        <td class="select">
          <input
            type="checkbox"
            checked={selected}
            aria-label={`Select ${job.name}`}
            onChange={(e) =>
              actions.select(job, (e.target as HTMLInputElement).checked)}
          />
        </td>
        <td class="toggle">
          <button
            type="button"
            class="btn btn-ghost toggle-btn"
            aria-expanded={expanded ? "true" : "false"}
            aria-controls={expanded ? panel : undefined}
            aria-label={`Recent runs of ${job.name}`}
            onClick={() => actions.toggle(job)}
          >
            <span aria-hidden="true">{expanded ? "▾" : "▸"}</span>
          </button>
        </td>
        <th scope="row" class="name">
          <a href={jobPath(job.id)} class="job-name">{job.name}</a>
          <div class="job-id">{job.id}</div>
          <Tags tags={job.tags} onTag={actions.tag} />
        </th>
        <ScheduleCell job={job} />
        <td data-label="Status" class="status">
          <StatusBadge status={job.status} />
          {job.activeRuns > job.queuedRuns && job.status !== "running" && (
            <>
              {" "}
              <StatusBadge status="running" />
            </>
          )}
          {job.queuedRuns > 0 && (
            <>
              {" "}
              <QueuedBadge count={job.queuedRuns} />
            </>
          )}
        </td>
        <td data-label="Next run" class="next-run">
          {job.nextRunAt
            ? (
              <>
                <Relative iso={job.nextRunAt} />
                <div class="muted sub">
                  <LocalTime iso={job.nextRunAt} />
                </div>
              </>
            )
            : <span class="muted">–</span>}
        </td>
        <LastRunCell job={job} />
        <SuccessCell job={job} points={points} />
        <td class="actions">
          <JobControls
            job={job}
            busy={busy}
            onOp={(op) => actions.op(job, op)}
            onEdit={() => actions.edit(job)}
            onDelete={() => actions.remove(job)}
          />
        </td>
      </tr>
      {history && (
        <tr class="history-row" id={panel}>
          <td colSpan={COLUMNS}>
            <HistoryPanel
              job={job}
              points={points}
              history={history}
              onMore={() => actions.more(job)}
              onCancel={(run) => actions.cancelRun(job, run)}
            />
          </td>
        </tr>
      )}
    </>
  );
});
