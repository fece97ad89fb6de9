/**
 * The `jobs` commands: each one a name, its usage, its flags, and a `run`
 * that talks to the API through the {@link Ctx} and returns an exit code.
 * Failures are thrown as CliError; `jobs.ts` prints them.
 *
 * @example
 * ```ts
 * const cmd = COMMANDS.find((c) => c.name === "show")!;
 * const code = await cmd.run(ctx, parse(["ping"], cmd.options));
 * ```
 * @module
 */
import {
  type BulkAnswer,
  canTransition,
  type JobStats,
  type JobView,
  type Preview,
  type RunView,
} from "@/lib/jobpro/runtime.ts";
import {
  actionFromFlags,
  type ActionInput,
  dropUndefined,
  durationFlag,
  fieldsFromFlags,
  hasJobFlags,
  int,
  JOB_OPTIONS,
  jobFromFlags,
  type OptionSpec,
  type Parsed,
  str,
  tagsFlag,
} from "./args.ts";
import type { Client } from "./client.ts";
import { jobPath, queryString } from "@/lib/client/api.ts";
import { CliError, EXIT, exitCodeForStatus, usage } from "./errors.ts";
import {
  eventJobId,
  eventLine,
  jobDetail,
  jobLine,
  jobsTable,
  jobsWideTable,
  parseData,
  previewDetail,
  runDetail,
  runLine,
  runsTable,
  statsDetail,
} from "./render.ts";
import { block, table } from "./table.ts";
import { followEvents } from "./sse.ts";
import {
  addFromFile,
  CONFIG_COMMANDS,
  readJsonFile,
} from "./config_commands.ts";
import { completionCommand } from "./completion.ts";
import { OUTPUT_HELP, OUTPUT_OPTION, outputFormat, printAs } from "./output.ts";
import { versionCommand } from "./version.ts";
import { logsCommand } from "./logs.ts";
import { pingCommand } from "./ping.ts";
import { concurrencyCommand } from "./concurrency.ts";

/** What a command gets to do its work: the API, the output, the clock. */
export interface Ctx {
  client: Client;
  /** `--json`: machine-readable output on stdout. */
  json: boolean;
  /** Writes a line (or lines) to stdout. */
  out(text: string): void;
  /** Writes a line to stderr. */
  err(text: string): void;
  /** Reports a failure that does not end the command (one job of `add --file`). */
  report(error: CliError, prefix?: string): void;
  /** Reads a file, or stdin for "-". */
  readText(path: string): Promise<string>;
  now(): number;
  /** Aborted to stop `watch` (tests; Ctrl-C simply ends the process). */
  signal?: AbortSignal;
}

/** One command. */
export interface Command {
  name: string;
  /** What follows `jobs <name>` in the usage line. */
  args: string;
  summary: string;
  /** Flag descriptions, one per line, for `--help`. */
  flags: string[];
  /** Command lines that show it at work, for `--help` (every command has one). */
  examples?: string[];
  options: Record<string, OptionSpec>;
  /** How many positional arguments it takes. */
  positionals: [min: number, max: number];
  run(ctx: Ctx, p: Parsed): Promise<number>;
}

/** Flags every command takes. */
export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  json: { type: "boolean" },
  url: { type: "string" },
  help: { type: "boolean", short: "h" },
};

