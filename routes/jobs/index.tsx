import { type Context, page } from "fresh";
import { prefersHtml } from "@/lib/web/negotiate.ts";
import { Head } from "fresh/runtime";
import { jobQuery, json, jsonList, readJson, shown } from "@/lib/web/api.ts";
import { define, type State } from "@/utils.ts";
import type { JobStatus, JobType } from "@/lib/jobpro/mod.ts";
import JobsTable from "@/islands/JobsTable.tsx";
import { parseListQuery } from "@/components/JobFilters.tsx";
import { type RunPoint, toPoint } from "@/lib/dashboard/run_points.ts";

/**
 * GET: the dashboard for a browser, the job list `{ jobs, total }` for JSON.
 * POST: creates a job from JSON → 201 with the job and a Location header.
 */
export const handler = define.handlers({
  GET(ctx) {
    if (prefersHtml(ctx.req)) return dashboard(ctx);
    const query = jobQuery(ctx.url);
    const list = ctx.state.manager.list(query);
    return jsonList("jobs", list.jobs.map((j) => shown(ctx.state, j)), {
      total: list.total,
      offset: query.offset,
      limit: query.limit,
    });
  },
  async POST(ctx) {
    const body = await readJson(ctx.req, ctx.state.config.maxBodyBytes);
    const job = shown(ctx.state, await ctx.state.manager.create(body));
    return json(job, 201, { location: `/jobs/${encodeURIComponent(job.id)}` });
  },
});

/**
 * The dashboard's first render: the view in the URL (unknown values fall
 * back to defaults, never to an error page) and each shown job's last 20
 * finished runs for its sparkline.
 */
async function dashboard(ctx: Context<State>) {
  const manager = ctx.state.manager;
  const query = parseListQuery(ctx.url.searchParams);
  const { jobs: listed, total } = manager.list({
    status: (query.status || undefined) as JobStatus | undefined,
    type: (query.type || undefined) as JobType | undefined,
    q: query.q || undefined,
    tags: query.tag,
    sort: query.sort,
    order: query.order,
    offset: query.offset,
    limit: query.limit,
  });
  const jobs = listed.map((j) => shown(ctx.state, j));
  const recent: Record<string, RunPoint[]> = {};
  await Promise.all(jobs.map(async (job) => {
    const { runs } = job.runCount
      ? await manager.runs(job.id, { limit: 20 })
      : { runs: [] };
    recent[job.id] = runs.filter((r) => r.status !== "running").reverse()
      .map(toPoint);
  }));
  return page({
    jobs,
    total,
    query,
    recent,
    allowShell: ctx.state.config.allowShell,
    since: new Date().toISOString(),
  });
}

export default define.page<typeof handler>(function JobsPage({ data }) {
  return (
    <main class="page" id="main">
      <Head>
        <title>Jobs · jobpro</title>
      </Head>
      <JobsTable {...data} />
    </main>
  );
});
