import { useEffect, useRef, useState } from "preact/hooks";
import { Notices } from "@/components/Notices.tsx";
import type {
  JobStats,
  JobView,
  RunOutputChunk,
  RunStatus,
  RunView,
} from "@/lib/jobpro/runtime.ts";
import { count, plural } from "@/lib/format.ts";
import { callApi, jobPath, queryString } from "@/lib/client/api.ts";
import { readRunsView, type RunsView } from "@/lib/client/query.ts";
import { ConfirmDialog } from "@/components/ConfirmDialog.tsx";
import { CancelRunDialog } from "@/components/CancelRunDialog.tsx";
import { DurationChart } from "@/components/DurationChart.tsx";
import {
  mergePoints,
  type RunPoint,
  toPoint,
} from "@/lib/dashboard/run_points.ts";
import {
  readBatch,
  type WireEvent,
  withRunsInView,
} from "@/lib/dashboard/job_events.ts";
import { useJobEvents } from "@/components/event_stream.ts";
import { DONE, JobControls, type JobOp } from "@/components/JobControls.tsx";
import { JobFormDialog } from "@/components/JobForm.tsx";
import {
  JobDefinition,
  NextTimes,
  StatsList,
} from "@/components/JobSummary.tsx";
import { LiveIndicator } from "@/components/LiveIndicator.tsx";
import { Pager } from "@/components/Pager.tsx";
import { RunDetail } from "@/components/RunDetail.tsx";
import type { Upstream } from "@/components/JobChains.tsx";
import { afterRead, withOutputPiece } from "@/lib/dashboard/run_output.ts";
import { RunsTable } from "@/components/RunsTable.tsx";
import { TimeZone } from "@/components/Time.tsx";
import { QueuedBadge, StatusBadge } from "@/components/StatusBadge.tsx";

interface Props {
  job: JobView;
  runs: RunView[];
  total: number;
  view: RunsView;
  stats: JobStats;
  /** The chart's runs, oldest first. */
  chart: RunPoint[];
  /** The schedule's next run times. */
  next: string[];
  /** The run in `view.run`, with its output. */
  run: RunView | null;
  allowShell: boolean;
  /** The jobs that chain to this one (chains.ts), as the page was made. */
  upstream?: Upstream[];
}

/** Runs in the duration chart. */
const CHART = 60;
const STATUSES: (RunStatus | "")[] = [
  "",
  "complete",
  "failed",
  "running",
  "queued",
  "cancelled",
];

function search(v: RunsView): string {
  return queryString(
    { status: v.status, offset: v.offset, run: v.run },
    { offset: 0 },
  );
}

/**
 * The job page: its definition and next run times, stats and a duration
 * chart, the full run history with a status filter and paging, and one run's
 * detail with its output. Everything follows `/jobs/events`.
 */
export default function JobDetail(props: Props) {
  // Every time on the page is in the job's zone (the viewer's on hover),
  // followed as the job is edited.
  const [zone, setZone] = useState(props.job.effectiveTimezone);
  return (
    <TimeZone.Provider value={zone}>
      <JobPage {...props} onZone={setZone} />
    </TimeZone.Provider>
  );
}