const JOB_FLAG_HELP = [
  "--name TEXT              the job's name",
  "--description TEXT       what the job is for (at most 2,000 characters), shown on its page",
  '--schedule EXPR          cron (5 or 6 fields), a time ("in 30s", "2024-01-15 14:30:00 PST"), or "" for manual',
  "--timezone ZONE          IANA zone for the schedule, e.g. Europe/Berlin",
  "--http URL               action: call URL  [--method GET|POST|...] [--header 'Name: value']... [--body TEXT]",
  "--function NAME          action: run a registered function  [--params JSON-object]",
  `--shell '["prog","arg"]'  action: run a program, argv as a JSON array (server needs JOBPRO_ALLOW_SHELL=1)`,
  "--heartbeat GRACE        action: run nothing, expect a ping (jobs ping, or curl) at each tick of the cron",
  "                         schedule; none within GRACE (ms or 30s, 5m, 1h) of a tick is a failed run",
  "--timeout DURATION       a run's time limit: ms or 30s, 5m, 1h",
  "--retries N              retries after a failed run",
  "--retry-delay DURATION   wait between retries",
  "--overlap MODE           skip, allow or replace: when a run is due while one is going",
  "--catch-up MODE          skip or once: ticks missed while the server was down",
  "--tag TAG                a tag (repeat it, or a comma list: --tag billing,nightly); lowercase",
  "                         letters, digits, _ . -; on edit the tags given replace the job's, --tag '' clears them",
  "--notify EVENTS=TARGET   an alert rule (repeat it): EVENTS a comma list of failure, recovery, success, missed;",
  "                         TARGET a webhook URL or an email address, e.g. --notify failure,recovery=https://hooks.slack.com/...;",
  "                         on edit the rules given replace the job's, --notify '' clears them",
  "--on-success IDS         jobs to run when a run of this one completes (a comma list, or repeat it): a chain;",
  "                         on edit the ids given replace the job's, --on-success '' clears them",
  "--on-failure IDS         jobs to run when a run of this one fails on its last attempt (as --on-success)",
  "--concurrency-key KEY    runs of all jobs with KEY share its limit (jobs concurrency KEY=N): over it, a run",
  "                         waits queued, in order; on edit --concurrency-key '' clears it",
];

/** Prints `value` as JSON with --json, else `text()`. */
function show(ctx: Ctx, value: unknown, text: () => string): number {
  ctx.out(ctx.json ? JSON.stringify(value, null, 2) : text());
  return EXIT.ok;
}

const get = <T>(ctx: Ctx, path: string) => ctx.client.request<T>("GET", path);

const list: Command = {
  name: "list",
  args:
    "[--status S] [--type periodic|onetime] [--q TEXT] [--tag TAG]... [--sort F] [--order asc|desc] [--limit N] [--offset N]",
  summary: "list jobs as a table",
  flags: [
    "--status S     created, scheduled, running, paused, stopped, complete, failed or cancelled",
    "--type T       periodic or onetime (manual jobs are onetime with no schedule)",
    "--q TEXT       search in id and name",
    "--tag TAG      only jobs with this tag; repeated (or a comma list), jobs with all of them",
    "--sort F       name, nextRunAt, lastRunAt or createdAt;  --order asc|desc",
    "--limit N      at most N jobs (server default 100, max 1000);  --offset N  skip N",
    OUTPUT_HELP,
  ],
  examples: [
    "deno task jobs list --status failed --tag billing",
    "deno task jobs list -o wide --sort nextRunAt",
    "deno task jobs list -o yaml --q report",
  ],
  options: {
    ...OUTPUT_OPTION,
    status: { type: "string" },
    type: { type: "string" },
    q: { type: "string" },
    tag: { type: "string", multiple: true },
    sort: { type: "string" },
    order: { type: "string" },
    limit: { type: "string" },
    offset: { type: "string" },
  },
  positionals: [0, 0],
  async run(ctx, { values: v }) {
    const format = outputFormat(ctx, v);
    const q = queryString({
      status: str(v, "status"),
      type: str(v, "type"),
      q: str(v, "q"),
      tag: tagsFlag(v),
      sort: str(v, "sort"),
      order: str(v, "order"),
      limit: int(v, "limit"),
      offset: int(v, "offset"),
    });
    const page = await get<
      { jobs: JobView[]; total: number; offset: number; limit: number }
    >(ctx, `/jobs${q}`);
    return printAs(ctx, format, page, {
      text: () => listText(page, ctx.now()),
      wide: () =>
        page.jobs.length
          ? jobsWideTable(page.jobs, ctx.now()) +
            footer(page, page.jobs.length, "jobs")
          : listText(page, ctx.now()),
    });
  },
};

