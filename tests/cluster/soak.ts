/**
 * The cluster under faults, the long version: `deno task test:cluster`
 * runs this file, which is not part of `deno task test` (the short
 * version, cluster_test.ts, is). Same scenario (scenario.ts): a
 * PostgreSQL of its own, 3 node processes, 600 every-second jobs, and 20
 * rounds of the six faults (SIGKILL, SIGSTOP, a 6 s partition, a
 * PostgreSQL restart — immediate and 3 s down in turn —, a rolling SIGTERM
 * restart, a node joining): 20 of each kind. Each fault is a step (a
 * failing one is named and shows its window's figures and node logs); the
 * figures of every kind are written into RELIABILITY.md between the
 * `cluster-figures` markers, whatever the outcome, and into
 * test-results/cluster-soak.json with every fault's own.
 *
 * Scale knobs: JOBPRO_CLUSTER_ROUNDS (20), JOBPRO_CLUSTER_JOBS (600),
 * JOBPRO_CLUSTER_PARTITION_MS (6000), JOBPRO_CLUSTER_KINDS (all, comma
 * separated), JOBPRO_CLUSTER_WRITE=0 (leave RELIABILITY.md alone).
 */
import { assert } from "@std/assert";
import {
  type FaultKind,
  type FaultResult,
  figures,
  KIND_NAMES,
  type KindFigures,
  KINDS,
  Scenario,
} from "./scenario.ts";
import { stats, summary } from "./harness.ts";

const env = (name: string, fallback: number) =>
  Number(Deno.env.get(name) ?? fallback);
const ROUNDS = env("JOBPRO_CLUSTER_ROUNDS", 20);
const JOBS = env("JOBPRO_CLUSTER_JOBS", 600);
const PARTITION_MS = env("JOBPRO_CLUSTER_PARTITION_MS", 6000);
const ONLY = Deno.env.get("JOBPRO_CLUSTER_KINDS")?.split(",");
const WRITE = Deno.env.get("JOBPRO_CLUSTER_WRITE") !== "0";
const ROOT = new URL("../../", import.meta.url).pathname;

const BEGIN = "<!-- cluster-figures:begin -->";
const END = "<!-- cluster-figures:end -->";

const ms = (v: number) => Number.isNaN(v) ? "–" : `${Math.round(v)}`;

/** The figures as a markdown table and notes. */
export function markdown(
  figs: KindFigures[],
  results: Pick<FaultResult, "label" | "problems">[],
  run: { began: number; wallMs: number; jobs: number; rounds: number },
): string {
  const rows = figs.filter((f) => f.faults > 0).map((f) =>
    `| ${
      KIND_NAMES[f.kind]
    } | ${f.faults} | ${f.held} | ${f.doubled} | ${f.missed} | ${f.interrupted} | ${f.excused} | ${f.overlapSkips} | ${f.leftRunning} | ${
      f.failover.count
        ? `${ms(f.failover.p50)} / ${ms(f.failover.p99)} / ${
          ms(f.failover.max)
        }`
        : "–"
    } | ${ms(f.lateness.p50)} / ${ms(f.lateness.p99)} | ${f.latePastPeriod} | ${
      f.expected.toLocaleString("en")
    } |`
  );
  const kill = figs.find((f) => f.kind === "sigkill")!;
  const broke = results.filter((r) => r.problems.length);
  const date = new Date(run.began).toISOString().slice(0, 16).replace("T", " ");
  return [
    `Run of ${date} UTC: ${run.rounds} round(s) of every kind, ${run.jobs} every-second jobs, 3 nodes (a fourth for the joins), default lease (1,500 ms), ${
      Math.round(run.wallMs / 60_000)
    } min. ${broke.length} of ${results.length} faults broke an invariant.`,
    "",
    "| fault | n | held | doubled | missed | interrupted | excused | overlap-skipped | left running | failover p50 / p99 / max (ms) | lateness p50 / p99 (ms) | > 1 s late | ticks checked |",
    "| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |",
    ...rows,
    "",
    `SIGKILL failover (the dead node's jobs' next ticks, on the survivors): p99 ${
      ms(kill.failover.p99)
    } ms over ${kill.failover.count} ticks — target p99 <= 1,500 ms: ${
      kill.failover.count && kill.failover.p99 <= 1500 ? "met" : "NOT met"
    }.`,
    "",
    ...(broke.length
      ? [
        `What broke, by the first problem each broken fault reported: ${
          [...count(broke.map((r) => kindOf(r.problems[0])))]
            .map(([k, n]) => `${k} ${n}`).join(", ")
        }. The first ${Math.min(12, broke.length)}:`,
        "",
        ...broke.slice(0, 12).map((r) =>
          `- ${r.label}: ${r.problems[0].split("\n")[0].slice(0, 240)}`
        ),
      ]
      : []),
  ].join("\n");
}

