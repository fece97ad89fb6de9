/**
 * The cluster under faults, the short version (part of `deno task test`;
 * `deno task test:cluster` runs the long one, soak.ts): a PostgreSQL of
 * this file's own, 3 jobpro node processes on one schema (each through a
 * TCP proxy), 80 every-second jobs whose http action POSTs to the
 * harness's target, and each kind of fault once, in turn, on the same
 * cluster (scenario.ts):
 *
 * 1. SIGKILL of a node ~30 ms after a tick (right after a burst of its
 *    executions): its jobs' next ticks fire on the survivors, failover
 *    lateness p99 <= 1.5 s (the default lease; the issue's target).
 * 2. SIGSTOP of a node for 3 s (past its 1.5 s lease), then SIGCONT: it
 *    starts nothing under its old epoch, and rejoins.
 * 3. A 3 s partition between a node and PostgreSQL (blackhole, existing
 *    connections stalled), then heal.
 * 4. A PostgreSQL restart.
 * 5. A rolling SIGTERM restart of every node: no run interrupted, no tick
 *    later than a period.
 * 6. A fourth node joins (it executes some jobs), then leaves.
 *
 * After each: 0 executions doubled (the target's log), 0 ticks missed
 * (each ran once, or is recorded interrupted, or was skipped by the
 * catch-up policy while PostgreSQL was down), nothing left running, every
 * execution's run recorded. A step that fails prints the figures and the
 * node logs of its window.
 */
import { assert } from "@std/assert";
import {
  type FaultKind,
  type FaultResult,
  KIND_NAMES,
  KINDS,
  Scenario,
} from "./scenario.ts";
import { stats, summary } from "./harness.ts";

const JOBS = Number(Deno.env.get("JOBPRO_CLUSTER_JOBS") ?? 80);
/** A subset of the faults, to look at one (e.g. JOBPRO_CLUSTER_KINDS=sigstop,partition). */
const ONLY = Deno.env.get("JOBPRO_CLUSTER_KINDS")?.split(",");

function failure(r: FaultResult): string {
  return `${r.label}: ${r.problems.join("\n")}\n${summary(r.report)}\nfacts: ${
    JSON.stringify(r.facts)
  }\nnode logs of the window:\n${r.logs}`;
}

Deno.test({
  name:
    `cluster: 3 nodes, ${JOBS} every-second jobs, each kind of fault in turn`,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const began = Date.now();
    const s = await Scenario.start({
      jobs: JOBS,
      stopMs: 3000,
      partitionMs: 3000,
      // Its runs take a tenth of a period: none may overlap the next tick.
      strict: true,
      log: (l) => console.log(l),
    });
    const results: FaultResult[] = [];
    try {
      const kinds = (["steady", ...KINDS] as FaultKind[]).filter((k) =>
        !ONLY || ONLY.includes(k)
      );
      for (const kind of kinds) {
        await t.step(`${kind}: ${KIND_NAMES[kind]}`, async () => {
          const r = await s.run(kind);
          results.push(r);
          assert(r.report.expected > 0, "the window held ticks");
          assert(r.report.executed > 0, "ticks ran");
          if (kind === "sigkill") {
            const f = stats(r.failover);
            assert(f.count > 0, "failover measured");
            assert(
              f.p99 <= 1500,
              `failover p99 ${f.p99} ms > 1,500 ms\n${failure(r)}`,
            );
          }
          assert(r.problems.length === 0, failure(r));
        });
      }
    } finally {
      await s.close();
      console.log(
        `the whole file: ${Math.round((Date.now() - began) / 1000)} s`,
      );
    }
  },
});
