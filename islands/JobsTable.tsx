import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Notices } from "@/components/Notices.tsx";
import type {
  BulkAction,
  BulkAnswer,
  JobView,
  RunView,
} from "@/lib/jobpro/runtime.ts";
import { count, plural } from "@/lib/format.ts";
import { callApi, jobPath, queryString } from "@/lib/client/api.ts";
import { ConfirmDialog } from "@/components/ConfirmDialog.tsx";
import { BulkBar } from "@/components/BulkBar.tsx";
import {
  bulkBody,
  NO_SELECTION,
  outcome,
  pageToggled,
  pruned,
  type Selection,
  toggled,
} from "@/lib/dashboard/bulk.ts";
import { CancelRunDialog } from "@/components/CancelRunDialog.tsx";
import {
  mergePoints,
  type RunPoint,
  toPoint,
} from "@/lib/dashboard/run_points.ts";
import {
  applyToRows,
  readBatch,
  type WireEvent,
  withRun,
} from "@/lib/dashboard/job_events.ts";
import { useJobEvents } from "@/components/event_stream.ts";
import { DONE, type JobOp } from "@/components/JobControls.tsx";
import {
  JobFilters,
  type ListQuery,
  listSearch,
  parseListQuery,
} from "@/components/JobFilters.tsx";
import { JobFormDialog } from "@/components/JobForm.tsx";
import {
  COLUMNS,
  type History,
  JobRow,
  type RowActions,
} from "@/components/JobRow.tsx";
import { LiveIndicator } from "@/components/LiveIndicator.tsx";
import { Pager } from "@/components/Pager.tsx";

interface Props {
  jobs: JobView[];
  total: number;
  query: ListQuery;
  /** The last 20 finished runs of each job shown, oldest first. */
  recent: Record<string, RunPoint[]>;
  allowShell: boolean;
  /** The server's time when it rendered the page. */
  since: string;
}

interface View {
  jobs: JobView[];
  total: number;
  query: ListQuery;
}

type Busy = JobOp | "delete";

/** Runs kept per row for its sparkline. */
const RECENT = 20;
/** Runs per "load more". */
const PAGE = 10;

function without<T>(record: Record<string, T>, id: string) {
  const next = { ...record };
  delete next[id];
  return next;
}

const finished = (r: RunView) =>
  r.status !== "running" && r.status !== "queued";

/**
 * The dashboard: filters, the jobs table and its pager, the create/edit
 * dialog. Rendered on the server with the first page, then kept current from
 * `/jobs/events`: bursts are gathered and applied at most ten times a second,
 * only to the rows in view; new matching jobs elsewhere are counted.
 */