function JobPage(props: Props & { onZone(zone: string): void }) {
  const [job, setJob] = useState(props.job);
  useEffect(() => props.onZone(job.effectiveTimezone), [job.effectiveTimezone]);
  const [gone, setGone] = useState(false);
  const [runs, setRuns] = useState(props.runs);
  const [total, setTotal] = useState(props.total);
  const [view, setView] = useState(props.view);
  const [stats, setStats] = useState(props.stats);
  const [chart, setChart] = useState(props.chart);
  const [next, setNext] = useState(props.next);
  const [run, setRun] = useState(props.run);
  const [runLoading, setRunLoading] = useState(false);
  const [busy, setBusy] = useState<JobOp | "delete" | null>(null);
  const [notice, setNotice] = useState("");
  const [problem, setProblem] = useState("");
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  /** The run the cancel dialog asks about, and the one being cancelled. */
  const [stopping, setStopping] = useState<RunView | null>(null);
  const [cancelling, setCancelling] = useState<number | null>(null);

  const now = useRef({ job, view, run, runs });
  now.current = { job, view, run, runs };
  const version = useRef(0);
  /** Live output pieces of the run being read, for when the read is in. */
  const early = useRef<RunOutputChunk[]>([]);
  const statsTimer = useRef<ReturnType<typeof setTimeout>>();
  const id = props.job.id;

  async function loadRuns(v: RunsView) {
    const r = await callApi<{ runs: RunView[]; total: number }>(
      "GET",
      jobPath(id, "runs") +
        queryString({ status: v.status, offset: v.offset, limit: v.limit }),
    );
    if (!r.ok) return setProblem(r.error.message);
    setRuns(r.data.runs);
    setTotal(r.data.total);
  }

  async function loadRun(runId: number | null) {
    if (runId === null) return setRun(null);
    setRunLoading(true);
    const r = await callApi<RunView>("GET", jobPath(id, "runs", runId));
    setRunLoading(false);
    if (now.current.view.run !== runId) return;
    if (!r.ok) {
      setRun(null);
      setProblem(`Run #${runId}: ${r.error.message}`);
      return;
    }
    // A run going keeps the live output it has (the read may be older),
    // and takes the pieces that came while it was read.
    let next = afterRead(now.current.run, r.data);
    for (const piece of early.current.splice(0)) {
      if (piece.runId === runId) next = withOutputPiece(next, piece).run;
    }
    now.current.run = next;
    setRun(next);
  }

  /** Appends the shown run's live output pieces (run-output events). */
  function takeOutput(events: WireEvent[]) {
    for (const ev of events) {
      if (ev.type !== "run-output") continue;
      const shown = now.current.run;
      const piece = JSON.parse(ev.data) as RunOutputChunk;
      if (!shown || piece.runId !== shown.id) {
        // The run being read: its pieces wait for the read.
        const waiting = now.current.view.run === piece.runId;
        if (waiting && early.current.length < 256) early.current.push(piece);
        continue;
      }
      const { run: next, missed } = withOutputPiece(shown, piece);
      if (next !== shown) {
        now.current.run = next;
        setRun(next);
      }
      // It printed faster than it was sent: the read has what is kept.
      if (missed) loadRun(shown.id);
    }
  }

  async function loadNext(j: JobView) {
    if (j.type !== "periodic") return setNext(j.nextRunAt ? [j.nextRunAt] : []);
    const r = await callApi<{ next: string[] }>(
      "GET",
      `/jobs/schedule${
        queryString({ expr: j.schedule, timezone: j.timezone, count: 5 })
      }`,
    );
    if (r.ok) setNext(r.data.next);
  }

  function loadStatsSoon() {
    if (statsTimer.current) return;
    statsTimer.current = setTimeout(async () => {
      statsTimer.current = undefined;
      const r = await callApi<JobStats>("GET", jobPath(id, "stats"));
      if (r.ok) setStats(r.data);
    }, 500);
  }

  /** Shows a view of the runs; `push` makes it a history entry. */
  function show(v: RunsView, push: boolean) {
    const before = now.current.view;
    setView(v);
    if (push) history.pushState(null, "", `${jobPath(id)}${search(v)}`);
    if (v.status !== before.status || v.offset !== before.offset) loadRuns(v);
    if (v.run !== before.run) loadRun(v.run);
  }

  function takeJob(next: JobView) {
    const old = now.current.job;
    setJob(next);
    if (
      old.schedule !== next.schedule || old.timezone !== next.timezone ||
      old.nextRunAt !== next.nextRunAt
    ) loadNext(next);
  }

  function apply(events: WireEvent[]) {
    takeOutput(events);
    const mine = (about: string) => about === id;
    const batch = readBatch(events, { job: mine, run: mine });
    if (batch.deleted.has(id)) setGone(true);
    const latest = batch.updated.get(id);
    if (latest) {
      version.current++;
      takeJob(latest);
    }
    const { runs, added } = withRunsInView(
      now.current.runs,
      now.current.view,
      batch.runs,
    );
    if (runs !== now.current.runs) {
      now.current.runs = runs;
      setRuns(runs);
    }
    if (added) setTotal((t) => t + added);
    const ended = batch.runs.filter((r) =>
      r.status !== "running" && r.status !== "queued"
    );
    if (ended.length) {
      setChart((c) => mergePoints(c, ended.map(toPoint), CHART));
      loadStatsSoon();
      const shown = now.current.run;
      if (shown && ended.some((r) => r.id === shown.id)) loadRun(shown.id);
    }
  }

  const connection = useJobEvents({
    onEvents: apply,
    onReset: async () => {
      const r = await callApi<JobView>("GET", jobPath(id));
      if (r.ok) takeJob(r.data);
      else if (r.error.status === 404) setGone(true);
      loadRuns(now.current.view);
      loadRun(now.current.view.run);
      loadStatsSoon();
    },
  }, { url: `/jobs/events${queryString({ output: id })}` });

  // Connected (again): what the shown run wrote before is read once, the
  // rest comes as events.
  useEffect(() => {
    const shown = now.current.run;
    if (connection === "live" && shown?.status === "running") {
      loadRun(shown.id);
    }
  }, [connection]);

  useEffect(() => {
    const onPop = () =>
      show(
        readRunsView(
          new URLSearchParams(location.search),
          now.current.view.limit,
        ),
        false,
      );
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);

  useEffect(() => {
    if (!notice) return;
    const timer = setTimeout(() => setNotice(""), 6000);
    return () => clearTimeout(timer);
  }, [notice]);

  async function act(op: JobOp) {
    setBusy(op);
    setProblem("");
    const seen = version.current;
    const r = await callApi<JobView | { job: JobView; run: RunView }>(
      "POST",
      jobPath(id, op),
    );
    setBusy(null);
    if (!r.ok) return setProblem(r.error.message);
    if (version.current === seen) {
      takeJob("job" in r.data ? r.data.job : r.data);
    }
    setNotice(`${job.name}: ${DONE[op]}`);
  }

  async function remove() {
    setBusy("delete");
    const r = await callApi<void>("DELETE", jobPath(id));
    setBusy(null);
    if (!r.ok && r.error.status !== 404) return setProblem(r.error.message);
    location.assign("/jobs");
  }

  async function cancelRun(r: RunView) {
    setCancelling(r.id);
    setProblem("");
    const res = await callApi<RunView>(
      "POST",
      jobPath(id, "runs", r.id, "cancel"),
    );
    setCancelling(null);
    if (!res.ok) return setProblem(`Run #${r.id}: ${res.error.message}`);
    setNotice(
      res.data.status === "running" || res.data.status === "queued"
        ? `Run #${r.id}: cancel asked; it has not ended yet`
        : `Run #${r.id}: cancelled`,
    );
  }

  const select = (r: RunView | null) =>
    show({ ...now.current.view, run: r?.id ?? null }, true);

  return (
    <div class="job-detail">
      <div class="crumbs">
        <a href="/jobs">← All jobs</a>
      </div>
      <header class="page-head">
        <h1 id="job-heading">{job.name}</h1>
        <StatusBadge status={job.status} />
        {job.activeRuns > job.queuedRuns && job.status !== "running" && (
          <StatusBadge status="running" />
        )}
        {job.queuedRuns > 0 && <QueuedBadge count={job.queuedRuns} />}
        <LiveIndicator state={connection} />
        {!gone && (
          <JobControls
            job={job}
            busy={busy}
            onOp={act}
            onEdit={() => setEditing(true)}
            onDelete={() => setConfirming(true)}
          />
        )}
      </header>
      {gone && (
        <p class="banner" role="alert">
          This job was deleted. <a href="/jobs">Back to all jobs</a>
        </p>
      )}
      <Notices
        notice={notice}
        problem={problem}
        onDismiss={() => setProblem("")}
      />
      <div class="cards">
        <section class="card" aria-labelledby="def-title">
          <h2 id="def-title">Definition</h2>
          <JobDefinition job={job} upstream={props.upstream} />
        </section>
        <div class="stack">
          <section class="card" aria-labelledby="next-title">
            <h2 id="next-title">
              {job.type === "periodic" ? "Next 5 run times" : "Next run"}
            </h2>
            <NextTimes job={job} next={next} />
          </section>
          <section class="card stats-card" aria-labelledby="stats-title">
            <h2 id="stats-title">Statistics</h2>
            <StatsList stats={stats} />
          </section>
        </div>
      </div>
      <section class="card chart-card" aria-label="Duration over time">
        <DurationChart
          points={chart}
          title={`Duration over time (last ${
            plural(chart.length, "finished run")
          })`}
        />
      </section>
      <section class="runs-section" aria-labelledby="runs-title">
        <div class="section-head">
          <h2 id="runs-title">
            Runs{" "}
            <span class="muted shown">
              ({count(runs.length)} of {count(total)})
            </span>
          </h2>
          <label class="filter">
            <span>Status</span>
            <select
              value={view.status}
              onChange={(e) =>
                show({
                  ...view,
                  status: (e.target as HTMLSelectElement).value as RunStatus,
                  offset: 0,
                }, true)}
            >
              {STATUSES.map((s) => (
                <option key={s} value={s}>{s || "All"}</option>
              ))}
            </select>
          </label>
          <span class="spacer" />
          <Pager
            label="Pages of runs"
            offset={view.offset}
            limit={view.limit}
            total={total}
            shown={runs.length}
            href={(offset) => `${jobPath(id)}${search({ ...view, offset })}`}
            onPage={(offset) => show({ ...view, offset }, true)}
          />
        </div>
        <div class="runs-layout">
          <div class="table-wrap">
            {runs.length
              ? (
                <RunsTable
                  runs={runs}
                  caption={`Runs of ${job.name}`}
                  selected={run?.id ?? view.run}
                  onSelect={select}
                  href={(r) =>
                    `${jobPath(id)}${search({ ...view, run: r.id })}`}
                  onCancel={setStopping}
                  cancelling={cancelling}
                />
              )
              : (
                <p class="empty">
                  {view.status ? `No ${view.status} runs.` : "No runs yet."}
                </p>
              )}
          </div>
          {run
            ? (
              <RunDetail
                run={run}
                loading={runLoading}
                onClose={() => select(null)}
              />
            )
            : (
              <p class="muted run-hint">
                Select a run to see its detail and output.
              </p>
            )}
        </div>
      </section>
      <JobFormDialog
        open={editing}
        job={job}
        allowShell={props.allowShell}
        onSaved={(saved) => {
          setEditing(false);
          version.current++;
          takeJob(saved);
          setNotice(`${saved.name}: saved`);
        }}
        onClose={() => setEditing(false)}
      />
      <ConfirmDialog
        open={confirming}
        title={`Delete ${job.name}?`}
        confirmLabel="Delete job"
        onConfirm={remove}
        onClose={() => setConfirming(false)}
      >
        <p>
          The job <code>{job.id}</code> and its {count(job.runCount)}{" "}
          runs will be deleted. This cannot be undone.
        </p>
      </ConfirmDialog>
      <CancelRunDialog
        run={stopping}
        onConfirm={cancelRun}
        onClose={() => setStopping(null)}
      />
    </div>
  );
}