function listText(
  page: { jobs: JobView[]; total: number; offset: number },
  now: number,
): string {
  if (page.jobs.length) {
    return jobsTable(page.jobs, now) + footer(page, page.jobs.length, "jobs");
  }
  return page.total ? `no jobs at offset ${page.offset}` : "no jobs";
}

function footer(
  page: { total: number; offset: number },
  shown: number,
  noun: string,
): string {
  if (page.offset === 0 && shown === page.total) return "";
  return `\n(${page.offset + 1}-${
    page.offset + shown
  } of ${page.total} ${noun})`;
}

const showCmd: Command = {
  name: "show",
  args: "ID [-o json|yaml|wide]",
  summary: "show one job",
  flags: [OUTPUT_HELP],
  examples: [
    "deno task jobs show nightly-report",
    "deno task jobs show nightly-report -o yaml",
  ],
  options: { ...OUTPUT_OPTION },
  positionals: [1, 1],
  async run(ctx, { values: v, positionals: [id] }) {
    const format = outputFormat(ctx, v);
    const job = await get<JobView>(ctx, jobPath(id));
    return printAs(ctx, format, job, {
      text: () => jobDetail(job, ctx.now()),
      wide: () => jobsWideTable([job], ctx.now()),
    });
  },
};

const add: Command = {
  name: "add",
  args:
    "--name TEXT (--http URL | --function NAME | --shell JSON) [flags]  |  --file FILE",
  summary: "create a job from flags, or jobs from a JSON file",
  flags: [
    "--id ID                  the job's id (default: made from the name)",
    ...JOB_FLAG_HELP,
    "--no-start               create without starting (autoStart false)",
    '--file FILE              a job, an array of jobs, { "jobs": [...] } (export or list --json output)',
    '                         or the Go service\'s job_configs.json ("-" reads stdin); all or nothing:',
    "                         a bad or taken job creates none (exit 4, naming it); jobs apply updates",
  ],
  examples: [
    'deno task jobs add --name Ping --schedule "*/30 * * * * *" --http http://localhost:8080/health',
    'deno task jobs add --name "Nightly report" --description "Billing report for finance" --schedule "0 30 2 * * *" --timezone Europe/Berlin --function report --retries 3',
    "deno task jobs add --file jobs.json",
  ],
  options: { ...JOB_OPTIONS, id: { type: "string" }, file: { type: "string" } },
  positionals: [0, 0],
  async run(ctx, { values: v }) {
    const file = str(v, "file");
    if (file === undefined) {
      const job = await ctx.client.request<JobView>(
        "POST",
        "/jobs",
        jobFromFlags(v),
      );
      return show(ctx, job, () => `created ${jobLine(job, ctx.now())}`);
    }
    if (hasJobFlags(v) || v.id !== undefined) {
      throw usage("--file and job flags: give one or the other");
    }
    return await addFromFile(ctx, file);
  },
};

const edit: Command = {
  name: "edit",
  args: "ID [flags]  |  ID --file FILE",
  summary: "change a job's definition (PATCH); the next run is re-planned",
  flags: [
    ...JOB_FLAG_HELP,
    "--start                  set autoStart and start the job now (resume it when paused)",
    "--no-start               set autoStart false (the job keeps its status)",
    '                         --timezone "", --description "" and --timeout none clear those fields;',
    "                         --method/--header/--body/--params alone change the current action",
    '--file FILE              a JSON object with the fields to change ("-" reads stdin)',
  ],
  examples: [
    'deno task jobs edit nightly-report --schedule "0 0 3 * * *" --retries 5',
    "deno task jobs edit nightly-report --start",
    "echo '{\"retries\": 2}' | deno task jobs edit nightly-report --file -",
  ],
  options: {
    ...JOB_OPTIONS,
    start: { type: "boolean" },
    file: { type: "string" },
  },
  positionals: [1, 1],
  async run(ctx, { values: v, positionals: [id] }) {
    const file = str(v, "file");
    if (file !== undefined && hasJobFlags(v)) {
      throw usage("--file and job flags: give one or the other");
    }
    const patch = file === undefined
      ? await patchFromFlags(ctx, id, v)
      : await readJsonFile(ctx, file);
    let job = await ctx.client.request<JobView>("PATCH", jobPath(id), patch);
    if (v.start) job = await startEdited(ctx, job);
    return show(ctx, job, () => `updated ${jobLine(job, ctx.now())}`);
  },
};

