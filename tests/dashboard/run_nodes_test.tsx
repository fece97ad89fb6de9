/**
 * Which node ran each run, without a DOM: the run view names the node of a
 * cluster's runs only, the runs tables get a Node column only when some run
 * names one, and runs that arrive live (SSE) keep it through the dashboard's
 * event rules. The table is rendered to a string, as the server renders it.
 */
import { assert, assertEquals } from "@std/assert";
import { renderToString } from "preact-render-to-string";
import type { RunView } from "@/lib/jobpro/runtime.ts";
import { newRun, runView as viewOfRun } from "@/lib/jobpro/run.ts";
import { nodeLabel, showsNode } from "@/lib/dashboard/run_nodes.ts";
import {
  readBatch,
  type WireEvent,
  withRun,
  withRunsInView,
} from "@/lib/dashboard/job_events.ts";
import { RunsTable } from "@/components/RunsTable.tsx";
import { runView } from "./fixtures.ts";

const onNode = (r: RunView, node: string): RunView => ({ ...r, node });
const ran = (r: RunView): WireEvent => ({
  type: r.status === "running" ? "run-started" : "run-finished",
  data: JSON.stringify(r),
});
const all = { job: () => true, run: () => true };
const table = (runs: RunView[]) =>
  renderToString(<RunsTable runs={runs} caption="Runs" />);

Deno.test("the run view names the node only when a node of a cluster ran it", () => {
  const run = newRun({
    id: 1,
    jobId: "a",
    trigger: "manual",
    attempt: 1,
    scheduledFor: null,
    now: 0,
  });
  assertEquals(viewOfRun({ ...run, node: "node-a" }).node, "node-a");
  // A single node's run (absent) and an unfenced PostgreSQL one (null): no key at all.
  assert(!("node" in viewOfRun(run)));
  assert(!("node" in viewOfRun({ ...run, node: null })));
  assertEquals(
    Object.keys(viewOfRun({ ...run, node: "n" }, { withOutput: true })),
    [
      "id",
      "jobId",
      "trigger",
      "attempt",
      "scheduledFor",
      "startedAt",
      "endedAt",
      "durationMs",
      "status",
      "message",
      "error",
      "parentJobId",
      "parentRunId",
      "node",
      "output",
      "outputOffset",
    ],
  );
});

Deno.test("a Node column only when some run in the list names its node", () => {
  assertEquals(showsNode([]), false);
  assertEquals(showsNode([runView(1, "a"), runView(2, "a")]), false);
  assertEquals(
    showsNode([runView(1, "a"), onNode(runView(2, "a"), "b")]),
    true,
  );
  assertEquals(showsNode([onNode(runView(1, "a"), "")]), false);
  assertEquals(nodeLabel(onNode(runView(1, "a"), "node-b")), "node-b");
  assertEquals(nodeLabel(runView(1, "a")), "–");
});

Deno.test("the runs table renders the Node column only for runs that name a node", () => {
  const single = table([runView(1, "a", "complete")]);
  assert(!single.includes(">Node<"), single);
  assert(!single.includes('data-label="Node"'));
  const cluster = table([
    onNode(runView(2, "a", "complete"), "node-b"),
    runView(1, "a", "complete"),
  ]);
  assert(cluster.includes('<th scope="col">Node</th>'), cluster);
  const cells = [...cluster.matchAll(/data-label="Node"[^>]*>([^<]*)</g)].map(
    (m) => m[1],
  );
  assertEquals(cells, ["node-b", "–"]);
});

Deno.test("runs that arrive live keep their node: a new row, a replaced row, a history row", () => {
  const shown = [onNode(runView(1, "a", "complete"), "node-a")];
  const batch = readBatch([
    ran(onNode(runView(2, "a"), "node-b")),
    ran(onNode(runView(2, "a", "complete"), "node-b")),
    ran(onNode(runView(3, "a"), "node-a")),
  ], all);
  assertEquals(batch.runs.map((r) => r.node), ["node-b", "node-b", "node-a"]);
  const { runs, added } = withRunsInView(
    shown,
    { status: "", offset: 0, limit: 20 },
    batch.runs,
  );
  assertEquals(added, 2);
  assertEquals(runs.map((r) => [r.id, r.status, r.node]), [
    [3, "running", "node-a"],
    [2, "complete", "node-b"],
    [1, "complete", "node-a"],
  ]);
  assert(showsNode(runs));
  // A job row's history (the jobs page) takes them the same way.
  let h = { runs: [] as RunView[], total: 0 };
  for (const r of batch.runs) h = withRun(h, r, 10);
  assertEquals(h.runs.map((r) => [r.id, r.node]), [[3, "node-a"], [
    2,
    "node-b",
  ]]);
  // A single node's live runs name none: the table keeps its columns.
  const plain = readBatch([ran(runView(4, "a"))], all).runs;
  assertEquals(
    showsNode(
      withRunsInView([], { status: "", offset: 0, limit: 20 }, plain).runs,
    ),
    false,
  );
});