/** A problem's kind, for counting. */
function kindOf(problem: string): string {
  const m = problem.match(
    /tick\(s\) missed|left running|executed twice|skipped by the overlap policy|never ran their next tick|no hand-over|did not rejoin|old epoch|ran nothing|interrupted|late|exit/,
  );
  return m ? m[0].replace("tick(s) ", "") : "other";
}

function count<T>(xs: T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

/** Replaces the figures between the markers (or appends the section). */
async function writeFigures(text: string) {
  const path = `${ROOT}RELIABILITY.md`;
  const doc = await Deno.readTextFile(path);
  const block = `${BEGIN}\n${text}\n${END}`;
  const at = doc.indexOf(BEGIN), end = doc.indexOf(END);
  const next = at >= 0 && end > at
    ? doc.slice(0, at) + block + doc.slice(end + END.length)
    : `${doc.trimEnd()}\n\n## Cluster\n\n${block}\n`;
  await Deno.writeTextFile(path, next);
}

Deno.test({
  name:
    `cluster soak: ${ROUNDS} rounds of every fault, 3 nodes, ${JOBS} every-second jobs`,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const began = Date.now();
    const kinds = KINDS.filter((k) => !ONLY || ONLY.includes(k));
    const s = await Scenario.start({
      jobs: JOBS,
      stopMs: 3000,
      partitionMs: PARTITION_MS,
      pgDownMs: [0, 3000],
      strike: "alternate",
      // At this load a run's finish may be written seconds after its tick.
      settleMs: 15_000,
      logRuns: false,
      log: (l) =>
        console.log(`[${new Date().toISOString().slice(11, 19)}] ${l}`),
    });
    const results: FaultResult[] = [];
    try {
      // The figures at rest first, to compare the faults' with.
      await t.step("steady state, no fault", async () => {
        const r = await s.run("steady");
        results.push(r);
        assert(r.problems.length === 0, r.problems.join("\n"));
      });
      for (let round = 1; round <= ROUNDS; round++) {
        for (const kind of kinds) {
          await t.step(`round ${round}: ${KIND_NAMES[kind]}`, async () => {
            const r = await s.run(kind as FaultKind);
            results.push(r);
            assert(
              r.problems.length === 0,
              `${r.label}: ${r.problems.join("\n")}\n${summary(r.report)}\n${
                JSON.stringify(r.facts)
              }\n${r.logs}`,
            );
          });
        }
      }
    } finally {
      await s.close().catch(() => {});
      const figs = figures(results);
      const text = markdown(figs, results, {
        began,
        wallMs: Date.now() - began,
        jobs: JOBS,
        rounds: ROUNDS,
      });
      console.log(text);
      await Deno.mkdir(`${ROOT}test-results`, { recursive: true });
      await Deno.writeTextFile(
        `${ROOT}test-results/cluster-soak.json`,
        JSON.stringify(
          {
            began,
            jobs: JOBS,
            rounds: ROUNDS,
            figures: figs,
            faults: results.map((r) => ({
              kind: r.kind,
              label: r.label,
              from: r.from,
              to: r.to,
              facts: r.facts,
              problems: r.problems,
              expected: r.report.expected,
              executed: r.report.executed,
              doubled: r.report.doubled.length,
              missed: r.report.missed.length,
              interrupted: r.report.interrupted,
              excused: r.report.excused,
              lateness: r.report.lateness,
              failover: stats(r.failover),
              // What the nodes logged in a window that broke, to find why.
              logs: r.problems.length ? r.logs : undefined,
            })),
          },
          null,
          1,
        ),
      );
      if (WRITE && results.length) await writeFigures(text);
    }
    const figs = figures(results);
    const kill = figs.find((f) => f.kind === "sigkill")!;
    if (kill.faults) {
      assert(
        kill.failover.p99 <= 1500,
        `SIGKILL failover p99 ${kill.failover.p99} ms > 1,500 ms`,
      );
    }
  },
});