/** `edit --start`: the job goes (resumed when paused; left be when going). */
async function startEdited(ctx: Ctx, job: JobView): Promise<JobView> {
  const op = canTransition(job, "resume")
    ? "resume"
    : canTransition(job, "start")
    ? "start"
    : null;
  if (op === null) return job;
  return await ctx.client.request<JobView>("POST", jobPath(job.id, op));
}

async function patchFromFlags(
  ctx: Ctx,
  id: string,
  v: Parsed["values"],
): Promise<Record<string, unknown>> {
  if (!hasJobFlags(v)) {
    throw usage(
      "nothing to change; give flags or --file",
    );
  }
  const needsBase =
    ["method", "header", "body", "params"].some((k) => v[k] !== undefined) &&
    !["http", "function", "shell"].some((k) => v[k] !== undefined);
  const base = needsBase
    ? (await get<JobView>(ctx, jobPath(id))).action as ActionInput
    : undefined;
  return dropUndefined({
    ...fieldsFromFlags(v, true),
    action: actionFromFlags(v, base),
  });
}

/** start, stop, pause, resume: POST /jobs/:id/<verb> → the job. */
function transition(name: string, summary: string): Command {
  return {
    name,
    args: "ID",
    summary,
    flags: [],
    examples: [`deno task jobs ${name} nightly-report`],
    options: {},
    positionals: [1, 1],
    async run(ctx, { positionals: [id] }) {
      const job = await ctx.client.request<JobView>("POST", jobPath(id, name));
      return show(ctx, job, () => jobLine(job, ctx.now()));
    },
  };
}

const run: Command = {
  name: "run",
  args: "ID [--wait [--wait-timeout DURATION]]",
  summary: "run a job now, outside its schedule",
  flags: [
    "--wait                   wait for the run to end, print its result and output; exit 5 if it",
    "                         failed or was cancelled (retries are separate runs: see jobs runs)",
    "--wait-timeout DURATION  give up waiting after this long (exit 5); default: no limit",
  ],
  examples: [
    "deno task jobs run nightly-report",
    'deno task jobs run ping --wait --wait-timeout 30s && echo "ping ok"',
  ],
  options: { wait: { type: "boolean" }, "wait-timeout": { type: "string" } },
  positionals: [1, 1],
  async run(ctx, { values: v, positionals: [id] }) {
    const limit = durationFlag(v, "wait-timeout");
    if (limit !== undefined && !v.wait) {
      throw usage("--wait-timeout needs --wait");
    }
    const res = await ctx.client.request<JobView & { run: RunView }>(
      "POST",
      jobPath(id, "run"),
    );
    if (!v.wait) {
      return show(ctx, res, () => `started run #${res.run.id} of ${res.id}`);
    }
    const done = await waitForRun(ctx, id, res.run.id, limit);
    show(
      ctx,
      done,
      () =>
        `${res.id} ${runLine(done)}${
          done.output ? `\n${block(done.output).trimEnd()}` : ""
        }`,
    );
    return done.status === "complete" ? EXIT.ok : EXIT.runFailed;
  },
};

