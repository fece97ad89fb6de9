/**
 * Which node ran each run, as the runs tables show it: on a cluster (several
 * nodes on one PostgreSQL) every run the API lists names its node; on a
 * single node none does, and the tables keep their columns as they were.
 * Pure data, for the server render and the islands alike.
 *
 * @example
 * ```ts
 * const column = showsNode(runs); // a "Node" column only when some run names one
 * nodeLabel(runs[0]); // "node-a", or "–"
 * ```
 * @module
 */
import type { RunView } from "@/lib/jobpro/runtime.ts";

/**
 * Whether a list of runs gets a Node column: when at least one of them
 * names the node that ran it.
 *
 * @example
 * ```ts
 * showsNode([{ node: "a" }, {}]); // true
 * showsNode([{}]); // false
 * ```
 */
export function showsNode(runs: readonly Pick<RunView, "node">[]): boolean {
  return runs.some((r) => typeof r.node === "string" && r.node !== "");
}

/**
 * A run's Node cell: the node's name, or a dash for a run no node of a
 * cluster recorded (one from before the store was shared).
 *
 * @example
 * ```ts
 * nodeLabel({ node: "node-a" }); // "node-a"
 * nodeLabel({}); // "–"
 * ```
 */
export function nodeLabel(run: Pick<RunView, "node">): string {
  return typeof run.node === "string" && run.node !== "" ? run.node : "–";
}
