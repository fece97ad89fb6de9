import { type Context, page } from "fresh";
import { prefersHtml } from "@/lib/web/negotiate.ts";
import { Head } from "fresh/runtime";
import { json, readJson, shown } from "@/lib/web/api.ts";
import { define, type State } from "@/utils.ts";
import { type JobView, previewSchedule } from "@/lib/jobpro/mod.ts";
import JobDetail from "@/islands/JobDetail.tsx";
import { LastDelivery } from "@/components/LastDelivery.tsx";
import { type PingInfo, PingUrls } from "@/components/PingUrls.tsx";
import { REDACTED } from "@/lib/jobpro/secrets.ts";
import { readRunsView } from "@/lib/client/query.ts";
import { toPoint } from "@/lib/dashboard/run_points.ts";

/**
 * GET: the job's page for a browser, the job as JSON otherwise.
 * PATCH: edits the job's definition and re-plans its next run.
 * DELETE: deletes the job and its history → 204.
 */
export const handler = define.handlers({
  async GET(ctx) {
    const manager = ctx.state.manager;
    const job = shown(ctx.state, manager.get(ctx.params.id));
    if (!prefersHtml(ctx.req)) return json(job);
    return await jobPage(ctx, job);
  },
  async PATCH(ctx) {
    const body = await readJson(ctx.req, ctx.state.config.maxBodyBytes);
    const job = await ctx.state.manager.update(ctx.params.id, body);
    return json(shown(ctx.state, job));
  },
  async DELETE(ctx) {
    await ctx.state.manager.delete(ctx.params.id);
    return new Response(null, { status: 204 });
  },
});

/** Runs per page of the job page's history. */
const RUNS_PAGE = 20;

/**
 * The job page's first render: the runs view in the URL (`status`, `offset`,
 * `run`; unknown values fall back to defaults), stats, the chart's last 60
 * finished runs, the schedule's next 5 times and the selected run's output.
 */
async function jobPage(ctx: Context<State>, job: JobView) {
  const manager = ctx.state.manager;
  const view = readRunsView(ctx.url.searchParams, RUNS_PAGE);
  const [list, stats, recent, run, deliveries] = await Promise.all([
    manager.runs(job.id, {
      status: view.status || undefined,
      offset: view.offset,
      limit: RUNS_PAGE,
    }),
    manager.stats(job.id),
    manager.runs(job.id, { limit: 60 }),
    view.run === null ? null : manager.run(job.id, view.run).catch(() => null),
    manager.deliveries(job.id, 1).catch(() => []),
  ]);
  if (run === null) view.run = null;
  const pings = await pingInfo(ctx, job);
  return page({
    job,
    runs: list.runs,
    total: list.total,
    view,
    stats,
    chart: recent.runs.filter((r) => r.status !== "running").reverse().map(
      toPoint,
    ),
    next: upcoming(job),
    run,
    allowShell: ctx.state.config.allowShell,
    delivery: deliveries[0] ?? null,
    upstream: manager.chainedFrom(job.id),
    pings,
  });
}

/** A heartbeat job's ping URLs, grace and last ping; null for other jobs. */
async function pingInfo(
  ctx: Context<State>,
  job: JobView,
): Promise<PingInfo | null> {
  if (job.action.type !== "heartbeat") return null;
  const key = job.action.pingKey;
  const keyShown = key !== undefined && key !== REDACTED;
  const path = `${ctx.url.origin}/jobs/${encodeURIComponent(job.id)}/ping`;
  return {
    url: `${path}?key=${keyShown ? key : "PING_KEY"}`,
    keyShown,
    graceMs: job.action.graceMs,
    lastPing: await ctx.state.manager.lastPing(job.id).catch(() => null),
    schedule: job.schedule,
  };
}

/** The schedule's next five times; a one-time job's one time. */
function upcoming(job: JobView): string[] {
  if (job.type !== "periodic") return job.nextRunAt ? [job.nextRunAt] : [];
  try {
    return previewSchedule(job.schedule, {
      timezone: job.timezone ?? undefined,
      count: 5,
    }).next;
  } catch {
    return [];
  }
}

export default define.page<typeof handler>(function JobPage({ data }) {
  const { delivery, pings, ...detail } = data;
  return (
    <main class="page job-page" id="main">
      <Head>
        <title>{`${data.job.name} · jobpro`}</title>
      </Head>
      <JobDetail {...detail} />
      {pings && <PingUrls info={pings} />}
      <LastDelivery delivery={delivery} rules={data.job.notify?.length ?? 0} />
    </main>
  );
});