/**
 * Polls a run until it is no longer running, backing off from 50 ms to 1 s;
 * past `limitMs` it throws a CliError with exit 5.
 *
 * @example
 * ```ts
 * const run = await waitForRun(ctx, "ping", 12, 30_000);
 * ```
 */
export async function waitForRun(
  ctx: Ctx,
  id: string,
  runId: number,
  limitMs?: number,
): Promise<RunView> {
  const deadline = limitMs === undefined ? Infinity : ctx.now() + limitMs;
  for (let pause = 50;; pause = Math.min(pause * 1.5, 1000)) {
    const r = await get<RunView>(ctx, jobPath(id, "runs", runId));
    if (r.status !== "running") return r;
    if (ctx.now() >= deadline) {
      throw new CliError(
        `run #${runId} of ${id} is still running after ${limitMs} ms`,
        EXIT.runFailed,
        { status: 0, code: "wait_timeout" },
      );
    }
    await new Promise((r) =>
      setTimeout(r, Math.min(pause, deadline - ctx.now()))
    );
  }
}

const runs: Command = {
  name: "runs",
  args: "ID [RUN_ID] [--status S] [--limit N] [--offset N]",
  summary: "list a job's runs, newest first, or show one run with its output",
  flags: [
    "RUN_ID         show that run in full, with its captured output",
    "--status S     queued, running, complete, failed or cancelled (queued: waiting for a",
    "               concurrency slot, see jobs concurrency)",
    "--limit N      at most N runs (server default 10, max 1000);  --offset N  skip N",
  ],
  examples: [
    "deno task jobs runs nightly-report --status failed",
    "deno task jobs runs nightly-report 42",
  ],
  options: {
    status: { type: "string" },
    limit: { type: "string" },
    offset: { type: "string" },
  },
  positionals: [1, 2],
  async run(ctx, { values: v, positionals: [id, runId] }) {
    if (runId !== undefined) return await showRun(ctx, id, runId);
    const q = queryString({
      status: str(v, "status"),
      limit: int(v, "limit"),
      offset: int(v, "offset"),
    });
    const page = await get<
      { runs: RunView[]; total: number; offset: number; limit: number }
    >(ctx, `${jobPath(id, "runs")}${q}`);
    return show(
      ctx,
      page,
      () =>
        page.runs.length === 0
          ? "no runs"
          : `${runsTable(page.runs)}${footer(page, page.runs.length, "runs")}`,
    );
  },
};

async function showRun(ctx: Ctx, id: string, runId: string) {
  if (!/^\d+$/.test(runId)) {
    throw usage(`RUN_ID must be a run number, got "${runId}"`);
  }
  const r = await get<RunView>(ctx, jobPath(id, "runs", runId));
  return show(ctx, r, () => runDetail(r));
}

const cancel: Command = {
  name: "cancel",
  args: "ID RUN_ID",
  summary:
    "cancel a run that is going: its action is aborted, the job keeps its schedule",
  flags: [
    "Waits for the run to end (the server answers within the kill grace and a margin),",
    "then prints it: cancelled, with who asked. Exit 3 if there is no such job or run,",
    "4 if the run has already ended, 5 if it had not ended yet when the server answered.",
  ],
  examples: ["deno task jobs cancel nightly-report 42"],
  options: {},
  positionals: [2, 2],
  async run(ctx, { positionals: [id, runId] }) {
    if (!/^\d+$/.test(runId)) {
      throw usage(`RUN_ID must be a run number, got "${runId}"`);
    }
    const r = await ctx.client.request<RunView>(
      "POST",
      jobPath(id, "runs", runId, "cancel"),
    );
    if (r.status === "running") {
      // 202: the cancel is committed, but the run's node has not ended it yet.
      if (ctx.json) ctx.out(JSON.stringify(r, null, 2));
      throw new CliError(
        `run #${r.id} of ${id} is still running: the cancel is recorded, its node has not ended it yet`,
        EXIT.runFailed,
        { status: 202, code: "still_running" },
      );
    }
    return show(ctx, r, () => `${id} ${runLine(r)}`);
  },
};