export default function JobsTable(props: Props) {
  const [view, setView] = useState<View>({
    jobs: props.jobs,
    total: props.total,
    query: props.query,
  });
  // What the controls ask for; `view.query` is what the rows show.
  const [wanted, setWanted] = useState(props.query);
  const [search, setSearch] = useState(props.query.q);
  const [recent, setRecent] = useState(props.recent);
  const [open, setOpen] = useState<Record<string, History>>({});
  const [flash, setFlash] = useState<Record<string, number>>({});
  const [fresh, setFresh] = useState<string[]>([]);
  const [busy, setBusy] = useState<Record<string, Busy>>({});
  const [notice, setNotice] = useState<string>("");
  const [problem, setProblem] = useState<string>("");
  const [form, setForm] = useState<{ job: JobView | null } | null>(null);
  const [doomed, setDoomed] = useState<JobView | null>(null);
  /** The run the cancel dialog asks about. */
  const [stopping, setStopping] = useState<
    { job: JobView; run: RunView } | null
  >(null);
  const [loading, setLoading] = useState(false);
  /** Rows checked for a bulk action, or every job the filters select. */
  const [selection, setSelection] = useState<Selection>(NO_SELECTION);
  const [bulkBusy, setBulkBusy] = useState<BulkAction | null>(null);

  // The newest view and request, also between a change and its render.
  const current = useRef(view);
  const asked = useRef(wanted);
  const openNow = useRef(open);
  openNow.current = open;
  const recentNow = useRef(recent);
  recentNow.current = recent;
  const skew = useRef(0);
  const since = useRef(Date.parse(props.since));
  const notNew = useRef(new Set<string>());
  const versions = useRef(new Map<string, number>());
  const listAbort = useRef<AbortController | null>(null);

  const update = (fn: (v: View) => View) => {
    current.current = fn(current.current);
    setView(current.current);
  };
  const highlight = (ids: Iterable<string>) =>
    setFlash((f) => {
      const next = { ...f };
      for (const id of ids) next[id] = (next[id] ?? 0) + 1;
      return next;
    });

  async function loadRecent(jobs: JobView[], signal: AbortSignal) {
    const queue = jobs.filter((j) => j.runCount > 0);
    const found: Record<string, RunPoint[]> = {};
    const worker = async () => {
      for (let job = queue.shift(); job; job = queue.shift()) {
        const r = await callApi<{ runs: RunView[] }>(
          "GET",
          jobPath(job.id, "runs") + queryString({ limit: RECENT }),
          { signal },
        );
        if (r.ok) {
          found[job.id] = r.data.runs.filter(finished).reverse().map(toPoint);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: 6 }, worker));
    } catch {
      return; // superseded by a newer view
    }
    setRecent((old) => {
      const next = { ...old };
      for (const [id, points] of Object.entries(found)) {
        next[id] = mergePoints(points, old[id] ?? [], RECENT);
      }
      return next;
    });
  }

  /** Shows `query`: updates the URL, fetches the page and its sparklines. */
  async function load(
    query: ListQuery,
    how: "push" | "replace" | "none",
    refresh = false,
  ) {
    const url = `/jobs${listSearch(query)}`;
    if (how === "push") history.pushState(null, "", url);
    if (how === "replace") history.replaceState(null, "", url);
    asked.current = query;
    setWanted(query);
    listAbort.current?.abort();
    const abort = listAbort.current = new AbortController();
    setLoading(true);
    try {
      const r = await callApi<{ jobs: JobView[]; total: number }>(
        "GET",
        `/jobs${queryString({ ...query })}`,
        { signal: abort.signal },
      );
      if (!r.ok) {
        setProblem(r.error.message);
        return;
      }
      const { jobs, total } = r.data;
      since.current = Date.now() + skew.current;
      notNew.current.clear();
      const same = listSearch(query) === listSearch(current.current.query);
      update(() => ({ jobs, total, query }));
      setFresh([]);
      const shown = new Set(jobs.map((j) => j.id));
      // Another view starts with nothing selected; the same one keeps what it still shows.
      setSelection((s) =>
        same ? pruned(s, (id) => shown.has(id)) : NO_SELECTION
      );
      setOpen((o) =>
        Object.fromEntries(Object.entries(o).filter(([id]) => shown.has(id)))
      );
      const have = refresh ? {} : recentNow.current;
      const next: Record<string, RunPoint[]> = {};
      for (const job of jobs) {
        if (have[job.id]) next[job.id] = have[job.id];
        else if (job.runCount === 0) next[job.id] = [];
      }
      setRecent(next);
      await loadRecent(jobs.filter((j) => !next[j.id]), abort.signal);
    } catch {
      // aborted: a newer view is loading
    } finally {
      if (listAbort.current === abort) setLoading(false);
    }
  }

  const change = (partial: Partial<ListQuery>) =>
    load({ ...asked.current, ...partial }, "push");

  async function loadHistory(id: string, offset: number) {
    setOpen((o) => o[id] ? { ...o, [id]: { ...o[id], loading: true } } : o);
    const r = await callApi<{ runs: RunView[]; total: number }>(
      "GET",
      jobPath(id, "runs") + queryString({ offset, limit: PAGE }),
    );
    setOpen((o) => {
      const h = o[id];
      if (!h) return o;
      if (!r.ok) {
        return { ...o, [id]: { ...h, loading: false, error: r.error.message } };
      }
      const have = new Set(h.runs.map((run) => run.id));
      const runs = offset === 0
        ? r.data.runs
        : [...h.runs, ...r.data.runs.filter((run) => !have.has(run.id))];
      return { ...o, [id]: { runs, total: r.data.total, loading: false } };
    });
  }

  function toggle(job: JobView) {
    if (openNow.current[job.id]) {
      setOpen((o) => without(o, job.id));
      return;
    }
    setOpen((o) => ({
      ...o,
      [job.id]: { runs: [], total: job.runCount, loading: true },
    }));
    loadHistory(job.id, 0);
  }

  function apply(events: WireEvent[]) {
    const shown = new Set(current.current.jobs.map((j) => j.id));
    const batch = readBatch(events, {
      job: (id) => shown.has(id) || !notNew.current.has(id),
      run: (id) => shown.has(id),
    });
    const change = applyToRows(current.current, batch, since.current);
    for (const id of change.ignored) notNew.current.add(id);
    for (const id of change.updated) {
      versions.current.set(id, (versions.current.get(id) ?? 0) + 1);
    }
    const { deleted, runs } = batch;
    if (change.rows !== current.current) {
      update(() => change.rows);
      highlight([...change.updated, ...change.appended]);
      if (change.elsewhere.length || deleted.size) {
        setFresh((f) =>
          [...new Set([...f, ...change.elsewhere])].filter((id) =>
            !deleted.has(id)
          )
        );
      }
      if (change.appended.length) {
        setRecent((r) => ({
          ...r,
          ...Object.fromEntries(change.appended.map((id) => [id, []])),
        }));
      }
    }
    if (deleted.size) {
      setOpen((o) =>
        Object.fromEntries(Object.entries(o).filter(([id]) => !deleted.has(id)))
      );
      setSelection((s) => pruned(s, (id) => !deleted.has(id)));
    }
    if (runs.length) showRuns(runs);
  }

  function showRuns(runs: RunView[]) {
    setRecent((old) => {
      const next = { ...old };
      for (const run of runs.filter(finished)) {
        if (next[run.jobId]) {
          next[run.jobId] = mergePoints(
            next[run.jobId],
            [toPoint(run)],
            RECENT,
          );
        }
      }
      return next;
    });
    setOpen((old) => {
      let next = old;
      for (const run of runs) {
        const h = next[run.jobId];
        if (h && !h.loading) {
          next = { ...next, [run.jobId]: withRun(h, run, PAGE) };
        }
      }
      return next;
    });
  }

  const connection = useJobEvents({
    onEvents: apply,
    onReset: () => {
      load(asked.current, "none", true);
      for (const id of Object.keys(openNow.current)) loadHistory(id, 0);
    },
  });

  useEffect(() => {
    skew.current = Date.parse(props.since) - Date.now();
    const onPop = () => {
      const q = parseListQuery(new URLSearchParams(location.search));
      setSearch(q.q);
      load(q, "none");
    };
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);

  useEffect(() => {
    if (search === asked.current.q) return;
    const timer = setTimeout(
      () => load({ ...asked.current, q: search, offset: 0 }, "replace"),
      250,
    );
    return () => clearTimeout(timer);
  }, [search]);

  useEffect(() => {
    if (!notice) return;
    const timer = setTimeout(() => setNotice(""), 6000);
    return () => clearTimeout(timer);
  }, [notice]);

  /** Shows a job the server just returned, unless the stream already had newer news of it. */
  function patch(job: JobView, version: number | undefined) {
    if (versions.current.get(job.id) !== version) return;
    update((v) => ({
      ...v,
      jobs: v.jobs.map((j) => j.id === job.id ? job : j),
    }));
    highlight([job.id]);
  }

  async function act(job: JobView, op: JobOp) {
    setBusy((b) => ({ ...b, [job.id]: op }));
    setProblem("");
    const version = versions.current.get(job.id);
    const r = await callApi<JobView | { job: JobView }>(
      "POST",
      jobPath(job.id, op),
    );
    setBusy((b) => without(b, job.id));
    if (!r.ok) {
      setProblem(`${job.name}: ${r.error.message}`);
      return;
    }
    patch("job" in r.data ? r.data.job : r.data, version);
    setNotice(`${job.name}: ${DONE[op]}`);
  }

  /** Marks (or clears) the run of an expanded row whose cancel is in flight. */
  const markCancelling = (id: string, run: number | null) =>
    setOpen((o) => o[id] ? { ...o, [id]: { ...o[id], cancelling: run } } : o);

  async function cancelRun(job: JobView, run: RunView) {
    markCancelling(job.id, run.id);
    setProblem("");
    const r = await callApi<RunView>(
      "POST",
      jobPath(job.id, "runs", run.id, "cancel"),
    );
    markCancelling(job.id, null);
    if (!r.ok) {
      setProblem(`${job.name}, run #${run.id}: ${r.error.message}`);
      return;
    }
    setNotice(
      r.data.status === "running"
        ? `${job.name}: cancel of run #${run.id} asked; it has not ended yet`
        : `${job.name}: run #${run.id} cancelled`,
    );
  }

  async function remove(job: JobView) {
    setBusy((b) => ({ ...b, [job.id]: "delete" }));
    const r = await callApi<void>("DELETE", jobPath(job.id));
    setBusy((b) => without(b, job.id));
    if (!r.ok && r.error.status !== 404) {
      setProblem(`${job.name}: ${r.error.message}`);
      return;
    }
    update((v) => {
      const jobs = v.jobs.filter((j) => j.id !== job.id);
      return { ...v, jobs, total: v.total - (v.jobs.length - jobs.length) };
    });
    setOpen((o) => without(o, job.id));
    setSelection((s) => pruned(s, (id) => id !== job.id));
    setNotice(`${job.name}: deleted`);
  }

  /** Does `action` to the selected jobs (one request), says how it went, shows the view anew. */
  async function bulk(action: BulkAction) {
    setBulkBusy(action);
    setProblem("");
    const r = await callApi<BulkAnswer>("POST", "/jobs/bulk", {
      body: bulkBody(action, selection, current.current.query),
    });
    setBulkBusy(null);
    if (!r.ok) {
      setProblem(r.error.message);
      return;
    }
    const names = new Map(current.current.jobs.map((j) => [j.id, j.name]));
    const told = outcome(r.data, (id) => names.get(id) ?? id);
    setNotice(told.notice);
    setProblem(told.problem);
    setSelection(NO_SELECTION);
    load(asked.current, "none");
  }

  /** Adds a tag to the view's filters (a tag clicked on a row). */
  function filterTag(tag: string) {
    const tags = asked.current.tag;
    if (!tags.includes(tag)) change({ tag: [...tags, tag], offset: 0 });
  }

  function saved(job: JobView, created: boolean) {
    setForm(null);
    setNotice(`${job.name}: ${created ? "created" : "saved"}`);
    if (created) load(asked.current, "none");
    else patch(job, versions.current.get(job.id));
  }

  // The rows' handlers, stable across renders, calling this render's functions.
  const latest = useRef({ toggle, act, loadHistory, filterTag });
  latest.current = { toggle, act, loadHistory, filterTag };
  const actions = useMemo<RowActions>(() => ({
    toggle: (job) => latest.current.toggle(job),
    op: (job, op) => latest.current.act(job, op),
    edit: (job) => setForm({ job }),
    remove: (job) => setDoomed(job),
    select: (job, on) =>
      setSelection((s) =>
        toggled(s, job.id, on, current.current.jobs.map((j) => j.id))
      ),
    tag: (tag) => latest.current.filterTag(tag),
    cancelRun: (job, run) => setStopping({ job, run }),
    more: (job) =>
      latest.current.loadHistory(
        job.id,
        openNow.current[job.id]?.runs.length ?? 0,
      ),
  }), []);

  const { jobs, total, query } = view;
  const filtered = query.status || query.type || query.q || query.tag.length;
  const checked = new Set(selection.ids);
  const pageChecked = jobs.filter((j) => checked.has(j.id)).length;
  const sortHeader = (label: string, sort: ListQuery["sort"]) => {
    const active = wanted.sort === sort;
    const order = active && wanted.order === "asc" ? "desc" : "asc";
    return (
      <th
        scope="col"
        aria-sort={active
          ? wanted.order === "asc" ? "ascending" : "descending"
          : undefined}
      >
        <a
          class="sort"
          href={`/jobs${listSearch({ ...wanted, sort, order, offset: 0 })}`}
          onClick={(e) => {
            e.preventDefault();
            change({ sort, order, offset: 0 });
          }}
        >
          {label}
          <span aria-hidden="true">
            {active ? wanted.order === "asc" ? " ↑" : " ↓" : ""}
          </span>
        </a>
      </th>
    );
  };

  return (
    <section class="dashboard" aria-labelledby="jobs-heading">
      <div class="page-head">
        <h1 id="jobs-heading">Jobs</h1>
        <span class="muted total">{plural(total, "job")}</span>
        <LiveIndicator state={connection} />
        <span class="spacer" />
        <button
          type="button"
          class="btn btn-primary new-job"
          onClick={() => setForm({ job: null })}
        >
          + New job
        </button>
      </div>
      <JobFilters
        query={wanted}
        search={search}
        onSearch={setSearch}
        onChange={change}
      />
      <Notices
        notice={notice}
        problem={problem}
        onDismiss={() => setProblem("")}
      >
        {fresh.length > 0 && (
          <p class="fresh">
            {plural(fresh.length, "new job")} outside this page.{" "}
            <button
              type="button"
              class="btn"
              onClick={() => load(asked.current, "none")}
            >
              Refresh
            </button>
          </p>
        )}
      </Notices>
      <BulkBar
        selection={selection}
        total={total}
        pageSize={jobs.length}
        busy={bulkBusy}
        onSelectMatching={() => setSelection({ ids: [], matching: true })}
        onClear={() => setSelection(NO_SELECTION)}
        onAct={bulk}
      />
      <div class="table-wrap" aria-busy={loading ? "true" : undefined}>
        <table class="jobs-table">
          <caption class="sr-only">
            Jobs {jobs.length
              ? `${count(query.offset + 1)} to ${
                count(query.offset + jobs.length)
              }`
              : ""} of {count(total)}
          </caption>
          <thead>
            <tr>
              <th scope="col" class="select">
                <input
                  type="checkbox"
                  aria-label="Select every job on this page"
                  disabled={jobs.length === 0}
                  checked={jobs.length > 0 &&
                    (selection.matching || pageChecked === jobs.length)}
                  indeterminate={!selection.matching && pageChecked > 0 &&
                    pageChecked < jobs.length}
                  onChange={(e) =>
                    setSelection((s) =>
                      pageToggled(
                        s,
                        jobs.map((j) => j.id),
                        (e.target as HTMLInputElement).checked,
                      )
                    )}
                />
              </th>
              <th scope="col" class="toggle">
                <span class="sr-only">Runs</span>
              </th>
              {sortHeader("Name", "name")}
              <th scope="col">Schedule</th>
              <th scope="col">Status</th>
              {sortHeader("Next run", "nextRunAt")}
              {sortHeader("Last run", "lastRunAt")}
              <th scope="col">Success</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((job) => (
              <JobRow
                key={job.id}
                job={job}
                points={recent[job.id]}
                history={open[job.id]}
                flash={flash[job.id]}
                busy={busy[job.id] ?? null}
                selected={selection.matching || checked.has(job.id)}
                actions={actions}
              />
            ))}
            {jobs.length === 0 && (
              <tr>
                <td colSpan={COLUMNS} class="empty">
                  {filtered
                    ? (
                      <>
                        No jobs match this view.{" "}
                        <a
                          href="/jobs"
                          onClick={(e) => {
                            e.preventDefault();
                            setSearch("");
                            change({
                              status: "",
                              type: "",
                              q: "",
                              tag: [],
                              offset: 0,
                            });
                          }}
                        >
                          Clear the filters
                        </a>
                      </>
                    )
                    : query.offset > 0 && total > 0
                    ? "No jobs on this page."
                    : "No jobs yet. Create one with “New job”, or POST /jobs."}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <Pager
        label="Pages of jobs"
        offset={query.offset}
        limit={query.limit}
        total={total}
        shown={jobs.length}
        href={(offset) => `/jobs${listSearch({ ...query, offset })}`}
        onPage={(offset) => change({ offset })}
      />
      <JobFormDialog
        open={form !== null}
        job={form?.job ?? null}
        allowShell={props.allowShell}
        onSaved={saved}
        onClose={() => setForm(null)}
      />
      <ConfirmDialog
        open={doomed !== null}
        title={`Delete ${doomed?.name ?? ""}?`}
        confirmLabel="Delete job"
        onConfirm={() => doomed && remove(doomed)}
        onClose={() => setDoomed(null)}
      >
        <p>
          The job <code>{doomed?.id}</code> and its{" "}
          {plural(doomed?.runCount ?? 0, "run")}{" "}
          will be deleted. This cannot be undone.
        </p>
      </ConfirmDialog>
      <CancelRunDialog
        run={stopping?.run ?? null}
        onConfirm={(run) => stopping && cancelRun(stopping.job, run)}
        onClose={() => setStopping(null)}
      />
    </section>
  );
}