const del: Command = {
  name: "delete",
  args: "ID",
  summary: "delete a job and its runs",
  flags: [],
  examples: ["deno task jobs delete nightly-report"],
  options: {},
  positionals: [1, 1],
  async run(ctx, { positionals: [id] }) {
    await ctx.client.request("DELETE", jobPath(id));
    return show(ctx, { id, deleted: true }, () => `deleted ${id}`);
  },
};

const BULK_ACTIONS = ["pause", "resume", "run", "delete"];

/** The exit code of a bulk job's failure, as if it had been asked alone. */
const BULK_EXIT: Record<string, number> = {
  not_found: EXIT.notFound,
  conflict: EXIT.rejected,
  invalid: EXIT.rejected,
};

const bulk: Command = {
  name: "bulk",
  args:
    "ACTION (ID... | [--tag TAG]... [--status S] [--type T] [--q TEXT] [--all])",
  summary:
    "pause, resume, run now or delete many jobs: by ids, or those the list's filters select",
  flags: [
    "ACTION         pause, resume, run (run now) or delete",
    "ID...          the jobs, by id",
    "--tag TAG      jobs with this tag (repeat it, or a comma list: jobs with all of them)",
    "--status S, --type T, --q TEXT   as for jobs list",
    "--all          every job (needed when no filter is given)",
    "Each job is done as its own command would; one line per job says what happened.",
    "At most 1,000 jobs per call. Exit 0 when every job succeeded, else the first failure's",
    "code (3 not found, 4 refused, e.g. a status that does not allow it).",
  ],
  examples: [
    "deno task jobs bulk pause --tag billing",
    "deno task jobs bulk run ping nightly-report",
  ],
  options: {
    tag: { type: "string", multiple: true },
    status: { type: "string" },
    type: { type: "string" },
    q: { type: "string" },
    all: { type: "boolean" },
  },
  positionals: [1, Infinity],
  async run(ctx, { values: v, positionals: [action, ...ids] }) {
    if (!BULK_ACTIONS.includes(action)) {
      throw usage(
        `unknown action "${action}": give ${BULK_ACTIONS.join(", ")}`,
      );
    }
    const filter = dropUndefined({
      tag: tagsFlag(v),
      status: str(v, "status"),
      type: str(v, "type"),
      q: str(v, "q"),
    });
    const filtered = Object.keys(filter).length > 0 || v.all === true;
    if (ids.length && filtered) {
      throw usage(
        "IDs and filter flags (--tag, --status, --type, --q, --all): give one or the other",
      );
    }
    if (!ids.length && !filtered) {
      throw usage(
        "which jobs? give IDs, filter flags (--tag, --status, --type, --q), or --all",
      );
    }
    const body = ids.length
      ? { action, ids }
      : { action, filter, ...(v.all ? { all: true } : {}) };
    const answer = await ctx.client.request<BulkAnswer>(
      "POST",
      "/jobs/bulk",
      body,
    );
    show(ctx, answer, () => bulkText(answer));
    const failed = answer.results.find((r) => !r.ok);
    if (!failed || failed.ok) return EXIT.ok;
    return BULK_EXIT[failed.code] ?? exitCodeForStatus(500);
  },
};

function bulkText(a: BulkAnswer): string {
  const head = `${a.action}: ${a.succeeded} of ${a.matched} ${
    a.matched === 1 ? "job" : "jobs"
  } done${a.failed ? `, ${a.failed} failed` : ""}`;
  if (!a.results.length) return `${a.action}: no jobs match`;
  const rows = table(a.results, [
    { header: "ID", value: (r) => r.id, max: 40 },
    { header: "RESULT", value: (r) => r.ok ? "ok" : r.code },
    {
      header: "DETAIL",
      value: (r) =>
        r.ok
          ? `${r.status}${r.runId === undefined ? "" : ` (run #${r.runId})`}`
          : r.error,
      max: 100,
    },
  ]);
  return `${rows}
${head}`;
}

const stats: Command = {
  name: "stats",
  args: "ID",
  summary: "a job's run statistics",
  flags: [],
  examples: ["deno task jobs stats nightly-report"],
  options: {},
  positionals: [1, 1],
  async run(ctx, { positionals: [id] }) {
    const s = await get<JobStats>(ctx, jobPath(id, "stats"));
    return show(ctx, s, () => statsDetail(s));
  },
};

const reschedule: Command = {
  name: "reschedule",
  args: "ID WHEN",
  summary:
    'a new time for a one-time job that has not run ("in 10m", "2024-01-15 14:30:00 PST")',
  flags: [],
  examples: ['deno task jobs reschedule report-once "in 10m"'],
  options: {},
  positionals: [2, 2],
  async run(ctx, { positionals: [id, schedule] }) {
    const job = await ctx.client.request<JobView>(
      "POST",
      jobPath(id, "reschedule"),
      { schedule },
    );
    return show(ctx, job, () => jobLine(job, ctx.now()));
  },
};

const schedule: Command = {
  name: "schedule",
  args: "EXPR [--timezone ZONE] [--count N]",
  summary: "check a schedule expression and preview its next times",
  flags: [
    "--timezone ZONE   IANA zone",
    "--count N         how many next times (default 5)",
  ],
  examples: [
    'deno task jobs schedule "0 30 2 * * 1-5" --timezone Europe/Berlin --count 3',
  ],
  options: { timezone: { type: "string" }, count: { type: "string" } },
  positionals: [1, 1],
  async run(ctx, { values: v, positionals: [expr] }) {
    const q = queryString({
      expr,
      timezone: str(v, "timezone"),
      count: int(v, "count"),
    });
    const p = await get<Preview>(ctx, `/jobs/schedule${q}`);
    return show(ctx, p, () => previewDetail(p));
  },
};

const watch: Command = {
  name: "watch",
  args: "[ID]",
  summary: "print events live, one line each, until interrupted (Ctrl-C)",
  flags: [
    "ID        only events about this job",
    "--json    one JSON object per line: { event, id, data }",
    "Reconnects after a drop with Last-Event-ID, so no event is missed; connection news goes to stderr.",
  ],
  examples: [
    "deno task jobs watch nightly-report",
    "deno task jobs watch --json",
  ],
  options: {},
  positionals: [0, 1],
  async run(ctx, { positionals: [id] }) {
    if (id !== undefined) await get<JobView>(ctx, jobPath(id));
    await followEvents(ctx.client, {
      signal: ctx.signal,
      onStatus: (s) => ctx.err(`jobs watch: ${s}`),
      onEvent(e) {
        const data = parseData(e.data);
        if (id !== undefined && eventJobId(e.event, data) !== id) return;
        ctx.out(
          ctx.json
            ? JSON.stringify({
              event: e.event,
              id: e.id === null ? null : Number(e.id),
              data,
            })
            : eventLine(e, ctx.now()),
        );
      },
    });
    return EXIT.ok;
  },
};

/** Every command, in the order `jobs help` lists them. */
export const COMMANDS: Command[] = [
  list,
  showCmd,
  add,
  edit,
  ...CONFIG_COMMANDS,
  transition("start", "start a job: schedule its runs"),
  transition(
    "stop",
    "stop a job (a one-time job that has not run is cancelled)",
  ),
  transition("pause", "pause a job's schedule"),
  transition("resume", "resume a paused job"),
  run,
  runs,
  bulk,
  cancel,
  pingCommand,
  concurrencyCommand,
  logsCommand,
  del,
  watch,
  stats,
  reschedule,
  schedule,
  versionCommand,
  completionCommand(() => COMMANDS, COMMON_OPTIONS),
];
